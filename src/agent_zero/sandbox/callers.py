"""Who signed a request, and what AWS would let them do.

An access key belongs to the account's root, to an IAM user (moto's IAM), or to
an STS session the gateway minted. The caller carries every policy that applies
to it and the global condition keys AWS sets for it; ``authorize`` evaluates one
check with ``agent_zero.iam``, policies re-read from moto on every request so an
``iam:PutRolePolicy`` (a revocation) takes effect on the next call.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from agent_zero import iam
from agent_zero.iam import EvaluationResult, Policy, PolicyKind
from agent_zero.sandbox.aws_errors import access_denied, authentication_failed
from agent_zero.sandbox.dynamodb_requests import Check
from agent_zero.sandbox.moto_host import MotoHost
from agent_zero.sandbox.sessions import GatewayState, RoleSession
from agent_zero.sandbox.sigv4 import SignedIdentity

ContextValues = dict[str, str | list[str]]


class CallerKind(StrEnum):
    """The kinds of signer the sandbox knows."""

    ROOT = "root"
    USER = "user"
    SESSION = "session"


@dataclass(frozen=True, slots=True)
class Caller:
    """A verified signer with the policies and condition keys AWS would apply."""

    kind: CallerKind
    arn: str
    user_id: str
    account_id: str
    identity_policies: tuple[Policy, ...]
    boundary: Policy | None = None
    session: RoleSession | None = None
    context: ContextValues = field(default_factory=dict)

    @property
    def session_policy(self) -> Policy | None:
        """The session's inline policy, if it was minted with one."""
        if self.session is None or self.session.session_policy is None:
            return None
        return parsed(self.session.session_policy, PolicyKind.SESSION)


@lru_cache(maxsize=4096)
def parsed(document: str, kind: PolicyKind) -> Policy:
    """Parse a policy once per distinct text (policies are immutable)."""
    return iam.parse_policy(document, kind=kind)


def _parsed_all(documents: Sequence[str]) -> tuple[Policy, ...]:
    return tuple(parsed(document, PolicyKind.IDENTITY) for document in documents)


def secret_for(access_key_id: str, *, state: GatewayState, moto: MotoHost) -> str | None:
    """The secret that must have signed a request from this key, if the key exists."""
    if hmac.compare_digest(access_key_id, state.root_access_key_id):
        return state.root_secret_access_key
    session = state.session(access_key_id)
    if session is not None:
        return session.secret_access_key
    key = moto.access_key(access_key_id)
    return key.secret_access_key if key is not None and key.active else None


def resolve_caller(
    identity: SignedIdentity, *, state: GatewayState, moto: MotoHost, service: str, now: datetime
) -> Caller:
    """The caller behind a verified signature; refuses bad or expired session tokens."""
    account = state.account_id
    token = identity.security_token
    if identity.access_key_id == state.root_access_key_id:
        if token:
            raise authentication_failed(service, "invalid_token")
        return Caller(CallerKind.ROOT, f"arn:aws:iam::{account}:root", account, account, ())
    session = state.session(identity.access_key_id)
    if session is not None:
        if not token or not hmac.compare_digest(token, session.session_token):
            raise authentication_failed(service, "invalid_token")
        if now >= session.expires_at:
            raise authentication_failed(service, "expired_token")
        return _session_caller(session, moto)
    if token:
        raise authentication_failed(service, "invalid_token")
    key = moto.access_key(identity.access_key_id)
    user = moto.user(key.user_name) if key is not None and key.active else None
    if user is None:
        raise authentication_failed(service, "unknown_key")
    context: ContextValues = {
        "aws:username": user.name,
        "aws:userid": user.user_id,
        "aws:PrincipalArn": user.arn,
        "aws:PrincipalAccount": account,
        "aws:PrincipalType": "User",
        **{f"aws:PrincipalTag/{k}": v for k, v in user.tags.items()},
    }
    return Caller(
        CallerKind.USER,
        user.arn,
        user.user_id,
        account,
        _parsed_all(user.policies),
        parsed(user.boundary, PolicyKind.PERMISSIONS_BOUNDARY) if user.boundary else None,
        context=context,
    )


def _session_caller(session: RoleSession, moto: MotoHost) -> Caller:
    role = moto.role(session.role_name)
    if role is not None and role.role_id != session.role_id:
        role = None  # a new role with the old name is not the role this session assumed
    # A deleted role leaves its sessions with no policy at all: everything is denied.
    policies = _parsed_all(role.policies) if role is not None else ()
    boundary = (
        parsed(role.boundary, PolicyKind.PERMISSIONS_BOUNDARY)
        if role is not None and role.boundary
        else None
    )
    tags = {**(role.tags if role is not None else {}), **session.tags}
    context: ContextValues = {
        "aws:userid": session.user_id,
        "aws:PrincipalArn": session.role_arn,
        "aws:PrincipalAccount": session.account_id,
        "aws:PrincipalType": "AssumedRole",
        "aws:TokenIssueTime": _iso(session.issued_at),
        "aws:RoleSessionName": session.session_name,
        **{f"aws:PrincipalTag/{k}": v for k, v in tags.items()},
    }
    if session.source_identity:
        context["aws:SourceIdentity"] = session.source_identity
    return Caller(
        CallerKind.SESSION,
        session.arn,
        session.user_id,
        session.account_id,
        policies,
        boundary,
        session,
        context,
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def request_context(caller: Caller, *, region: str, source_ip: str, now: datetime) -> ContextValues:
    """The global condition keys of one request by ``caller``."""
    return {
        **caller.context,
        "aws:CurrentTime": _iso(now),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SecureTransport": "false",
        "aws:SourceIp": source_ip,
        "aws:RequestedRegion": region,
    }


def authorize(
    caller: Caller,
    check: Check,
    *,
    base_context: ContextValues,
    resource_policy: Policy | None = None,
    resource_policy_required: bool = False,
) -> EvaluationResult:
    """Evaluate one check as AWS would for this caller."""
    return iam.evaluate(
        action=check.action,
        resource=check.resource,
        principal=caller.arn,
        identity_policies=caller.identity_policies,
        session_policy=caller.session_policy,
        permissions_boundary=caller.boundary,
        resource_policy=resource_policy,
        resource_policy_required=resource_policy_required,
        context={**base_context, **check.context},
    )


def require_allowed(
    caller: Caller,
    check: Check,
    *,
    service: str,
    base_context: ContextValues,
    resource_policy: Policy | None = None,
    resource_policy_required: bool = False,
) -> None:
    """Raise AWS's AccessDenied unless the check is allowed."""
    result = authorize(
        caller,
        check,
        base_context=base_context,
        resource_policy=resource_policy,
        resource_policy_required=resource_policy_required,
    )
    if not result.allowed:
        raise access_denied(
            service,
            caller_arn=caller.arn,
            action=check.action,
            resource=check.resource,
            result=result,
        )
