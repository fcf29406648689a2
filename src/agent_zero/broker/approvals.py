"""People deciding: approve or deny a pending request, collect approved credentials, revoke.

An approver is an admin who is not the requester. The approver chooses the
grants and the duration; the guardrails, the compiler and the proof run on
that choice exactly as on a reviewer's. Credentials are minted only when the
requester collects them, once, so no secret is ever stored.
"""

from __future__ import annotations

from datetime import timedelta

from agent_zero.broker.access import AccessResult, Broker, compile_and_prove, issue
from agent_zero.broker.guardrails import check_proposal
from agent_zero.domain.audit import AuditEvent
from agent_zero.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SessionPolicyError,
)
from agent_zero.domain.outcomes import Outcome, OutcomeStatus
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from agent_zero.domain.requests import RequestRecord, RequestState

APPROVER_GROUP = "admins"
# How long an approved request waits to be collected before the approval lapses.
COLLECT_WINDOW = timedelta(minutes=15)


def _record(broker: Broker, request_id: str) -> RequestRecord:
    record = broker.requests.get(request_id)
    if record is None:
        raise NotFoundError(f"there is no request {request_id}")
    return record


def _approver(broker: Broker, approver_id: str, record: RequestRecord) -> Principal:
    approver = broker.directory.get(approver_id)
    if (
        approver is None
        or not approver.enabled
        or APPROVER_GROUP not in approver.groups
        or approver.kind is not PrincipalKind.HUMAN  # an agent in the group is still an agent
    ):
        raise PermissionDeniedError("only an enabled person in the admins group decides requests")
    if approver.id in (record.request.principal_id, record.request.acting_agent_id):
        raise PermissionDeniedError("nobody approves or denies their own request")
    return approver


def _pending(record: RequestRecord) -> None:
    if record.state is not RequestState.PENDING:
        raise ConflictError(f"request {record.request_id} is {record.state.value}, not pending")


def approve_request(
    broker: Broker,
    request_id: str,
    *,
    approver_id: str,
    grants: tuple[Grant, ...],
    duration_seconds: int,
) -> RequestRecord:
    """Approve a pending request with the approver's own choice of grants and duration."""
    record = _record(broker, request_id)
    approver = _approver(broker, approver_id, record)
    _pending(record)
    requester = broker.directory.get(record.request.principal_id)
    if requester is None or not requester.enabled:
        raise ConflictError("the requester is unknown or disabled; deny the request instead")
    proposal = Proposal(
        decision=ProposalDecision.APPROVE, grants=grants, duration_seconds=duration_seconds
    )
    catalog = broker.catalogs.catalog()
    violations = check_proposal(
        proposal, principal=requester, catalog=catalog, limits=broker.limits
    )
    if violations:
        raise InvalidInputError(
            "the approval breaks the access rules: " + "; ".join(v.message for v in violations)
        )
    try:
        compile_and_prove(broker, requester, grants, catalog)
    except SessionPolicyError as error:
        raise InvalidInputError(f"the approval cannot be issued safely: {error.message}") from None
    outcome = Outcome(
        request_id=request_id,
        principal_id=requester.id,
        status=OutcomeStatus.APPROVED,
        grants=grants,
        duration_seconds=duration_seconds,
        reasons=(f"Approved by {approver.id}.",),
        policy_version=record.policy_version,
    )
    # Write-ahead: the approval is on record before it can be used.
    broker.audit.append(
        AuditEvent.APPROVED,
        at=broker.clock.now(),
        request_id=request_id,
        principal_id=requester.id,
        details={
            "approver": approver.id,
            "grants": tuple(f"{g.resource_key}:{','.join(g.actions)}" for g in grants),
            "duration_seconds": duration_seconds,
        },
    )
    return broker.requests.replace(
        record.model_copy(
            update={
                "state": RequestState.APPROVED,
                "outcome": outcome,
                "decided_by": approver.id,
                "decided_at": broker.clock.now(),
                "revision": record.revision + 1,
                "updated_at": broker.clock.now(),
            }
        )
    )


def deny_request(
    broker: Broker, request_id: str, *, approver_id: str, reason: str
) -> RequestRecord:
    """Deny a pending request, saying why."""
    record = _record(broker, request_id)
    approver = _approver(broker, approver_id, record)
    _pending(record)
    text = reason.strip()[:2_000] or "Denied by an approver."
    outcome = Outcome(
        request_id=request_id,
        principal_id=record.request.principal_id,
        status=OutcomeStatus.DENIED,
        reasons=(text,),
        policy_version=record.policy_version,
    )
    broker.audit.append(
        AuditEvent.DENIED,
        at=broker.clock.now(),
        request_id=request_id,
        principal_id=record.request.principal_id,
        details={"approver": approver.id, "reason": text[:500]},
    )
    return broker.requests.replace(
        record.model_copy(
            update={
                "state": RequestState.DENIED,
                "outcome": outcome,
                "decided_by": approver.id,
                "decided_at": broker.clock.now(),
                "revision": record.revision + 1,
                "updated_at": broker.clock.now(),
            }
        )
    )


def collect_credentials(
    broker: Broker, request_id: str, *, principal_id: str, acting_agent_id: str | None = None
) -> AccessResult:
    """The requester's credentials for a request a person approved: minted now, once.

    Only the requester collects: the same principal, acting through the same agent (or
    directly, when they asked directly).

    The approval lapses after ``COLLECT_WINDOW``; the rules are checked again
    against the requester and the catalog as they are now, and against the policy
    version the approval was made under; the record is claimed with a
    compare-and-set before STS is called, so two collections never mint twice.
    """
    record = _record(broker, request_id)
    # The same principal through the same channel: an agent never collects what its user
    # asked for directly, nor a user what an agent asked for on their behalf.
    if (
        record.request.principal_id != principal_id
        or record.request.acting_agent_id != acting_agent_id
    ):
        # Not "forbidden": nobody else may even learn that the request exists.
        raise NotFoundError(f"there is no request {request_id}")
    if record.state is not RequestState.APPROVED or record.decided_by is None:
        return AccessResult(record)
    if record.collected_at is not None or record.session is not None or record.revoked_at:
        raise ConflictError("the credentials of this request were already collected")
    now = broker.clock.now()
    if record.decided_at is None or now > record.decided_at + COLLECT_WINDOW:
        raise ConflictError("the approval has lapsed; ask again")
    requester = broker.directory.get(principal_id)
    if requester is None or not requester.enabled or record.outcome is None:
        raise ConflictError("the requester is unknown or disabled")
    policy = broker.policies.current(principal_id)
    if policy is None or policy.version != record.policy_version:
        raise ConflictError("the requester's policy changed since the approval; ask again")
    duration = record.outcome.duration_seconds or 900
    proposal = Proposal(
        decision=ProposalDecision.APPROVE, grants=record.outcome.grants, duration_seconds=duration
    )
    violations = check_proposal(
        proposal, principal=requester, catalog=broker.catalogs.catalog(), limits=broker.limits
    )
    if violations:
        raise ConflictError(
            "the approval no longer fits the rules: " + "; ".join(v.message for v in violations)
        )
    claimed = broker.requests.replace(
        record.model_copy(
            update={"collected_at": now, "revision": record.revision + 1, "updated_at": now}
        )
    )  # a concurrent collection loses here, before anything is minted
    return issue(broker, claimed, requester, record.outcome.grants, duration)


def revoke_request(broker: Broker, request_id: str, *, by: str) -> RequestRecord:
    """Cut a request's live credentials: the requester or an admin may."""
    record = _record(broker, request_id)
    actor = broker.directory.get(by)
    is_admin = actor is not None and actor.enabled and APPROVER_GROUP in actor.groups
    if by != record.request.principal_id and not is_admin:
        raise NotFoundError(f"there is no request {request_id}")
    if record.state is not RequestState.APPROVED:
        raise ConflictError("only an approved request can be revoked")
    if record.revoked_at is not None:
        return record  # revoking twice changes nothing
    if record.session is not None:
        broker.revoker.revoke(
            role_arn=record.session.role_arn,
            session_name=record.session.session_name,
            expires_at=record.session.expires_at,
        )
    # Broker-internal grants have no STS session: marking them revoked ends them.
    now = broker.clock.now()
    updated = broker.requests.replace(
        record.model_copy(
            update={
                "revoked_by": by,
                "revoked_at": now,
                "revision": record.revision + 1,
                "updated_at": now,
            }
        )
    )
    broker.audit.append(
        AuditEvent.REVOKED,
        at=now,
        request_id=request_id,
        principal_id=record.request.principal_id,
        details={
            "by": by,
            "access_key_id": record.session.access_key_id if record.session else None,
        },
    )
    return updated
