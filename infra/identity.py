"""The Cognito user pool people sign in to: staff and customers, created by an admin only.

Groups and the custom attribute come from the demo bank's pool definition, which is what
the sandbox seeds; the attribute is a trusted fact, so the app client reads it and never
writes it. Threat protection (Cognito's Plus plan) runs in audit mode unless the
``threatProtection`` context says ``enforced`` or ``off``.
"""

from __future__ import annotations

from typing import Literal

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from agent_zero.sandbox.demo_bank.people import demo_user_pool

ThreatProtection = Literal["audit", "enforced", "off"]
USER_POOL_NAME = "agent-zero-users"
_MODES = {
    "audit": cognito.StandardThreatProtectionMode.AUDIT_ONLY,
    "enforced": cognito.StandardThreatProtectionMode.FULL_FUNCTION,
}


class Identity(Construct):
    """The user pool, its groups and the app client of the web app, CLI and MCP server."""

    def __init__(
        self, scope: Construct, construct_id: str, *, threat_protection: ThreatProtection
    ) -> None:
        super().__init__(scope, construct_id)
        spec = demo_user_pool()
        protected = threat_protection in _MODES
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=USER_POOL_NAME,
            self_sign_up_enabled=False,
            # Usernames only: MintedCognito creates accounts whose username is an email.
            sign_in_aliases=cognito.SignInAliases(username=True),
            sign_in_case_sensitive=False,
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=False, mutable=True),
                fullname=cognito.StandardAttribute(required=False, mutable=True),
            ),
            custom_attributes={
                name: cognito.StringAttribute(min_len=1, max_len=64, mutable=True)
                for name in spec.custom_attributes
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=cdk.Duration.days(3),
            ),
            # Accounts are an admin's to create and to reset: no emailed recovery codes.
            account_recovery=cognito.AccountRecovery.NONE,
            mfa=cognito.Mfa.OFF,  # the web app's sign-in answers no MFA challenge yet
            feature_plan=cognito.FeaturePlan.PLUS if protected else cognito.FeaturePlan.ESSENTIALS,
            standard_threat_protection_mode=_MODES.get(threat_protection),
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for group in spec.groups:
            cognito.CfnUserPoolGroup(
                self,
                f"Group{group.name.title()}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=group.name,
                description=group.description,
                precedence=group.precedence,
            )
        custom = list(spec.custom_attributes)
        self.client = self.user_pool.add_client(
            "WebClient",
            user_pool_client_name=spec.client_name,
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),  # + refresh token
            disable_o_auth=True,  # no hosted UI: the web app, CLI and MCP sign in by password
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=cdk.Duration.hours(1),
            id_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.hours(12),
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True, fullname=True)
            .with_custom_attributes(*custom),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(
                email=True, fullname=True
            ),
        )
        self.group_names = tuple(group.name for group in spec.groups)
