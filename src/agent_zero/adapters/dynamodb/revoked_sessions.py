"""Signed-out web sessions shared by every instance of the web function.

A cookie cannot be forgotten by the browser that copied it, so a sign-out is
remembered until the session's token would have expired anyway. On Lambda each
instance has its own memory: the record must live in a table every instance reads.
DynamoDB's TTL removes items some time after ``expires_at``; reads compare the time
themselves, so a late removal never revives a session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from agent_zero.adapters.dynamodb.tables import call, number, string

TTL_ATTRIBUTE = "expires_at"


def revoked_sessions_table_definition(name: str) -> dict[str, Any]:
    """The CreateTable request (the CDK stack declares the same key and TTL attribute)."""
    return {
        "TableName": name,
        "KeySchema": [{"AttributeName": "session_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "session_id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


class DynamoDBRevokedSessions:
    """The RevokedSessions port on one table keyed by ``session_id``."""

    def __init__(
        self, *, client: Any, table: str, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock or (lambda: datetime.now(UTC))

    def revoke(self, sid: str, until: datetime) -> None:
        """Refuse ``sid`` until ``until``; a failure to store it is raised, never ignored."""
        item = {"session_id": string(sid), TTL_ATTRIBUTE: number(int(until.timestamp()) + 1)}
        call(self._client, "PutItem", TableName=self._table, Item=item)

    def is_revoked(self, sid: str) -> bool:
        """Signed out and not yet expired; a read that fails raises (the caller refuses)."""
        found = call(
            self._client,
            "GetItem",
            TableName=self._table,
            Key={"session_id": string(sid)},
            ConsistentRead=True,
        ).get("Item")
        if found is None:
            return False
        return int(found[TTL_ATTRIBUTE]["N"]) > self._clock().timestamp()
