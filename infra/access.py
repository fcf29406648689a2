"""Who may do what: the broker's role, the target roles it mints from, the agent's roles.

The broker's role and the target roles are the sandbox's own definitions
(``agent_zero.sandbox.demo_bank.roles``) with the account and region as CloudFormation
tokens, so what the gateway enforces locally is what IAM enforces here. The broker's role
may assume only the target roles; the agent's roles may assume none: the agent reaches
AWS only through the broker's REST API and the credentials it answers with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from agent_zero.sandbox.demo_bank import (
    BROKER_ROLE_NAME,
    REVOCATION_POLICY_NAME,
    TARGET_ACCESS_POLICY_NAME,
    DemoRole,
    PolicyDocument,
)
from agent_zero.sandbox.demo_bank.models import JsonValue
from agent_zero.sandbox.demo_bank.roles import (
    ROLE_PATH,
    broker_role,
    customer_data_role,
    directory_role,
    operations_role,
)
from agent_zero.sandbox.demo_bank.tables import demo_tables

LAMBDA = iam.ServicePrincipal("lambda.amazonaws.com")
AGENT_ROLE_NAME = "agent-zero-agent"
AGENT_SOCKET_ROLE_NAME = "agent-zero-agent-socket"
BROKER_INLINE_POLICY = "agent-zero-broker"  # the sandbox's name for the minting policy


def target_role_definitions(*, account_id: str, region: str) -> tuple[DemoRole, ...]:
    """The three target roles, over the demo bank's tables, as the sandbox defines them."""
    tables = demo_tables()
    customer = [t.arn(account_id=account_id, region=region) for t in tables if t.customer_owned]
    operational: list[str] = []
    for table in tables:
        if not table.customer_owned:
            operational.append(table.arn(account_id=account_id, region=region))
            operational += [
                table.index_arn(i, account_id=account_id, region=region) for i in table.indexes
            ]
    return (
        customer_data_role(account_id, customer),
        operations_role(account_id, operational),
        directory_role(account_id, region),
    )


def _document(policy: PolicyDocument) -> iam.PolicyDocument:
    return iam.PolicyDocument.from_json(policy)


def _within_pool(policy: PolicyDocument, user_pool_arn: str) -> PolicyDocument:
    """The policy with its grants on every user pool narrowed to ``user_pool_arn``."""
    narrowed: list[JsonValue] = []
    for statement in cast(list[dict[str, JsonValue]], policy["Statement"]):
        resource = statement.get("Resource")
        every_pool = isinstance(resource, str) and resource.endswith(":userpool/*")
        if statement.get("Effect") == "Allow" and every_pool:
            statement = {**statement, "Resource": user_pool_arn}
        narrowed.append(statement)
    return {**policy, "Statement": narrowed}


class TargetRoles(Construct):
    """One broad role per resource class; every session is narrowed by its session policy.

    The revocation policy is its own ``AWS::IAM::RolePolicy``: the broker rewrites it at
    run time, and CloudFormation writes it again only if its template text changes.

    The broker may PutRolePolicy on these roles, and IAM cannot limit which policy it
    writes: each role's permissions boundary (its deployed access policy, which the broker
    cannot change) caps what any inline policy could later add. The boundary also names the
    stack's own user pool where the sandbox's definition reaches every pool in the region.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, broker: iam.Role, user_pool_arn: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.roles: dict[str, iam.CfnRole] = {}
        for role in target_role_definitions(account_id=cdk.Aws.ACCOUNT_ID, region=cdk.Aws.REGION):
            construct = "".join(p.title() for p in role.name.removeprefix("agent-zero-").split("-"))
            boundary = iam.CfnManagedPolicy(
                self,
                f"{construct}Boundary",
                managed_policy_name=f"{role.name}-boundary",
                path=role.path,
                description=f"The most {role.name} may ever do, whatever its inline policies say.",
                policy_document=_within_pool(
                    role.inline_policies[TARGET_ACCESS_POLICY_NAME], user_pool_arn
                ),
            )
            resource = iam.CfnRole(
                self,
                construct,
                role_name=role.name,
                path=role.path,
                description=role.description,
                max_session_duration=role.max_session_duration,
                assume_role_policy_document=role.trust_policy,
                permissions_boundary=boundary.ref,
                policies=[
                    iam.CfnRole.PolicyProperty(
                        policy_name=TARGET_ACCESS_POLICY_NAME,
                        policy_document=role.inline_policies[TARGET_ACCESS_POLICY_NAME],
                    )
                ],
            )
            # The trust policy names the broker's role by ARN, which IAM checks exists.
            resource.add_resource_dependency(
                cast(iam.CfnRole, broker.node.default_child), "the trust policy names it"
            )
            revocations = iam.CfnRolePolicy(
                self,
                f"{construct}Revocations",
                role_name=role.name,
                policy_name=REVOCATION_POLICY_NAME,
                policy_document=role.inline_policies[REVOCATION_POLICY_NAME],
            )
            revocations.add_resource_dependency(resource)
            self.roles[role.name] = resource

    def arns(self) -> list[str]:
        """The target roles' ARNs."""
        return [role.attr_arn for role in self.roles.values()]


def new_broker_role(scope: Construct) -> iam.Role:
    """The broker's role (web and broker API functions): mint target sessions, keep revocations."""
    sandbox = broker_role(cdk.Aws.ACCOUNT_ID)
    return iam.Role(
        scope,
        "BrokerRole",
        role_name=BROKER_ROLE_NAME,
        path=ROLE_PATH,
        description="Agent Zero broker: assumes target roles for approved requests only.",
        assumed_by=LAMBDA,
        max_session_duration=cdk.Duration.seconds(sandbox.max_session_duration),
        inline_policies={
            BROKER_INLINE_POLICY: _document(sandbox.inline_policies[BROKER_INLINE_POLICY])
        },
    )


def new_function_role(scope: Construct, construct_id: str, *, name: str, purpose: str) -> iam.Role:
    """A Lambda function's role with no permissions yet (statements are added per resource)."""
    return iam.Role(
        scope, construct_id, role_name=name, path=ROLE_PATH, description=purpose, assumed_by=LAMBDA
    )


def write_logs(role: iam.Role, log_groups: Iterable[logs.ILogGroup]) -> None:
    """Write to these log groups only (they exist: no logs:CreateLogGroup)."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{group.log_group_arn}" for group in log_groups],
        )
    )


def use_items(role: iam.Role, sid: str, *, actions: Sequence[str], arns: Sequence[str]) -> None:
    """DynamoDB item actions on exactly these tables and indexes."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=sid, actions=[f"dynamodb:{action}" for action in actions], resources=list(arns)
        )
    )


def read_secrets(role: iam.Role, secrets: Iterable[secretsmanager.ISecret]) -> None:
    """GetSecretValue on these secrets only."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadOwnSecrets",
            actions=["secretsmanager:GetSecretValue"],
            resources=[secret.secret_arn for secret in secrets],
        )
    )


def invoke_bedrock(role: iam.Role, model_id: str) -> None:
    """Converse with one Bedrock model (directly or through a cross-region inference profile)."""
    geo, _, base = model_id.partition(".")
    profile = geo in {"us", "eu", "apac", "jp", "au", "ca", "global"} and bool(base)
    if profile:
        resources = [
            f"arn:{cdk.Aws.PARTITION}:bedrock:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
            f":inference-profile/{model_id}",
            f"arn:{cdk.Aws.PARTITION}:bedrock:*::foundation-model/{base}",
        ]
    else:
        resources = [
            f"arn:{cdk.Aws.PARTITION}:bedrock:{cdk.Aws.REGION}::foundation-model/{model_id}"
        ]
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="InvokeConfiguredModel",
            actions=["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
            resources=resources,
        )
    )
