"""What the agent needs from the world: the broker, the data plane, and a frame sink."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import Field

from agent_zero.agent.frames import ServerFrame
from agent_zero.domain.base import DomainModel


class BrokerAnswer(DomainModel):
    """The broker's answer as the agent may keep it (credentials never reach the model)."""

    request_id: str
    status: str
    reasons: tuple[str, ...] = ()
    grants: tuple[str, ...] = ()  # catalog keys granted
    credentials: Mapping[str, str] | None = Field(default=None, repr=False)
    expires_at: str | None = None


class AccessBroker(Protocol):
    """Asks the broker, as the agent, on behalf of the signed-in user."""

    def request_access(self, reason: str) -> BrokerAnswer:
        """One access request; raises an AgentZeroError when the broker cannot be reached."""
        ...

    def collect(self, request_id: str) -> BrokerAnswer:
        """The user's earlier request: credentials once a person approved it."""
        ...


class PolicyView(DomainModel):
    """One principal's current policy, as an admin edits it."""

    principal_id: str
    version: int  # 0: none yet
    text: str


class AdminDesk(Protocol):
    """Administration as the signed-in admin (the broker checks the agent's grant)."""

    def read_policy(self, principal_id: str) -> PolicyView:
        """The current version; raises an AgentZeroError when refused."""
        ...

    def write_policy(self, principal_id: str, text: str, expected_version: int) -> int:
        """Write the version after ``expected_version``; ConflictError if it moved on."""
        ...


class Directory(Protocol):
    """The sign-in directory, reached with one turn's minted credentials."""

    def create_user(self, *, email: str, name: str, group: str) -> None:
        """A new account in ``group``; raises an AgentZeroError when refused."""
        ...


class DirectoryFactory(Protocol):
    """Opens the directory on a set of credentials."""

    def open(self, credentials: Mapping[str, str]) -> Directory:
        """A directory client that signs with exactly these credentials."""
        ...


class DataPlane(Protocol):
    """DynamoDB calls made with one turn's minted credentials, and nothing else."""

    def get(self, table: str, key: Mapping[str, str]) -> Mapping[str, Any] | None:
        """One item by its key."""
        ...

    def query(
        self, table: str, partition_key: str, value: str, limit: int
    ) -> Sequence[Mapping[str, Any]]:
        """Items of one partition."""
        ...

    def put(self, table: str, item: Mapping[str, Any]) -> None:
        """Write one item."""
        ...

    def delete(self, table: str, key: Mapping[str, str]) -> None:
        """Delete one item."""
        ...


class DataPlaneFactory(Protocol):
    """Opens the data plane on a set of credentials."""

    def open(self, credentials: Mapping[str, str]) -> DataPlane:
        """A data plane that signs with exactly these credentials."""
        ...


class FrameSink(Protocol):
    """Where a turn's frames go: a WebSocket, or API Gateway's management API."""

    async def send(self, frame: ServerFrame) -> None:
        """Deliver one frame (raises when the client is gone)."""
        ...
