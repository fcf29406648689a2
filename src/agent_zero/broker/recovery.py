"""``recover_interrupted``: finish, as failed, the requests a crash cut short.

A broker killed mid-request leaves the request's record where the crash found it:
``received`` (being decided), or ``approved`` with its collection claimed but no
session stored. Every step before the record's final write is audited first, so
the audit trail says how far the request got. If it got as far as the write-ahead
``minting`` record, STS may have minted a session whose credentials nobody
received (they are only handed over once the request is stored as approved): that
session is revoked by name, the request id, until the latest moment it could
expire. Either way the request is stored as failed, with an ``interrupted`` audit
record; the caller may ask again.

Only requests older than ``before`` are touched: the caller chooses a bound no live
request can outlast (in the sandbox, the moment the broker started; on AWS, the
longest a function may run plus a margin). Running twice, or on two machines at
once, fails each request once: the final write is a compare-and-set on the
record's revision, a second revocation of a session changes nothing, and an
``interrupted`` record already written is not written again (two runs racing on
one request may both write one; the request is still failed once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent_zero.broker.access import Broker
from agent_zero.domain.audit import AuditEvent, AuditRecord
from agent_zero.domain.errors import AgentZeroError, ConflictError, UnavailableError
from agent_zero.domain.requests import RequestRecord, RequestState

# The longest session STS issues (a role's maximum); the bound when a record lacks one.
LONGEST_SESSION_SECONDS = 12 * 60 * 60
# A Lambda function runs for at most 15 minutes: no request on AWS lives longer.
LONGEST_REQUEST = timedelta(minutes=15)
RECOVERY_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What one run did, by request id."""

    failed: tuple[str, ...] = ()  # stored as failed by this run
    revoked: tuple[str, ...] = ()  # of those, the ones whose session was revoked
    skipped: tuple[str, ...] = ()  # changed meanwhile: finished, or recovered elsewhere
    unresolved: tuple[str, ...] = ()  # could not be revoked or stored now; the next run retries

    @property
    def clean(self) -> bool:
        """Nothing is left for a later run."""
        return not self.unresolved


def interrupted_before(now: datetime, *, longest_request: timedelta = LONGEST_REQUEST) -> datetime:
    """The bound for a run beside live requests: older than any of them can be."""
    return now - longest_request - RECOVERY_MARGIN


def is_interrupted(record: RequestRecord, *, before: datetime) -> bool:
    """Left unfinished before ``before``: still being decided, or claimed and never issued."""
    if record.state is RequestState.RECEIVED:
        return record.request.received_at < before
    claimed = record.collected_at
    return (
        record.state is RequestState.APPROVED
        and claimed is not None
        and claimed < before
        and record.session is None
        and record.revoked_at is None
    )


def recover_interrupted(broker: Broker, *, before: datetime) -> RecoveryReport:
    """Fail every request a crash left unfinished before ``before``, revoking what may exist."""
    failed: list[str] = []
    revoked: list[str] = []
    skipped: list[str] = []
    unresolved: list[str] = []
    for record in _candidates(broker, before=before):
        try:
            minted = _recover(broker, record)
        except ConflictError:
            skipped.append(record.request_id)
            continue
        except AgentZeroError:
            unresolved.append(record.request_id)  # fail closed: left as it is, not failed
            continue
        failed.append(record.request_id)
        if minted:
            revoked.append(record.request_id)
    return RecoveryReport(tuple(failed), tuple(revoked), tuple(skipped), tuple(unresolved))


def _candidates(broker: Broker, *, before: datetime) -> list[RequestRecord]:
    found = [
        *broker.requests.list(state=RequestState.RECEIVED),
        *broker.requests.list(state=RequestState.APPROVED),
    ]
    return [record for record in found if is_interrupted(record, before=before)]


def _recover(broker: Broker, record: RequestRecord) -> bool:
    """Revoke, audit, store as failed; True when a session may have been minted."""
    trail = broker.audit.records(request_id=record.request_id)
    minting = _last(trail, AuditEvent.MINTING)
    if minting is not None:
        _revoke(broker, record, minting)
    if _last(trail, AuditEvent.INTERRUPTED) is None:  # a run cut short already recorded it
        broker.audit.append(
            AuditEvent.INTERRUPTED,
            at=broker.clock.now(),
            request_id=record.request_id,
            principal_id=record.request.principal_id,
            details={
                "stage": "after minting" if minting else "before minting",
                "state_was": record.state.value,
            }
            | ({"revoked_session": record.request_id} if minting else {}),
        )
    now = broker.clock.now()
    broker.requests.replace(
        record.model_copy(
            update={
                "state": RequestState.FAILED,
                "outcome": None,
                "revision": record.revision + 1,
                "updated_at": now,
            }
        )
    )
    return minting is not None


def _revoke(broker: Broker, record: RequestRecord, minting: AuditRecord) -> None:
    role_arn = minting.details.get("role_arn")
    if not isinstance(role_arn, str) or not role_arn:
        raise UnavailableError(f"the minting record of {record.request_id} names no role")
    duration = minting.details.get("duration_seconds")
    seconds = duration if isinstance(duration, int) and duration > 0 else LONGEST_SESSION_SECONDS
    # STS minted (if at all) before the crash, so before now: it expires before now + duration.
    broker.revoker.revoke(
        role_arn=role_arn,
        session_name=record.request_id,  # issue() names every session after its request
        expires_at=broker.clock.now() + timedelta(seconds=seconds),
    )


def _last(trail: Sequence[AuditRecord], event: AuditEvent) -> AuditRecord | None:
    matching = [r for r in trail if r.event is event]
    return matching[-1] if matching else None
