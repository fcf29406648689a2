"""Each store port, once over the in-memory fakes and once over a SQLite file (WAL on disk)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_zero.adapters.memory import (
    InMemoryAuditLog,
    InMemoryPolicyStore,
    InMemoryPrincipalDirectory,
    InMemoryRequestStore,
)
from agent_zero.adapters.sqlite import (
    SqliteAuditLog,
    SqliteDatabase,
    SqlitePolicyStore,
    SqlitePrincipalDirectory,
    SqliteRequestStore,
)
from agent_zero.broker.ports import AuditLog, PolicyStore, PrincipalDirectory, RequestStore
from agent_zero.domain.audit import AuditEvent


@dataclass(frozen=True)
class Backend:
    """One backend's stores, and a way to make its audit log fail for a while."""

    directory: PrincipalDirectory
    policies: PolicyStore
    requests: RequestStore
    audit: AuditLog
    audit_outage: Callable[[], AbstractContextManager[None]]


def memory_backend() -> Backend:
    audit = InMemoryAuditLog()

    @contextmanager
    def outage() -> Iterator[None]:
        audit.fail_on = set(AuditEvent)
        try:
            yield
        finally:
            audit.fail_on = set()

    return Backend(
        directory=InMemoryPrincipalDirectory(),
        policies=InMemoryPolicyStore(),
        requests=InMemoryRequestStore(),
        audit=audit,
        audit_outage=outage,
    )


def sqlite_backend(database: SqliteDatabase, path: Path) -> Backend:
    @contextmanager
    def outage() -> Iterator[None]:
        # Another process holds the write lock longer than the database waits for it.
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()

    return Backend(
        directory=SqlitePrincipalDirectory(database),
        policies=SqlitePolicyStore(database),
        requests=SqliteRequestStore(database),
        audit=SqliteAuditLog(database),
        audit_outage=outage,
    )


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        yield memory_backend()
        return
    path = tmp_path / "broker.sqlite3"
    with SqliteDatabase(path, busy_timeout_ms=100) as database:
        yield sqlite_backend(database, path)


@pytest.fixture
def directory(backend: Backend) -> PrincipalDirectory:
    return backend.directory


@pytest.fixture
def policy_store(backend: Backend) -> PolicyStore:
    return backend.policies


@pytest.fixture
def request_store(backend: Backend) -> RequestStore:
    return backend.requests


@pytest.fixture
def audit_log(backend: Backend) -> AuditLog:
    return backend.audit


@pytest.fixture
def audit_outage(backend: Backend) -> Callable[[], AbstractContextManager[None]]:
    return backend.audit_outage
