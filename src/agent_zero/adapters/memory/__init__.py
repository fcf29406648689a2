"""In-memory fakes of every broker port, for unit tests and for people embedding the broker.

They keep the ports' contracts (conditional writes, idempotent creates, ordered
audit chain), so a test that passes on them says something about the real
adapters, which run the same conformance suite.
"""

from agent_zero.adapters.memory.stores import (
    InMemoryAuditLog,
    InMemoryPolicyStore,
    InMemoryPrincipalDirectory,
    InMemoryRequestStore,
)
from agent_zero.adapters.memory.world import (
    FakeCredentialMinter,
    MovableClock,
    RecordingRevoker,
    ScriptedReviewer,
    SequentialIds,
    StaticCatalogSource,
)

__all__ = [
    "FakeCredentialMinter",
    "InMemoryAuditLog",
    "InMemoryPolicyStore",
    "InMemoryPrincipalDirectory",
    "InMemoryRequestStore",
    "MovableClock",
    "RecordingRevoker",
    "ScriptedReviewer",
    "SequentialIds",
    "StaticCatalogSource",
]
