"""The hash-chained audit log on SQLite, with a stored head so that truncation shows.

The chain alone cannot reveal that its newest records were deleted: what is
left still verifies. The head (the newest sequence and hash) is written in the
same transaction as each record, so a log that ends before its head was cut.
It guards against lost or deleted rows, not against someone who rewrites the
head too; that needs the head kept somewhere else as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from agent_zero.adapters.sqlite.database import SqliteDatabase, parse_stored
from agent_zero.domain.audit import (
    AuditEvent,
    AuditRecord,
    AuditValue,
    chain_record,
    head_problems,
    verify_chain,
)
from agent_zero.domain.errors import UnavailableError

# MINTING is written before STS is called: on a power loss the session it names can
# still be found (its name is the request id) and revoked, even if ISSUED is lost.
DURABLE_EVENTS = frozenset({AuditEvent.MINTING})


class SqliteAuditLog:
    """The chained log; each append reads the last link and adds the next in one transaction."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    def append(
        self,
        event: AuditEvent,
        *,
        at: datetime,
        request_id: str | None,
        principal_id: str | None,
        details: Mapping[str, AuditValue],
    ) -> AuditRecord:
        """Chain and store one record; UnavailableError when it could not be stored."""
        # The write-ahead record of credentials about to exist must survive a power loss.
        with self._database.writing(durable=event in DURABLE_EVENTS) as connection:
            last = connection.execute(
                "SELECT sequence, hash, body FROM audit_records ORDER BY sequence DESC LIMIT 1"
            ).fetchone()
            head = connection.execute("SELECT sequence, hash FROM audit_head").fetchone()
            if (None if last is None else (last[0], last[1])) != (
                None if head is None else (head[0], head[1])
            ):
                # Chaining onto a cut log would hide the cut from verify(): refuse instead.
                raise UnavailableError("the audit log does not end at its head; verify it")
            record = chain_record(
                None if last is None else parse_stored(AuditRecord, last[2]),
                event=event,
                at=at,
                request_id=request_id,
                principal_id=principal_id,
                details=dict(details),
            )
            connection.execute(
                "INSERT INTO audit_records (sequence, request_id, hash, body) VALUES (?, ?, ?, ?)",
                (record.sequence, record.request_id, record.hash, record.model_dump_json()),
            )
            connection.execute(
                "INSERT INTO audit_head (id, sequence, hash) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET sequence = excluded.sequence,"
                " hash = excluded.hash",
                (record.sequence, record.hash),
            )
        return record

    def records(self, *, request_id: str | None = None) -> Sequence[AuditRecord]:
        """In order."""
        with self._database.reading() as connection:
            if request_id is None:
                rows = connection.execute(
                    "SELECT body FROM audit_records ORDER BY sequence"
                ).fetchall()
            else:
                rows = connection.execute(
                    "SELECT body FROM audit_records WHERE request_id = ? ORDER BY sequence",
                    (request_id,),
                ).fetchall()
        return [parse_stored(AuditRecord, body) for (body,) in rows]

    def verify(self) -> list[str]:
        """Every break in the stored chain and its head, as sentences; empty when it verifies."""
        with self._database.reading() as connection:
            rows = connection.execute(
                "SELECT sequence, request_id, hash, body FROM audit_records ORDER BY sequence"
            ).fetchall()
            head = connection.execute("SELECT sequence, hash FROM audit_head").fetchone()
        problems: list[str] = []
        records: list[AuditRecord] = []
        for sequence, request_id, digest, body in rows:
            try:
                record = parse_stored(AuditRecord, body)
            except UnavailableError:
                problems.append(f"record {sequence} cannot be read")
                continue
            if (record.sequence, record.request_id, record.hash) != (sequence, request_id, digest):
                problems.append(f"record {sequence} is filed under columns that do not match it")
            records.append(record)
        problems.extend(verify_chain(records))
        problems.extend(head_problems(records, head))
        return problems
