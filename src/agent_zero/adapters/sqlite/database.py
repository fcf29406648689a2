"""One SQLite file for the broker's state: opened privately, in WAL mode, migrated by number.

Threading: one connection, shared by every thread and guarded by a lock. The
HTTP server starts a thread per request, so connections per thread would be
opened and abandoned at the rate of requests, and ``:memory:`` would give each
thread its own empty database. Each write holds the lock for a fraction of a
millisecond on a local disk, the commit's fsync included, so serializing them
costs the broker nothing it would notice. WAL still matters: another process
(a CLI, a backup) can read while the broker writes, and ``BEGIN IMMEDIATE``
takes the write lock before a read-then-write so no other process can slip a
write in between.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, TypeVar

from pydantic import ValidationError

from agent_zero.domain.base import DomainModel
from agent_zero.domain.errors import UnavailableError

MEMORY = ":memory:"
ModelT = TypeVar("ModelT", bound=DomainModel)


class Migration(NamedTuple):
    """One numbered step of the schema, applied once and recorded."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "principals, policy versions, requests, audit chain and its head",
        (
            # Every row keeps the whole model as JSON; the other columns exist to be looked up.
            "CREATE TABLE principals (principal_id TEXT PRIMARY KEY, body TEXT NOT NULL)",
            "CREATE TABLE policies ("
            " principal_id TEXT NOT NULL,"
            " version INTEGER NOT NULL CHECK (version >= 1),"
            " body TEXT NOT NULL,"
            " PRIMARY KEY (principal_id, version))",
            # seq is the insertion order, which breaks ties between equal received_at.
            "CREATE TABLE requests ("
            " seq INTEGER PRIMARY KEY,"
            " request_id TEXT NOT NULL UNIQUE,"
            " principal_id TEXT NOT NULL,"
            " client_request_id TEXT,"
            " state TEXT NOT NULL,"
            " received_at_us INTEGER NOT NULL,"
            " revision INTEGER NOT NULL CHECK (revision >= 1),"
            " body TEXT NOT NULL,"
            " UNIQUE (principal_id, client_request_id))",
            "CREATE INDEX requests_by_time ON requests (received_at_us)",
            "CREATE INDEX requests_by_state ON requests (state, received_at_us)",
            "CREATE INDEX requests_by_principal ON requests (principal_id, received_at_us)",
            "CREATE TABLE audit_records ("
            " sequence INTEGER PRIMARY KEY CHECK (sequence >= 1),"
            " request_id TEXT,"
            " hash TEXT NOT NULL,"
            " body TEXT NOT NULL)",
            "CREATE INDEX audit_records_by_request ON audit_records (request_id, sequence)",
            # The newest link, kept apart so that deleting the newest records shows.
            "CREATE TABLE audit_head ("
            " id INTEGER PRIMARY KEY CHECK (id = 1),"
            " sequence INTEGER NOT NULL,"
            " hash TEXT NOT NULL)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


class SqliteDatabase:
    """The broker's SQLite file (or ``:memory:``), shared by the Sqlite stores."""

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 5_000) -> None:
        self.path = path if str(path) == MEMORY else Path(path)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        connection = _connect(self.path, busy_timeout_ms=busy_timeout_ms)
        try:
            _migrate(connection, self.path)
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    @contextmanager
    def writing(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error.

        ``durable`` fsyncs this commit (and every earlier one, which share the WAL)
        before returning, for records that must outlive a power loss.
        """
        with self._lock:
            connection = self._open_connection()
            if durable:
                connection.execute("PRAGMA synchronous = FULL")
            try:
                with _transaction(connection, "BEGIN IMMEDIATE") as inside:
                    yield inside
            finally:
                if durable:
                    connection.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same snapshot."""
        with self._lock, _transaction(self._open_connection(), "BEGIN") as connection:
            yield connection

    def close(self) -> None:
        """Close the connection; later use raises UnavailableError. Closing twice is harmless."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> SqliteDatabase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _open_connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise UnavailableError("the broker database is closed")
        return self._connection


def parse_stored(model: type[ModelT], body: str) -> ModelT:
    """A model from its stored JSON; UnavailableError (without the JSON) when it is unreadable."""
    try:
        return model.model_validate_json(body)
    except ValidationError:
        # The validation error quotes the stored values: keep them out of the message.
        raise UnavailableError(f"a stored {model.__name__} cannot be read") from None


def unavailable(error: sqlite3.Error) -> UnavailableError:
    """The failure as the broker reports it: the SQLite error name, never SQL or values."""
    name = getattr(error, "sqlite_errorname", None) or type(error).__name__
    return UnavailableError(f"the broker database failed ({name})")


@contextmanager
def _transaction(connection: sqlite3.Connection, begin: str) -> Iterator[sqlite3.Connection]:
    try:
        connection.execute(begin)
        yield connection
        connection.execute("COMMIT")
    except sqlite3.Error as error:
        _rollback(connection)
        raise unavailable(error) from None
    except BaseException:
        _rollback(connection)
        raise


def _rollback(connection: sqlite3.Connection) -> None:
    # A failed COMMIT or a broken connection may already have ended the transaction.
    with suppress(sqlite3.Error):
        if connection.in_transaction:
            connection.execute("ROLLBACK")


def _create_private(path: Path) -> None:
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as error:
        raise UnavailableError(f"{path} cannot be created ({error.strerror})") from None
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask; SQLite gives -wal and -shm this mode
    finally:
        os.close(descriptor)


def _connect(path: Path | str, *, busy_timeout_ms: int) -> sqlite3.Connection:
    if isinstance(path, Path):
        _create_private(path)
    try:
        # isolation_level=None: transactions are the explicit BEGIN/COMMIT of _transaction.
        # timeout sets SQLite's busy_timeout: how long to wait for another process's lock.
        connection = sqlite3.connect(
            path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as error:
        raise unavailable(error) from None
    try:
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        # NORMAL in WAL mode: a commit survives a process crash; a power loss may lose the
        # newest commits. writing(durable=True) makes one commit reach the disk first.
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as error:
        connection.close()
        raise unavailable(error) from None
    if isinstance(path, Path) and str(mode).lower() != "wal":
        connection.close()
        raise UnavailableError(f"{path} cannot use write-ahead logging (journal mode {mode})")
    return connection


def _migrate(connection: sqlite3.Connection, path: Path | str) -> None:
    with _transaction(connection, "BEGIN IMMEDIATE"):
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY,"
            " description TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
        )
        current = connection.execute(
            "SELECT coalesce(max(version), 0) FROM schema_migrations"
        ).fetchone()[0]
        if current > SCHEMA_VERSION:
            raise UnavailableError(
                f"{path} has schema version {current}, newer than this program's "
                f"{SCHEMA_VERSION}; upgrade agent-zero to open it"
            )
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (?, ?)",
                (migration.version, migration.description),
            )
