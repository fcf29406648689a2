"""API Gateway WebSocket connections as the agent's Lambdas see them: who is connected,
and how frames reach them. In-memory fakes ship beside the ports."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import SecretStr

from agent_zero.domain.base import DomainModel
from agent_zero.domain.errors import UnavailableError


class Connection(DomainModel):
    """A connected user (the token is kept for on-behalf-of calls while connected)."""

    connection_id: str
    username: str
    access_token: SecretStr
    expires_at: datetime  # the token's expiry: the connection is useless after it
    turn_id: str | None = None  # the message whose turn is running, if one is
    turn_started: datetime | None = None


class ConnectionStore(Protocol):
    """Who is on which connection."""

    def put(self, connection: Connection) -> None:
        """Remember a connection."""
        ...

    def get(self, connection_id: str) -> Connection | None:
        """The connection, or None once it is gone."""
        ...

    def remove(self, connection_id: str) -> None:
        """Forget a connection."""
        ...

    def begin_turn(
        self, connection_id: str, message_id: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Mark a turn as running: False if the connection is gone or a turn started at or
        after ``stale_before`` still runs (one message at a time, across Lambda instances)."""
        ...

    def end_turn(self, connection_id: str, message_id: str) -> None:
        """Clear the mark, if it is still this message's."""
        ...


class InMemoryConnectionStore:
    """Connections in a dict (tests; one process)."""

    def __init__(self) -> None:
        # Single dict operations are atomic under the GIL; tests drive one handler at a time.
        self._connections: dict[str, Connection] = {}

    def put(self, connection: Connection) -> None:
        """Remember."""
        self._connections[connection.connection_id] = connection

    def get(self, connection_id: str) -> Connection | None:
        """Look up."""
        return self._connections.get(connection_id)

    def remove(self, connection_id: str) -> None:
        """Forget."""
        self._connections.pop(connection_id, None)

    def begin_turn(
        self, connection_id: str, message_id: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Mark, unless a recent turn runs."""
        found = self._connections.get(connection_id)
        if found is None:
            return False
        if found.turn_id is not None and found.turn_started and found.turn_started >= stale_before:
            return False
        self._connections[connection_id] = found.model_copy(
            update={"turn_id": message_id, "turn_started": now}
        )
        return True

    def end_turn(self, connection_id: str, message_id: str) -> None:
        """Clear this message's mark."""
        found = self._connections.get(connection_id)
        if found is not None and found.turn_id == message_id:
            self._connections[connection_id] = found.model_copy(
                update={"turn_id": None, "turn_started": None}
            )


class ConnectionGoneError(UnavailableError):
    """The client left; its turn has no one to answer."""

    code = "connection_gone"


class ConnectionPoster(Protocol):
    """Delivers bytes to one WebSocket connection (API Gateway's management API)."""

    def post(self, connection_id: str, data: bytes) -> None:
        """Deliver; ConnectionGoneError when the client has gone, UnavailableError otherwise."""
        ...


class InMemoryPoster:
    """Frames kept per connection; a connection in ``gone`` answers as API Gateway's 410."""

    def __init__(self) -> None:
        self.posted: dict[str, list[bytes]] = {}
        self.gone: set[str] = set()
        self.leaves_after: dict[str, int] = {}  # connection → frames it takes before leaving

    def post(self, connection_id: str, data: bytes) -> None:
        """Record, or refuse once the connection is gone."""
        delivered = self.posted.setdefault(connection_id, [])
        if len(delivered) >= self.leaves_after.get(connection_id, len(delivered) + 1):
            self.gone.add(connection_id)
        if connection_id in self.gone:
            raise ConnectionGoneError("the client disconnected")
        delivered.append(data)
