"""Who is on which API Gateway WebSocket connection, in DynamoDB (the Lambdas share no memory).

The item keeps the user's access token for on-behalf-of calls while they are connected:
the table is encrypted with a KMS key, and each item carries a TTL attribute at the token's
expiry. TTL only tidies up (it runs late); correctness comes from the message route, which
verifies the token again before every turn.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from agent_zero.adapters.dynamodb.tables import WriteCancelledError, call, number, string
from agent_zero.agent.connections import Connection
from agent_zero.domain.errors import UnavailableError

TTL_ATTRIBUTE = "expires_at"


def connections_table_definition(name: str) -> dict[str, Any]:
    """The CreateTable request (the CDK stack declares the same key and TTL attribute)."""
    return {
        "TableName": name,
        "KeySchema": [{"AttributeName": "connection_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "connection_id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


class DynamoDBConnectionStore:
    """The ConnectionStore port on one table keyed by ``connection_id``."""

    def __init__(self, *, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, connection: Connection) -> None:
        """Remember a connection (a reconnect with the same id replaces it)."""
        item = {
            "connection_id": string(connection.connection_id),
            "username": string(connection.username),
            "access_token": string(connection.access_token.get_secret_value()),
            TTL_ATTRIBUTE: number(int(connection.expires_at.timestamp())),
        }
        call(self._client, "PutItem", TableName=self._table, Item=item)

    def get(self, connection_id: str) -> Connection | None:
        """The connection, or None when it is gone."""
        found = call(
            self._client,
            "GetItem",
            TableName=self._table,
            Key={"connection_id": string(connection_id)},
            ConsistentRead=True,  # a message right after $connect must find it
        ).get("Item")
        if found is None:
            return None
        try:
            started = found.get("turn_started")
            return Connection(
                connection_id=found["connection_id"]["S"],
                username=found["username"]["S"],
                access_token=SecretStr(found["access_token"]["S"]),
                expires_at=datetime.fromtimestamp(int(found[TTL_ATTRIBUTE]["N"]), UTC),
                turn_id=found["turn_id"]["S"] if "turn_id" in found else None,
                turn_started=_from_micros(started["N"]) if started else None,
            )
        except (KeyError, ValueError, TypeError):
            # Never echo the item: it holds a token.
            raise UnavailableError("a stored connection cannot be read") from None

    def remove(self, connection_id: str) -> None:
        """Forget a connection (already gone is fine)."""
        call(
            self._client,
            "DeleteItem",
            TableName=self._table,
            Key={"connection_id": string(connection_id)},
        )

    def begin_turn(
        self, connection_id: str, message_id: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        """A conditional update: Lambda instances racing on one connection, one wins."""
        try:
            call(
                self._client,
                "UpdateItem",
                TableName=self._table,
                Key={"connection_id": string(connection_id)},
                UpdateExpression="SET turn_id = :turn, turn_started = :now",
                ConditionExpression=(
                    "attribute_exists(connection_id) AND "
                    "(attribute_not_exists(turn_id) OR turn_started < :stale)"
                ),
                ExpressionAttributeValues={
                    ":turn": string(message_id),
                    ":now": number(_micros(now)),
                    ":stale": number(_micros(stale_before)),
                },
            )
        except WriteCancelledError:
            return False
        return True

    def end_turn(self, connection_id: str, message_id: str) -> None:
        """Clear the mark if it is still this message's (a stale turn's end clears nothing)."""
        # Refused when gone, or when another turn took over after this one went stale.
        with contextlib.suppress(WriteCancelledError):
            call(
                self._client,
                "UpdateItem",
                TableName=self._table,
                Key={"connection_id": string(connection_id)},
                UpdateExpression="REMOVE turn_id, turn_started",
                ConditionExpression="turn_id = :turn",
                ExpressionAttributeValues={":turn": string(message_id)},
            )


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _from_micros(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1_000_000, UTC)
