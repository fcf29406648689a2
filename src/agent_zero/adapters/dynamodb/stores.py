"""The principal directory, policy store and request store on DynamoDB, and their tables.

Each store keeps the contract of its port and of the in-memory fake: a conditional
write that loses raises ConflictError; every other failure raises UnavailableError
naming the operation and AWS's error code, never a value. Items keep the whole model
as JSON in ``body``; the other attributes exist to be looked up. Reads by key are
strongly consistent; reads through an index are eventually consistent on AWS (moto
answers them at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from agent_zero.adapters.dynamodb.tables import (
    BY_PRINCIPAL,
    BY_STATE,
    CLAIM_KIND,
    EPOCH,
    REQUEST_KIND,
    WriteCancelledError,
    call,
    names,
    number,
    parse_stored,
    read_all,
    string,
)
from agent_zero.domain.base import DomainModel
from agent_zero.domain.errors import ConflictError, UnavailableError
from agent_zero.domain.policies import PrincipalPolicy
from agent_zero.domain.principals import Principal
from agent_zero.domain.requests import RequestRecord, RequestState

ModelT = TypeVar("ModelT", bound=DomainModel)
Item = dict[str, Any]


class DynamoDBPrincipalDirectory:
    """Principals by id (partition key ``principal_id``)."""

    def __init__(self, *, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, principal_id: str) -> Principal | None:
        """The principal, or None."""
        key = {"principal_id": string(principal_id)}
        found = call(
            self._client, "GetItem", TableName=self._table, Key=key, ConsistentRead=True
        ).get("Item")
        return None if found is None else parse_stored(Principal, found)

    def list(self) -> Sequence[Principal]:
        """Every principal, by id (a Scan: the directory is small and always read whole)."""
        items = read_all(self._client, "Scan", TableName=self._table, ConsistentRead=True)
        return sorted((parse_stored(Principal, item) for item in items), key=lambda p: p.id)

    def put(self, principal: Principal) -> None:
        """Create or replace."""
        item = {"principal_id": string(principal.id), "body": string(principal.model_dump_json())}
        call(self._client, "PutItem", TableName=self._table, Item=item)


class DynamoDBPolicyStore:
    """Versioned policies (partition key ``principal_id``, sort key ``version``)."""

    def __init__(self, *, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def current(self, principal_id: str) -> PrincipalPolicy | None:
        """The newest version."""
        page = call(self._client, "Query", Limit=1, **self._versions(principal_id, forward=False))
        items = page.get("Items", [])
        return parse_stored(PrincipalPolicy, items[0]) if items else None

    def history(self, principal_id: str) -> Sequence[PrincipalPolicy]:
        """Every version, oldest first."""
        items = read_all(self._client, "Query", **self._versions(principal_id, forward=True))
        return [parse_stored(PrincipalPolicy, item) for item in items]

    def write(
        self, principal_id: str, *, text: str, author_id: str, at: datetime, expected_version: int
    ) -> PrincipalPolicy:
        """Append the next version, or ConflictError when another write came first."""
        if expected_version < 0:
            raise ConflictError(f"the policy is not at version {expected_version}; reload it")
        policy = PrincipalPolicy(
            principal_id=principal_id,
            version=expected_version + 1,
            text=text,
            author_id=author_id,
            created_at=at,
        )
        item = {
            "principal_id": string(principal_id),
            "version": number(policy.version),
            "body": string(policy.model_dump_json()),
        }
        put = {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#principal_id)",
            "ExpressionAttributeNames": names("principal_id"),
        }
        # Versions are contiguous, so "the expected one exists and the next does not" is
        # "the newest is the expected one"; one transaction checks both.
        expected = {"principal_id": string(principal_id), "version": number(expected_version)}
        check = {
            "TableName": self._table,
            "Key": expected,
            "ConditionExpression": "attribute_exists(#principal_id)",
            "ExpressionAttributeNames": names("principal_id"),
        }
        try:
            if expected_version == 0:
                call(self._client, "PutItem", **put)
            else:
                operations = [{"Put": put}, {"ConditionCheck": check}]
                call(self._client, "TransactWriteItems", TransactItems=operations)
        except WriteCancelledError as cancelled:
            cancelled.raise_unless_ordinary()
            raise ConflictError(
                f"the policy is no longer at version {expected_version}; reload it"
            ) from None
        return policy

    def _versions(self, principal_id: str, *, forward: bool) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "KeyConditionExpression": "#principal_id = :principal_id",
            "ExpressionAttributeNames": names("principal_id"),
            "ExpressionAttributeValues": {":principal_id": string(principal_id)},
            "ScanIndexForward": forward,
            "ConsistentRead": True,
        }


class DynamoDBRequestStore:
    """Requests by ``request_id``, with idempotency items beside them and two indexes.

    An idempotency item (``request_id`` = ``client#<principal>#<client request id>``, which
    no request id can equal) names the request it created. It is written in the same
    transaction as that request, so a retry always finds exactly one request to return.
    """

    def __init__(self, *, client: Any, table: str, attempts: int = 3) -> None:
        self._client = client
        self._table = table
        self._attempts = attempts

    def create(self, record: RequestRecord) -> RequestRecord:
        """Store, or return the earlier record with the same client request id."""
        request = record.request
        put = {
            "TableName": self._table,
            "Item": _request_item(record),
            "ConditionExpression": "attribute_not_exists(#request_id)",
            "ExpressionAttributeNames": names("request_id"),
        }
        if request.client_request_id is None:
            try:
                call(self._client, "PutItem", **put)
            except WriteCancelledError:
                raise ConflictError(f"request {record.request_id} already exists") from None
            return record
        claim_key = f"client#{request.principal_id}#{request.client_request_id}"
        claim = put | {
            "Item": {
                "request_id": string(claim_key),
                "kind": string(CLAIM_KIND),
                "target": string(record.request_id),
            }
        }
        for _attempt in range(self._attempts):
            try:
                call(
                    self._client, "TransactWriteItems", TransactItems=[{"Put": claim}, {"Put": put}]
                )
            except WriteCancelledError as cancelled:
                existing = self._claimed(claim_key)
                if existing is not None:
                    return existing
                cancelled.raise_unless_ordinary()
                if cancelled.failed(1):
                    raise ConflictError(f"request {record.request_id} already exists") from None
                continue  # a concurrent claim that did not commit after all: try again
            return record
        raise ConflictError("a request with this client request id is being created; retry")

    def get(self, request_id: str) -> RequestRecord | None:
        """One request."""
        found = self._get(request_id)
        if found is None or found.get("kind") != string(REQUEST_KIND):
            return None
        return parse_stored(RequestRecord, found)

    def replace(self, record: RequestRecord) -> RequestRecord:
        """Replace revision ``record.revision - 1``; ConflictError otherwise."""
        try:
            call(
                self._client,
                "PutItem",
                TableName=self._table,
                Item=_request_item(record),
                ConditionExpression="#revision = :previous",
                ExpressionAttributeNames=names("revision"),
                ExpressionAttributeValues={":previous": number(record.revision - 1)},
            )
        except WriteCancelledError:
            raise ConflictError(f"request {record.request_id} changed meanwhile") from None
        return record

    def list(
        self, *, state: RequestState | None = None, principal_id: str | None = None
    ) -> Sequence[RequestRecord]:
        """Newest first; requests received at the same instant come in no defined order."""
        if principal_id is not None:  # a principal has fewer requests than a state has
            request = _newest_first(BY_PRINCIPAL, "principal_id", principal_id)
            if state is not None:
                request["FilterExpression"] = "#state = :state"
                request["ExpressionAttributeNames"] |= names("state")
                request["ExpressionAttributeValues"][":state"] = string(state.value)
            items = read_all(self._client, "Query", TableName=self._table, **request)
        elif state is not None:
            request = _newest_first(BY_STATE, "state", state.value)
            items = read_all(self._client, "Query", TableName=self._table, **request)
        else:
            # The port returns every request, so any reading reads them all: a Scan does it
            # without a third index, its write cost, and one hot partition key for all.
            items = read_all(
                self._client,
                "Scan",
                TableName=self._table,
                FilterExpression="#kind = :request",
                ExpressionAttributeNames=names("kind"),
                ExpressionAttributeValues={":request": string(REQUEST_KIND)},
                ConsistentRead=True,
            )
            items.sort(key=lambda item: int(item["received_at"]["N"]), reverse=True)
        return [parse_stored(RequestRecord, item) for item in items]

    def _get(self, key: str) -> Item | None:
        answer = call(
            self._client,
            "GetItem",
            TableName=self._table,
            Key={"request_id": string(key)},
            ConsistentRead=True,
        )
        return cast(Item | None, answer.get("Item"))

    def _claimed(self, claim_key: str) -> RequestRecord | None:
        claim = self._get(claim_key)
        if claim is None:
            return None
        existing = self.get(str(claim.get("target", {}).get("S", "")))
        if existing is None:
            raise UnavailableError("a client request id names a request that is missing")
        return existing


def _request_item(record: RequestRecord) -> Item:
    request = record.request
    return {
        "request_id": string(record.request_id),
        "kind": string(REQUEST_KIND),
        "principal_id": string(request.principal_id),
        "state": string(record.state.value),
        "received_at": number(_epoch_microseconds(request.received_at)),
        "revision": number(record.revision),
        "body": string(record.model_dump_json()),
    }


def _newest_first(index: str, attribute: str, value: str) -> dict[str, Any]:
    return {
        "IndexName": index,
        "KeyConditionExpression": f"#{attribute} = :{attribute}",
        "ExpressionAttributeNames": names(attribute),
        "ExpressionAttributeValues": {f":{attribute}": string(value)},
        "ScanIndexForward": False,
    }


def _epoch_microseconds(moment: datetime) -> int:
    # An integer orders correctly across UTC offsets, which ISO strings would not.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    delta = aware - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
