"""What only the SQLite file has: persistence, migrations, file mode, and tamper checks."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent_zero.adapters.sqlite import (
    SqliteAuditLog,
    SqliteDatabase,
    SqlitePolicyStore,
    SqlitePrincipalDirectory,
    SqliteRequestStore,
)
from agent_zero.adapters.sqlite.database import SCHEMA_VERSION
from agent_zero.domain.audit import AuditEvent, AuditRecord
from agent_zero.domain.errors import UnavailableError
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.requests import AccessRequest, RequestRecord, RequestState

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SECRET_REASON = "my card number is 4111-1111-1111-1111"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "broker.sqlite3"


@pytest.fixture
def database(path: Path) -> Iterator[SqliteDatabase]:
    with SqliteDatabase(path) as database:
        yield database


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that bypasses the adapters, as an intruder or another program would."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def request_record(request_id: str, *, reason: str = "To check my balance.") -> RequestRecord:
    request = AccessRequest(
        request_id=request_id, principal_id="alice", reason=reason, received_at=T0
    )
    return RequestRecord(request=request, state=RequestState.PENDING)


def append_records(audit: SqliteAuditLog, count: int) -> list[AuditRecord]:
    return [
        audit.append(
            AuditEvent.REVIEWED,
            at=T0,
            request_id="req-000001",
            principal_id="alice",
            details={"step": step},
        )
        for step in range(count)
    ]


def test_data_survives_closing_and_reopening_the_file(path: Path) -> None:
    alice = Principal(id="alice", kind=PrincipalKind.HUMAN, display_name="Alice")
    with SqliteDatabase(path) as database:
        SqlitePrincipalDirectory(database).put(alice)
        policy = SqlitePolicyStore(database).write(
            "alice", text="May read.", author_id="ada", at=T0, expected_version=0
        )
        record = SqliteRequestStore(database).create(request_record("req-000001"))
        written = append_records(SqliteAuditLog(database), 3)
    with SqliteDatabase(path) as database:
        assert SqlitePrincipalDirectory(database).get("alice") == alice
        assert SqlitePolicyStore(database).current("alice") == policy
        assert SqliteRequestStore(database).get("req-000001") == record
        audit = SqliteAuditLog(database)
        assert list(audit.records()) == written
        assert audit.append(
            AuditEvent.ISSUED, at=T0, request_id=None, principal_id=None, details={}
        ).previous_hash == (written[-1].hash)
        assert audit.verify() == []


def test_migrations_are_recorded_once_however_often_the_file_is_opened(path: Path) -> None:
    for _ in range(3):
        SqliteDatabase(path).close()
    with raw(path) as connection:
        versions = connection.execute("SELECT version FROM schema_migrations").fetchall()
    assert versions == [(version,) for version in range(1, SCHEMA_VERSION + 1)]


def test_the_file_is_private_wal_with_foreign_keys_and_a_busy_timeout(
    path: Path, database: SqliteDatabase
) -> None:
    append_records(SqliteAuditLog(database), 1)
    for name in [path.name, f"{path.name}-wal", f"{path.name}-shm"]:
        assert stat.S_IMODE(os.stat(path.parent / name).st_mode) == 0o600, name
    with database.reading() as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert connection.execute("PRAGMA busy_timeout").fetchone() == (5000,)


def test_an_existing_file_keeps_its_mode(path: Path) -> None:
    path.touch(mode=0o640)
    os.chmod(path, 0o640)
    SqliteDatabase(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_memory_databases_work_for_tests() -> None:
    with SqliteDatabase(":memory:") as database:
        store = SqliteRequestStore(database)
        record = store.create(request_record("req-000001"))
        assert store.get("req-000001") == record


def test_a_file_from_a_newer_schema_is_refused(path: Path) -> None:
    SqliteDatabase(path).close()
    with raw(path) as connection:
        connection.execute(
            "INSERT INTO schema_migrations (version, description) VALUES (?, 'from the future')",
            (SCHEMA_VERSION + 1,),
        )
    with pytest.raises(UnavailableError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        SqliteDatabase(path)


def test_a_file_that_is_not_a_database_is_refused(path: Path) -> None:
    path.write_bytes(b"this is not a database, just some text that is long enough" * 100)
    with pytest.raises(UnavailableError, match="SQLITE_NOTADB"):
        SqliteDatabase(path)


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(UnavailableError, match="cannot be created"):
        SqliteDatabase(tmp_path / "missing" / "broker.sqlite3")


def test_a_closed_database_makes_every_store_unavailable(database: SqliteDatabase) -> None:
    directory = SqlitePrincipalDirectory(database)
    policies = SqlitePolicyStore(database)
    requests = SqliteRequestStore(database)
    audit = SqliteAuditLog(database)
    database.close()
    database.close()  # harmless
    calls: list[Callable[[], object]] = [
        lambda: directory.get("alice"),
        directory.list,
        lambda: policies.current("alice"),
        lambda: policies.write("alice", text="x", author_id="ada", at=T0, expected_version=0),
        lambda: requests.create(request_record("req-000001")),
        lambda: requests.list(),
        lambda: audit.append(
            AuditEvent.MINTING, at=T0, request_id=None, principal_id=None, details={}
        ),
        audit.records,
        audit.verify,
    ]
    for call in calls:
        with pytest.raises(UnavailableError, match="closed"):
            call()


def test_a_failure_is_reported_without_the_values_involved(
    path: Path, database: SqliteDatabase
) -> None:
    requests = SqliteRequestStore(database)
    requests.create(request_record("req-000001", reason=SECRET_REASON))
    with raw(path) as connection:
        connection.execute("UPDATE requests SET body = substr(body, 1, 90)")
    with pytest.raises(UnavailableError) as raised:
        requests.get("req-000001")
    assert raised.value.message == "a stored RequestRecord cannot be read"
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_a_lock_held_too_long_is_unavailable_not_a_raw_sqlite_error(path: Path) -> None:
    with SqliteDatabase(path, busy_timeout_ms=50) as database:
        with raw(path) as other:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(UnavailableError, match=r"\(SQLITE_BUSY\)"):
                SqliteRequestStore(database).create(request_record("req-000001"))
            other.execute("ROLLBACK")
        assert SqliteRequestStore(database).list() == []


def test_verify_reports_an_altered_record(path: Path, database: SqliteDatabase) -> None:
    audit = SqliteAuditLog(database)
    append_records(audit, 4)
    assert audit.verify() == []
    with raw(path) as connection:
        connection.execute(
            "UPDATE audit_records SET body = replace(body, '\"step\":1', '\"step\":7')"
            " WHERE sequence = 2"
        )
    assert audit.records()[1].details == {"step": 7}
    assert audit.verify() == ["record 2 was altered after it was written"]


def test_verify_reports_a_record_refiled_under_another_request(
    path: Path, database: SqliteDatabase
) -> None:
    audit = SqliteAuditLog(database)
    append_records(audit, 2)
    with raw(path) as connection:
        connection.execute("UPDATE audit_records SET request_id = NULL WHERE sequence = 1")
    assert audit.verify() == ["record 1 is filed under columns that do not match it"]


def test_verify_reports_deleted_newest_records_and_appends_refuse_to_hide_them(
    path: Path, database: SqliteDatabase
) -> None:
    audit = SqliteAuditLog(database)
    append_records(audit, 5)
    with raw(path) as connection:
        connection.execute("DELETE FROM audit_records WHERE sequence >= 4")
    assert audit.verify() == ["the log ends at record 3 but its head is record 5"]
    with pytest.raises(UnavailableError, match="does not end at its head"):
        append_records(audit, 1)
    assert len(audit.records()) == 3


def test_verify_reports_a_deleted_middle_record_and_a_missing_head(
    path: Path, database: SqliteDatabase
) -> None:
    audit = SqliteAuditLog(database)
    append_records(audit, 3)
    with raw(path) as connection:
        connection.execute("DELETE FROM audit_records WHERE sequence = 2")
        connection.execute("DELETE FROM audit_head")
    assert audit.verify() == [
        "record 2 has sequence 3",
        "record 3 does not follow the record before it",
        "the log has records but no head",
    ]


def test_verify_reports_a_log_emptied_behind_its_head(path: Path, database: SqliteDatabase) -> None:
    audit = SqliteAuditLog(database)
    append_records(audit, 2)
    with raw(path) as connection:
        connection.execute("DELETE FROM audit_records")
    assert audit.verify() == ["the log is empty but its head is record 2"]
