"""Audit records, chained by hash so that a removed or altered record shows.

Each record's hash covers its content and the previous record's hash. The
chain is computed here, purely; stores only persist what this module produces.
Records never hold secrets: an issued credential is recorded by its access key
id and expiry, never by its secret key or session token.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from agent_zero.domain.base import DomainModel
from agent_zero.domain.principals import PrincipalId

GENESIS_HASH = "0" * 64
AuditValue = str | int | bool | None | tuple[str, ...]


class AuditEvent(StrEnum):
    """The steps of a request that leave a record."""

    RECEIVED = "received"
    REVIEWED = "reviewed"
    DENIED = "denied"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    MINTING = "minting"  # written before STS is called: no credentials without a record
    ISSUED = "issued"
    MINT_FAILED = "mint_failed"
    REVOKED = "revoked"
    INTERRUPTED = "interrupted"  # a crash cut the request short; recovery failed it
    POLICY_CHANGED = "policy_changed"
    PRINCIPAL_CHANGED = "principal_changed"


class AuditRecord(DomainModel):
    """One link in the audit chain."""

    sequence: Annotated[int, Field(ge=1)]
    event: AuditEvent
    at: datetime
    request_id: str | None
    principal_id: PrincipalId | None
    details: dict[str, AuditValue] = Field(default_factory=dict)
    previous_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def _digest(
    *,
    sequence: int,
    event: AuditEvent,
    at: datetime,
    request_id: str | None,
    principal_id: str | None,
    details: dict[str, AuditValue],
    previous_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "sequence": sequence,
            "event": event.value,
            "at": at.isoformat(),
            "request_id": request_id,
            "principal_id": principal_id,
            "details": {key: list(v) if isinstance(v, tuple) else v for key, v in details.items()},
            "previous_hash": previous_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def chain_record(
    previous: AuditRecord | None,
    *,
    event: AuditEvent,
    at: datetime,
    request_id: str | None,
    principal_id: str | None,
    details: dict[str, AuditValue] | None = None,
) -> AuditRecord:
    """The next record after ``previous`` (None starts the chain)."""
    sequence = 1 if previous is None else previous.sequence + 1
    previous_hash = GENESIS_HASH if previous is None else previous.hash
    body = dict(details or {})
    digest = _digest(
        sequence=sequence,
        event=event,
        at=at,
        request_id=request_id,
        principal_id=principal_id,
        details=body,
        previous_hash=previous_hash,
    )
    return AuditRecord(
        sequence=sequence,
        event=event,
        at=at,
        request_id=request_id,
        principal_id=principal_id,
        details=body,
        previous_hash=previous_hash,
        hash=digest,
    )


def verify_chain(records: list[AuditRecord]) -> list[str]:
    """Every break in the chain, as sentences; an empty list means it verifies."""
    problems: list[str] = []
    expected_previous = GENESIS_HASH
    for position, record in enumerate(records, start=1):
        if record.sequence != position:
            problems.append(f"record {position} has sequence {record.sequence}")
        if record.previous_hash != expected_previous:
            problems.append(f"record {record.sequence} does not follow the record before it")
        recomputed = _digest(**record.model_dump(exclude={"hash"}))
        if recomputed != record.hash:
            problems.append(f"record {record.sequence} was altered after it was written")
        expected_previous = record.hash
    return problems


def head_problems(records: list[AuditRecord], head: tuple[int, str] | None) -> list[str]:
    """Breaks between a chain and its stored head (sequence, hash): cut-off records show here."""
    if head is None:
        return ["the log has records but no head"] if records else []
    head_sequence, head_hash = head
    if not records:
        return [f"the log is empty but its head is record {head_sequence}"]
    last = records[-1]
    if last.sequence < head_sequence:
        return [f"the log ends at record {last.sequence} but its head is record {head_sequence}"]
    if (last.sequence, last.hash) != (head_sequence, head_hash):
        return [f"the log's last record {last.sequence} does not match its head"]
    return []
