"""The principal directory, policy store and request store on SQLite.

Each keeps the contract of its port and of the in-memory fake: conditional
writes raise ConflictError, every other failure raises UnavailableError.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from agent_zero.adapters.sqlite.database import SqliteDatabase, parse_stored
from agent_zero.domain.errors import ConflictError
from agent_zero.domain.policies import PrincipalPolicy
from agent_zero.domain.principals import Principal
from agent_zero.domain.requests import RequestRecord, RequestState

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# One static query per filter combination, so each can use its index.
_LIST_REQUESTS = {
    (False, False): "SELECT body FROM requests ORDER BY received_at_us DESC, seq",
    (True, False): (
        "SELECT body FROM requests WHERE state = :state ORDER BY received_at_us DESC, seq"
    ),
    (False, True): (
        "SELECT body FROM requests WHERE principal_id = :principal_id"
        " ORDER BY received_at_us DESC, seq"
    ),
    (True, True): (
        "SELECT body FROM requests WHERE state = :state AND principal_id = :principal_id"
        " ORDER BY received_at_us DESC, seq"
    ),
}


class SqlitePrincipalDirectory:
    """Principals by id."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    def get(self, principal_id: str) -> Principal | None:
        """The principal, or None."""
        with self._database.reading() as connection:
            row = connection.execute(
                "SELECT body FROM principals WHERE principal_id = ?", (principal_id,)
            ).fetchone()
        return None if row is None else parse_stored(Principal, row[0])

    def list(self) -> Sequence[Principal]:
        """Every principal, by id."""
        with self._database.reading() as connection:
            rows = connection.execute(
                "SELECT body FROM principals ORDER BY principal_id"
            ).fetchall()
        return [parse_stored(Principal, body) for (body,) in rows]

    def put(self, principal: Principal) -> None:
        """Create or replace."""
        with self._database.writing() as connection:
            connection.execute(
                "INSERT INTO principals (principal_id, body) VALUES (?, ?)"
                " ON CONFLICT (principal_id) DO UPDATE SET body = excluded.body",
                (principal.id, principal.model_dump_json()),
            )


class SqlitePolicyStore:
    """Versioned policies; a write must name the version it replaces."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    def current(self, principal_id: str) -> PrincipalPolicy | None:
        """The newest version."""
        with self._database.reading() as connection:
            row = connection.execute(
                "SELECT body FROM policies WHERE principal_id = ? ORDER BY version DESC LIMIT 1",
                (principal_id,),
            ).fetchone()
        return None if row is None else parse_stored(PrincipalPolicy, row[0])

    def history(self, principal_id: str) -> Sequence[PrincipalPolicy]:
        """Every version, oldest first."""
        with self._database.reading() as connection:
            rows = connection.execute(
                "SELECT body FROM policies WHERE principal_id = ? ORDER BY version",
                (principal_id,),
            ).fetchall()
        return [parse_stored(PrincipalPolicy, body) for (body,) in rows]

    def write(
        self, principal_id: str, *, text: str, author_id: str, at: datetime, expected_version: int
    ) -> PrincipalPolicy:
        """Append the next version, or ConflictError when another write came first."""
        with self._database.writing() as connection:
            current = connection.execute(
                "SELECT coalesce(max(version), 0) FROM policies WHERE principal_id = ?",
                (principal_id,),
            ).fetchone()[0]
            if current != expected_version:
                raise ConflictError(
                    f"the policy is at version {current}, not {expected_version}; reload it"
                )
            policy = PrincipalPolicy(
                principal_id=principal_id,
                version=current + 1,
                text=text,
                author_id=author_id,
                created_at=at,
            )
            try:
                connection.execute(
                    "INSERT INTO policies (principal_id, version, body) VALUES (?, ?, ?)",
                    (principal_id, policy.version, policy.model_dump_json()),
                )
            except sqlite3.IntegrityError:
                # Another process wrote this version between our read and our insert.
                raise ConflictError(
                    f"version {policy.version} of the policy was written meanwhile; reload it"
                ) from None
        return policy


class SqliteRequestStore:
    """Requests with idempotent creation and compare-and-set replacement."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._database = database

    def create(self, record: RequestRecord) -> RequestRecord:
        """Store, or return the earlier record with the same client request id."""
        request = record.request
        with self._database.writing() as connection:
            if request.client_request_id is not None:
                row = connection.execute(
                    "SELECT body FROM requests WHERE principal_id = ? AND client_request_id = ?",
                    (request.principal_id, request.client_request_id),
                ).fetchone()
                if row is not None:
                    return parse_stored(RequestRecord, row[0])
            try:
                connection.execute(
                    "INSERT INTO requests (request_id, principal_id, client_request_id, state,"
                    " received_at_us, revision, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        request.request_id,
                        request.principal_id,
                        request.client_request_id,
                        record.state.value,
                        _epoch_microseconds(request.received_at),
                        record.revision,
                        record.model_dump_json(),
                    ),
                )
            except sqlite3.IntegrityError:
                raise ConflictError(f"request {record.request_id} already exists") from None
        return record

    def get(self, request_id: str) -> RequestRecord | None:
        """One request."""
        with self._database.reading() as connection:
            row = connection.execute(
                "SELECT body FROM requests WHERE request_id = ?", (request_id,)
            ).fetchone()
        return None if row is None else parse_stored(RequestRecord, row[0])

    def replace(self, record: RequestRecord) -> RequestRecord:
        """Replace revision ``record.revision - 1``; ConflictError otherwise."""
        # The lookup columns (principal, client request id, received_at) describe the request
        # as it was asked, which a replacement does not change: only the decision moves on.
        with self._database.writing() as connection:
            updated = connection.execute(
                "UPDATE requests SET state = ?, revision = ?, body = ?"
                " WHERE request_id = ? AND revision = ?",
                (
                    record.state.value,
                    record.revision,
                    record.model_dump_json(),
                    record.request_id,
                    record.revision - 1,
                ),
            ).rowcount
            if updated != 1:
                raise ConflictError(f"request {record.request_id} changed meanwhile")
        return record

    def list(
        self, *, state: RequestState | None = None, principal_id: str | None = None
    ) -> Sequence[RequestRecord]:
        """Newest first; requests received at the same instant in the order they were stored."""
        query = _LIST_REQUESTS[(state is not None, principal_id is not None)]
        parameters = {"state": None if state is None else state.value, "principal_id": principal_id}
        with self._database.reading() as connection:
            rows = connection.execute(query, parameters).fetchall()
        return [parse_stored(RequestRecord, body) for (body,) in rows]


def _epoch_microseconds(moment: datetime) -> int:
    # An integer orders correctly across UTC offsets, which ISO strings would not.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    delta = aware - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
