"""DynamoDB for the agent's tools, signed with one turn's minted credentials only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from agent_zero.domain.errors import PermissionDeniedError, UnavailableError

_SERIALIZE = TypeSerializer()
_DESERIALIZE = TypeDeserializer()


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _DESERIALIZE.deserialize(value) for name, value in item.items()}


def _typed(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZE.serialize(value) for name, value in item.items()}


class MintedDynamoDB:
    """The DataPlane port on boto3, with explicit credentials (never the process's own)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get(self, table: str, key: Mapping[str, str]) -> Mapping[str, Any] | None:
        """One item."""
        found = self._call("GetItem", TableName=table, Key=_typed(key))
        return _plain(found["Item"]) if "Item" in found else None

    def query(
        self, table: str, partition_key: str, value: str, limit: int
    ) -> Sequence[Mapping[str, Any]]:
        """One partition's items."""
        found = self._call(
            "Query",
            TableName=table,
            KeyConditionExpression="#pk = :v",
            ExpressionAttributeNames={"#pk": partition_key},
            ExpressionAttributeValues={":v": {"S": value}},
            Limit=limit,
        )
        return [_plain(item) for item in found.get("Items", [])]

    def put(self, table: str, item: Mapping[str, Any]) -> None:
        """Write one item."""
        self._call("PutItem", TableName=table, Item=_typed(item))

    def delete(self, table: str, key: Mapping[str, str]) -> None:
        """Delete one item."""
        self._call("DeleteItem", TableName=table, Key=_typed(key))

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        method = getattr(self._client, _snake(operation))
        try:
            return dict(method(**request))
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("AccessDeniedException", "AccessDenied"):
                raise PermissionDeniedError("access to that was not granted") from None
            raise UnavailableError(f"DynamoDB {operation} failed ({code})") from None
        except BotoCoreError:
            raise UnavailableError(f"DynamoDB {operation} failed") from None


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


class MintedDynamoDBFactory:
    """Opens MintedDynamoDB on given credentials (endpoint and region from wiring)."""

    def __init__(self, *, region: str, endpoint_url: str | None = None) -> None:
        self._region = region
        self._endpoint = endpoint_url

    def open(self, credentials: Mapping[str, str]) -> MintedDynamoDB:
        """A client that signs only with these credentials."""
        client = boto3.client(
            "dynamodb",
            region_name=self._region,
            endpoint_url=self._endpoint,
            aws_access_key_id=credentials["access_key_id"],
            aws_secret_access_key=credentials["secret_access_key"],
            aws_session_token=credentials["session_token"],
            config=Config(retries={"max_attempts": 2}),
        )
        return MintedDynamoDB(client)
