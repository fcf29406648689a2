"""The broker's stores on one SQLite file: the sandbox's storage backend.

Open one ``SqliteDatabase`` and hand it to each store; the stores keep the
contracts of ``agent_zero.broker.ports`` and pass the same conformance suite
as the in-memory fakes.
"""

from agent_zero.adapters.sqlite.audit_log import SqliteAuditLog
from agent_zero.adapters.sqlite.database import SqliteDatabase
from agent_zero.adapters.sqlite.stores import (
    SqlitePolicyStore,
    SqlitePrincipalDirectory,
    SqliteRequestStore,
)

__all__ = [
    "SqliteAuditLog",
    "SqliteDatabase",
    "SqlitePolicyStore",
    "SqlitePrincipalDirectory",
    "SqliteRequestStore",
]
