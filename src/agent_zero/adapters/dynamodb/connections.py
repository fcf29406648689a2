"""Who is on which API Gateway WebSocket connection, in DynamoDB (the Lambdas share no memory).

The item keeps the user's access token for on-behalf-of calls while they are connected:
the table is encrypted with a KMS key, and each item carries a TTL attribute at the token's
expiry. TTL only tidies up (it runs late); correctness comes from the message route, which
verifies the token again before every turn.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from agent_zero.adapters.dynamodb.tables import call, number, string
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
            return Connection(
                connection_id=found["connection_id"]["S"],
                username=found["username"]["S"],
                access_token=SecretStr(found["access_token"]["S"]),
                expires_at=datetime.fromtimestamp(int(found[TTL_ATTRIBUTE]["N"]), UTC),
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
