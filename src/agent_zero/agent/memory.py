"""In-memory fakes of the agent's ports, for tests of turns without a broker or AWS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_zero.agent.frames import ServerFrame
from agent_zero.agent.ports import BrokerAnswer, PolicyView
from agent_zero.domain.errors import ConflictError, NotFoundError


@dataclass
class ScriptedBroker:
    """Answers access requests in order from ``answers``; remembers every reason it was given."""

    answers: list[BrokerAnswer] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    collected: dict[str, BrokerAnswer] = field(default_factory=dict)

    def request_access(self, reason: str) -> BrokerAnswer:
        """The next scripted answer."""
        self.reasons.append(reason)
        return self.answers.pop(0)

    def collect(self, request_id: str) -> BrokerAnswer:
        """A scripted approval for an earlier request."""
        found = self.collected.get(request_id)
        if found is None:
            raise NotFoundError(f"no request {request_id}")
        return found


@dataclass
class InMemoryDataPlane:
    """Tables of items keyed by their key attributes' values."""

    tables: dict[str, list[dict[str, Any]]]
    calls: list[tuple[str, str]] = field(default_factory=list)

    def get(self, table: str, key: Mapping[str, str]) -> Mapping[str, Any] | None:
        """The first item matching every key attribute."""
        self.calls.append(("get", table))
        rows = self.tables.get(table, [])
        return next((r for r in rows if all(r.get(k) == v for k, v in key.items())), None)

    def query(
        self, table: str, partition_key: str, value: str, limit: int
    ) -> Sequence[Mapping[str, Any]]:
        """Items of one partition."""
        self.calls.append(("query", table))
        return [r for r in self.tables.get(table, []) if r.get(partition_key) == value][:limit]

    def put(self, table: str, item: Mapping[str, Any]) -> None:
        """Append one item."""
        self.calls.append(("put", table))
        self.tables.setdefault(table, []).append(dict(item))

    def delete(self, table: str, key: Mapping[str, str]) -> None:
        """Remove matching items."""
        self.calls.append(("delete", table))
        rows = self.tables.get(table, [])
        self.tables[table] = [r for r in rows if not all(r.get(k) == v for k, v in key.items())]


@dataclass
class InMemoryDataPlaneFactory:
    """Opens one shared in-memory data plane and records the credentials each open used."""

    plane: InMemoryDataPlane
    opened_with: list[Mapping[str, str]] = field(default_factory=list)

    def open(self, credentials: Mapping[str, str]) -> InMemoryDataPlane:
        """The shared plane (the credentials are recorded, not checked)."""
        self.opened_with.append(dict(credentials))
        return self.plane


@dataclass
class RecordingSink:
    """Keeps every frame a turn sent."""

    sent: list[ServerFrame] = field(default_factory=list)

    async def send(self, frame: ServerFrame) -> None:
        """Record one frame."""
        self.sent.append(frame)

    def types(self) -> list[str]:
        """The frame types, in order."""
        return [frame.type for frame in self.sent]


@dataclass
class InMemoryAdminDesk:
    """Policies in a dict; a write on top of a stale version is a ConflictError."""

    policies: dict[str, list[str]] = field(default_factory=dict)  # principal → versions
    writes: list[tuple[str, str]] = field(default_factory=list)

    def read_policy(self, principal_id: str) -> PolicyView:
        """The latest version."""
        versions = self.policies.get(principal_id, [])
        return PolicyView(
            principal_id=principal_id,
            version=len(versions),
            text=versions[-1] if versions else "",
        )

    def write_policy(self, principal_id: str, text: str, expected_version: int) -> int:
        """Append a version."""
        versions = self.policies.setdefault(principal_id, [])
        if expected_version != len(versions):
            raise ConflictError("the policy changed since it was read")
        versions.append(text)
        self.writes.append((principal_id, text))
        return len(versions)
