"""The audit hash chain detects altered, removed, reordered and inserted records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agent_zero.domain.audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditRecord,
    chain_record,
    verify_chain,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def build_chain(length: int = 4) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    events = [AuditEvent.RECEIVED, AuditEvent.REVIEWED, AuditEvent.MINTING, AuditEvent.ISSUED]
    for index in range(length):
        records.append(
            chain_record(
                records[-1] if records else None,
                event=events[index % len(events)],
                at=T0 + timedelta(seconds=index),
                request_id="req-abcdef01",
                principal_id="alice",
                details={"access_key_id": "ASIAEXAMPLE", "grants": ("accounts",), "step": index},
            )
        )
    return records


def test_a_fresh_chain_verifies() -> None:
    records = build_chain()
    assert records[0].previous_hash == GENESIS_HASH
    assert [r.sequence for r in records] == [1, 2, 3, 4]
    assert verify_chain(records) == []


def test_hashes_are_deterministic() -> None:
    assert [r.hash for r in build_chain()] == [r.hash for r in build_chain()]


def test_an_altered_detail_is_detected() -> None:
    records = build_chain()
    records[1] = records[1].model_copy(update={"details": {"step": 99}})
    assert verify_chain(records) == ["record 2 was altered after it was written"]


def test_an_altered_event_is_detected_even_with_a_recomputed_hash() -> None:
    records = build_chain()
    forged = chain_record(
        records[0],
        event=AuditEvent.DENIED,
        at=records[1].at,
        request_id="req-abcdef01",
        principal_id="alice",
    )
    records[1] = forged
    assert "record 3 does not follow the record before it" in verify_chain(records)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda rs: rs.pop(1), "record 2 has sequence 3"),
        (lambda rs: rs.reverse(), "record 1 has sequence 4"),
        (lambda rs: rs.pop(0), "record 2 does not follow the record before it"),
    ],
)
def test_removed_or_reordered_records_are_detected(mutate: object, expected: str) -> None:
    records = build_chain()
    mutate(records)  # type: ignore[operator]
    assert expected in verify_chain(records)


def test_records_refuse_unknown_fields_and_bad_hashes() -> None:
    record = build_chain(1)[0]
    data = record.model_dump()
    with pytest.raises(ValueError, match="Extra inputs"):
        AuditRecord.model_validate({**data, "secret_access_key": "x"})
    with pytest.raises(ValueError, match="pattern"):
        AuditRecord.model_validate({**data, "hash": "not-a-hash"})
