"""Frames to API Gateway WebSocket clients through the management API."""

from __future__ import annotations

from typing import Any

from agent_zero.agent.connections import ConnectionGoneError
from agent_zero.domain.errors import UnavailableError


class ManagementApiPoster:
    """``PostToConnection`` with a boto3 ``apigatewaymanagementapi`` client built in wiring."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def post(self, connection_id: str, data: bytes) -> None:
        """Post one frame."""
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except Exception as error:
            code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
            if code == "GoneException":
                raise ConnectionGoneError("the client disconnected") from None
            # Never the exception text: it can carry request details.
            raise UnavailableError("the frame could not be delivered") from None
