"""Administration: reading and changing principals and policies, and reading the audit log.

Admins read freely. Nobody, admins included, holds standing write access: a
write needs an active broker-internal grant (the policy store or the principal
directory) that the admin requested, a person other than the admin approved,
and that has not expired or been revoked. The admin API checks that grant
itself; no STS credentials are involved.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from agent_zero.broker.access import Broker
from agent_zero.broker.approvals import APPROVER_GROUP
from agent_zero.domain.audit import AuditEvent, AuditRecord, verify_chain
from agent_zero.domain.errors import InvalidInputError, PermissionDeniedError
from agent_zero.domain.policies import MAX_POLICY_TEXT, PrincipalPolicy
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.requests import RequestRecord, RequestState

POLICY_STORE = "policy-store"
PRINCIPAL_DIRECTORY = "principal-directory"
WRITE_POLICY = "broker:WritePolicy"
WRITE_PRINCIPAL = "broker:WritePrincipal"


def require_admin(broker: Broker, actor_id: str) -> Principal:
    """The actor, if an enabled admin; PermissionDeniedError otherwise."""
    actor = broker.directory.get(actor_id)
    if (
        actor is None
        or not actor.enabled
        or APPROVER_GROUP not in actor.groups
        or actor.kind is not PrincipalKind.HUMAN
    ):
        raise PermissionDeniedError("administration is for enabled people in the admins group")
    return actor


def active_grant(
    broker: Broker,
    actor_id: str,
    *,
    resource_key: str,
    action: str,
    now: datetime,
    acting_agent_id: str | None = None,
) -> RequestRecord | None:
    """The actor's approved, unexpired, unrevoked request granting ``action`` on the resource.

    With ``acting_agent_id``, only a request that agent made on the actor's behalf counts:
    an agent never rides on a grant its user obtained for some other purpose.
    """
    for record in broker.requests.list(state=RequestState.APPROVED, principal_id=actor_id):
        outcome = record.outcome
        if outcome is None or record.revoked_at is not None:
            continue
        if acting_agent_id is not None and record.request.acting_agent_id != acting_agent_id:
            continue
        if not any(g.resource_key == resource_key and g.covers(action) for g in outcome.grants):
            continue
        if record.decided_at is None:
            continue
        approved_at = record.decided_at
        lasts = timedelta(seconds=outcome.duration_seconds or 0)
        if now < approved_at + lasts:
            return record
    return None


def _require_grant(
    broker: Broker,
    actor_id: str,
    resource_key: str,
    action: str,
    acting_agent_id: str | None = None,
) -> RequestRecord:
    require_admin(broker, actor_id)
    grant = active_grant(
        broker,
        actor_id,
        resource_key=resource_key,
        action=action,
        now=broker.clock.now(),
        acting_agent_id=acting_agent_id,
    )
    if grant is None:
        raise PermissionDeniedError(
            f"writing needs an approved, active grant of {action} on {resource_key}: "
            "request it, and have another admin approve it"
        )
    return grant


def policy_history(
    broker: Broker, *, actor_id: str, principal_id: str, acting_agent_id: str | None = None
) -> list[PrincipalPolicy]:
    """A principal's policy versions, oldest first: admins read freely; an agent acting for
    an admin reads only while it holds a policy-store grant it requested for them."""
    if acting_agent_id is None:
        require_admin(broker, actor_id)
    else:
        _require_grant(broker, actor_id, POLICY_STORE, WRITE_POLICY, acting_agent_id)
    return list(broker.policies.history(principal_id))


def write_policy(
    broker: Broker,
    *,
    actor_id: str,
    principal_id: str,
    text: str,
    expected_version: int,
    acting_agent_id: str | None = None,
) -> PrincipalPolicy:
    """Add a policy version, under an active grant on the policy store.

    An agent acting for an admin writes only under a grant it requested for that admin
    (and another admin approved).
    """
    grant = _require_grant(broker, actor_id, POLICY_STORE, WRITE_POLICY, acting_agent_id)
    body = text.strip()
    if not body or len(body) > MAX_POLICY_TEXT:
        raise InvalidInputError(f"a policy is 1 to {MAX_POLICY_TEXT} characters of text")
    if broker.directory.get(principal_id) is None:
        raise InvalidInputError(f"there is no principal {principal_id}")
    if principal_id == actor_id:
        raise PermissionDeniedError("nobody writes their own access policy")
    if acting_agent_id is not None:
        _agent_may_write_for(broker, principal_id, acting_agent_id)
    # Write-ahead: the change is on record before it takes effect.
    broker.audit.append(
        AuditEvent.POLICY_CHANGED,
        at=broker.clock.now(),
        request_id=grant.request_id,
        principal_id=principal_id,
        details={
            "author": actor_id,
            "agent": acting_agent_id,
            "version": expected_version + 1,
            "text_sha256": hashlib.sha256(body.encode()).hexdigest(),
        },
    )
    return broker.policies.write(
        principal_id,
        text=body,
        author_id=actor_id,
        at=broker.clock.now(),
        expected_version=expected_version,
    )


def _agent_may_write_for(broker: Broker, principal_id: str, acting_agent_id: str) -> None:
    # An agent, however it was instructed, only edits ordinary people's policies: never its
    # own or another agent's (that would widen what agents can get), never an admin's
    # (admins approve each other's grants). Those changes are made by a person directly.
    target = broker.directory.get(principal_id)
    if (
        target is None
        or principal_id == acting_agent_id
        or target.kind is not PrincipalKind.HUMAN
        or APPROVER_GROUP in target.groups
    ):
        raise PermissionDeniedError(
            "an agent may change only a non-admin person's policy; an admin must do this directly"
        )


def put_principal(broker: Broker, *, actor_id: str, principal: Principal) -> Principal:
    """Create or change a principal, under an active grant on the directory."""
    grant = _require_grant(broker, actor_id, PRINCIPAL_DIRECTORY, WRITE_PRINCIPAL)
    if principal.id == actor_id:
        raise PermissionDeniedError("nobody changes their own groups or attributes")
    if principal.kind is not PrincipalKind.HUMAN and APPROVER_GROUP in principal.groups:
        # Approvers decide other people's access: an agent, whatever drives it, never does.
        raise InvalidInputError(f"an agent cannot be in the {APPROVER_GROUP} group")
    broker.audit.append(
        AuditEvent.PRINCIPAL_CHANGED,
        at=broker.clock.now(),
        request_id=grant.request_id,
        principal_id=principal.id,
        details={
            "author": actor_id,
            "kind": principal.kind.value,
            "groups": tuple(sorted(principal.groups)),
            "enabled": principal.enabled,
            # Attributes decide row scoping (the customer key): every change is on record.
            "attributes": tuple(f"{k}={v}" for k, v in sorted(principal.attributes.items())),
        },
    )  # written ahead of the change it records
    broker.directory.put(principal)
    return principal


def audit_page(
    broker: Broker, *, actor_id: str, request_id: str | None, offset: int, limit: int
) -> list[AuditRecord]:
    """A page of the audit log, oldest first."""
    require_admin(broker, actor_id)
    if offset < 0 or not 1 <= limit <= 500:
        raise InvalidInputError("offset must be >= 0 and limit between 1 and 500")
    return list(broker.audit.records(request_id=request_id))[offset : offset + limit]


def verify_audit(broker: Broker, *, actor_id: str) -> list[str]:
    """Every break in the audit chain (an empty list means it verifies)."""
    require_admin(broker, actor_id)
    problems = verify_chain(list(broker.audit.records()))
    store_verify = getattr(broker.audit, "verify", None)
    if callable(store_verify):
        # Stores that keep the chain's head also catch records cut off at the end.
        problems += [p for p in store_verify() if p not in problems]
    return problems
