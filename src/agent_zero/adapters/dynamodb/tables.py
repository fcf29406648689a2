"""The broker's DynamoDB tables, and the small helpers every store uses to call them.

Failures become UnavailableError naming the operation and AWS's error code, never a
value; a refused condition becomes ConflictError (or WriteCancelledError for a
transaction, so the caller can tell which part lost).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from agent_zero.domain.base import DomainModel
from agent_zero.domain.errors import UnavailableError

ModelT = TypeVar("ModelT", bound=DomainModel)
Item = dict[str, Any]

BY_PRINCIPAL = "by-principal"  # requests: principal_id + received_at
BY_STATE = "by-state"  # requests: state + received_at
BY_REQUEST = "by-request"  # audit records: request_id + sequence
REQUEST_KIND = "request"  # the ``kind`` of a request item
CLAIM_KIND = "client-request-id"  # the ``kind`` of an idempotency item
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DynamoDBTables:
    """The names of the broker's four tables."""

    principals: str
    policies: str
    requests: str
    audit: str

    @classmethod
    def with_prefix(cls, prefix: str) -> DynamoDBTables:
        """The four tables named ``<prefix>principals``, ``<prefix>policies`` and so on."""
        return cls(
            f"{prefix}principals", f"{prefix}policies", f"{prefix}requests", f"{prefix}audit"
        )


def _table(
    name: str, key: Sequence[tuple[str, str]], indexes: Mapping[str, Sequence[tuple[str, str]]]
) -> dict[str, Any]:
    def schema(attributes: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
        kinds = ("HASH", "RANGE")
        return [{"AttributeName": a, "KeyType": kinds[i]} for i, (a, _) in enumerate(attributes)]

    typed = dict(key) | {a: t for attributes in indexes.values() for a, t in attributes}
    definition: dict[str, Any] = {
        "TableName": name,
        "KeySchema": schema(key),
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": t} for a, t in typed.items()
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        definition["GlobalSecondaryIndexes"] = [
            {"IndexName": index, "KeySchema": schema(keys), "Projection": {"ProjectionType": "ALL"}}
            for index, keys in indexes.items()
        ]
    return definition


def table_definitions(tables: DynamoDBTables) -> list[dict[str, Any]]:
    """The CreateTable requests; the CDK stack must declare the same keys and indexes."""
    received = ("received_at", "N")  # epoch microseconds
    return [
        _table(tables.principals, [("principal_id", "S")], {}),
        _table(tables.policies, [("principal_id", "S"), ("version", "N")], {}),
        _table(
            tables.requests,
            [("request_id", "S")],
            {BY_PRINCIPAL: [("principal_id", "S"), received], BY_STATE: [("state", "S"), received]},
        ),
        _table(
            tables.audit,
            [("pk", "S"), ("sequence", "N")],
            {BY_REQUEST: [("request_id", "S"), ("sequence", "N")]},
        ),
    ]


def create_tables(client: Any, tables: DynamoDBTables) -> None:
    """Create whichever tables are missing (an existing one is kept as it is); wait for all."""
    definitions = table_definitions(tables)
    for definition in definitions:
        try:
            client.create_table(**definition)
        except ClientError as error:
            if _code(error) != "ResourceInUseException":  # it exists already
                raise unavailable("CreateTable", error) from None
        except BotoCoreError as error:
            raise unavailable("CreateTable", error) from None
    for definition in definitions:
        try:
            client.get_waiter("table_exists").wait(
                TableName=definition["TableName"], WaiterConfig={"Delay": 2, "MaxAttempts": 60}
            )
        except (ClientError, BotoCoreError) as error:
            raise unavailable("DescribeTable", error) from None


# --- calls, errors and attribute values ----------------------------------------------------


class WriteCancelledError(Exception):
    """A conditional write or transaction was refused; never leaves this package."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("the write was cancelled")
        self.reasons = tuple(reasons)  # one code per transaction item, "None" where it passed

    def failed(self, position: int) -> bool:
        """Whether the item at ``position`` failed its condition."""
        return len(self.reasons) > position and self.reasons[position] == "ConditionalCheckFailed"

    def raise_unless_ordinary(self) -> None:
        """UnavailableError unless every refusal was a condition or a concurrent transaction."""
        unusual = set(self.reasons) - {"None", "ConditionalCheckFailed", "TransactionConflict"}
        if unusual:  # e.g. ThrottlingError, ValidationError: codes only, never values
            codes = ", ".join(sorted(unusual))
            raise UnavailableError(f"DynamoDB TransactWriteItems was cancelled ({codes})")


def _code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def unavailable(operation: str, error: Exception) -> UnavailableError:
    """The failure as the broker reports it: the operation and AWS's code, never a value."""
    # AWS messages can quote keys and values of the request: keep only the code.
    return UnavailableError(f"DynamoDB {operation} failed ({_code(error)})")


def call(client: Any, operation: str, **request: Any) -> Item:
    """One call; a refused condition raises WriteCancelledError, other failures Unavailable."""
    method = re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower()  # GetItem -> get_item
    try:
        return cast(Item, getattr(client, method)(**request))
    except ClientError as error:
        code = _code(error)
        if code == "ConditionalCheckFailedException":
            raise WriteCancelledError(["ConditionalCheckFailed"]) from None
        if code == "TransactionCanceledException":
            reasons = error.response.get("CancellationReasons") or []
            raise WriteCancelledError([str(r.get("Code", "None")) for r in reasons]) from None
        raise unavailable(operation, error) from None
    except BotoCoreError as error:
        raise unavailable(operation, error) from None


def read_all(client: Any, operation: str, **request: Any) -> list[Item]:
    """Every item a Query or Scan finds, page after page."""
    items: list[Item] = []
    while True:
        page = call(client, operation, **request)
        items.extend(page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            return items
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def parse_stored(model: type[ModelT], item: Mapping[str, Any]) -> ModelT:
    """A model from an item's ``body``; UnavailableError (without the JSON) when unreadable."""
    body = item.get("body", {}).get("S")
    if not isinstance(body, str):
        raise UnavailableError(f"a stored {model.__name__} has no body")
    try:
        return model.model_validate_json(body)
    except ValidationError:
        # The validation error quotes the stored values: keep them out of the message.
        raise UnavailableError(f"a stored {model.__name__} cannot be read") from None


def string(value: str) -> dict[str, str]:
    """A string attribute value."""
    return {"S": value}


def number(value: int) -> dict[str, str]:
    """A number attribute value."""
    return {"N": str(value)}


def names(*attributes: str) -> dict[str, str]:
    """ExpressionAttributeNames: ``#state`` for ``state`` (many names are reserved words)."""
    return {f"#{attribute}": attribute for attribute in attributes}


# --- the stores -----------------------------------------------------------------------------
