"""The hash-chained audit log on DynamoDB, with a head item so that truncation shows.

Records live in one partition (``pk = "chain"``, sort key ``sequence``); the head item
(``pk = "head"``, ``sequence = 0``) holds the newest record's sequence, hash and body.
An append is one transaction of three parts: put record N+1 if it is absent, replace
the head if it still names record N, and check that record N is still stored with that
hash. Two appenders that read the same head cannot both commit, so the chain never
forks; the loser reads the new head and tries again. The last part refuses to chain
onto a log whose newest records were deleted, which ``verify()`` reports.

Every append writes the one head item, so appends are serialized across all writers:
about one per transaction round trip. Within a process a lock queues appenders
instead of letting them collide, and the head each append leaves is remembered, so
an uncontended append is a single call. The records' partition has no size limit
(the table has no local secondary index).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from agent_zero.adapters.dynamodb.tables import (
    BY_REQUEST,
    Item,
    WriteCancelledError,
    call,
    names,
    number,
    parse_stored,
    read_all,
    string,
)
from agent_zero.domain.audit import (
    AuditEvent,
    AuditRecord,
    AuditValue,
    chain_record,
    head_problems,
    verify_chain,
)
from agent_zero.domain.errors import UnavailableError

_CHAIN = "chain"
_HEAD = "head"
_HEAD_KEY = {"pk": string(_HEAD), "sequence": number(0)}
_HEAD_PART = 1  # the position of the head's Put in an append's transaction


class DynamoDBAuditLog:
    """The chained log; each append adds the next link and moves the head in one transaction."""

    def __init__(
        self,
        *,
        client: Any,
        table: str,
        attempts: int = 10,
        backoff_seconds: float = 0.005,
        max_backoff_seconds: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._sleep = sleep
        self._lock = threading.Lock()
        self._head: AuditRecord | None = None
        self._head_is_current = False  # False: read the head before the next append

    def append(
        self,
        event: AuditEvent,
        *,
        at: datetime,
        request_id: str | None,
        principal_id: str | None,
        details: Mapping[str, AuditValue],
    ) -> AuditRecord:
        """Chain and store one record; UnavailableError when it could not be stored."""
        with self._lock:
            for attempt in range(self._attempts):
                if not self._head_is_current:
                    self._head = self._read_head()
                    self._head_is_current = True
                record = chain_record(
                    self._head,
                    event=event,
                    at=at,
                    request_id=request_id,
                    principal_id=principal_id,
                    details=dict(details),
                )
                link = self._link(record, previous=self._head)
                self._head_is_current = False  # until the append is known to have landed
                try:
                    call(self._client, "TransactWriteItems", TransactItems=link)
                except WriteCancelledError as cancelled:
                    _raise_unless_contended(cancelled)
                    # Full jitter: appenders that collided spread out instead of colliding again.
                    ceiling = min(self._max_backoff, self._backoff * 2**attempt)
                    self._sleep(random.uniform(0, ceiling))  # noqa: S311
                    continue
                self._head, self._head_is_current = record, True
                return record
        raise UnavailableError("the audit log is busy with other appends; nothing was stored")

    def records(self, *, request_id: str | None = None) -> Sequence[AuditRecord]:
        """In order (one request's records come from an index: eventually consistent on AWS)."""
        if request_id is None:
            items = self._chain()
        else:
            items = read_all(
                self._client,
                "Query",
                TableName=self._table,
                IndexName=BY_REQUEST,
                KeyConditionExpression="#request_id = :request_id",
                ExpressionAttributeNames=names("request_id"),
                ExpressionAttributeValues={":request_id": string(request_id)},
            )
        return [parse_stored(AuditRecord, item) for item in items]

    def verify(self) -> list[str]:
        """Every break in the stored chain and its head, as sentences; empty when it verifies."""
        items = self._chain()
        head = self._get_head_item()
        problems: list[str] = []
        records: list[AuditRecord] = []
        for item in items:
            sequence = int(item["sequence"]["N"])
            try:
                record = parse_stored(AuditRecord, item)
            except UnavailableError:
                problems.append(f"record {sequence} cannot be read")
                continue
            filed = (sequence, item.get("request_id", {}).get("S"), item.get("hash", {}).get("S"))
            if (record.sequence, record.request_id, record.hash) != filed:
                problems.append(f"record {sequence} is filed under columns that do not match it")
            records.append(record)
        problems.extend(verify_chain(records))
        problems.extend(head_problems(records, None if head is None else _marker(head)))
        return problems

    def _link(self, record: AuditRecord, *, previous: AuditRecord | None) -> list[dict[str, Any]]:
        """The transaction that adds ``record`` after ``previous``, the head it chained to."""
        item: Item = {
            "pk": string(_CHAIN),
            "sequence": number(record.sequence),
            "hash": string(record.hash),
            "body": string(record.model_dump_json()),
        }
        if record.request_id is not None:  # absent, not null: the index stays sparse
            item["request_id"] = string(record.request_id)
        head: dict[str, Any] = {
            "TableName": self._table,
            "Item": _HEAD_KEY
            | {
                "head_sequence": number(record.sequence),
                "head_hash": string(record.hash),
                "body": item["body"],
            },
        }
        put = {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": names("pk"),
        }
        if previous is None:
            head["ConditionExpression"] = "attribute_not_exists(#pk)"
            head["ExpressionAttributeNames"] = names("pk")
            return [{"Put": put}, {"Put": head}]
        head["ConditionExpression"] = "#head_sequence = :sequence AND #head_hash = :hash"
        head["ExpressionAttributeNames"] = names("head_sequence", "head_hash")
        head["ExpressionAttributeValues"] = {
            ":sequence": number(previous.sequence),
            ":hash": string(previous.hash),
        }
        newest = {
            "TableName": self._table,
            "Key": {"pk": string(_CHAIN), "sequence": number(previous.sequence)},
            "ConditionExpression": "#hash = :hash",
            "ExpressionAttributeNames": names("hash"),
            "ExpressionAttributeValues": {":hash": string(previous.hash)},
        }
        return [{"Put": put}, {"Put": head}, {"ConditionCheck": newest}]

    def _read_head(self) -> AuditRecord | None:
        head = self._get_head_item()
        if head is None:
            return None
        record = parse_stored(AuditRecord, head)
        if (number(record.sequence), string(record.hash)) != (
            head.get("head_sequence"),
            head.get("head_hash"),
        ):
            raise UnavailableError("the audit log's head does not match its own record")
        return record

    def _get_head_item(self) -> Item | None:
        answer = call(
            self._client, "GetItem", TableName=self._table, Key=_HEAD_KEY, ConsistentRead=True
        )
        found: Item | None = answer.get("Item")
        return found

    def _chain(self) -> list[Item]:
        return read_all(
            self._client,
            "Query",
            TableName=self._table,
            KeyConditionExpression="#pk = :chain",
            ExpressionAttributeNames=names("pk"),
            ExpressionAttributeValues={":chain": string(_CHAIN)},
            ConsistentRead=True,
        )


def _raise_unless_contended(cancelled: WriteCancelledError) -> None:
    """Return when another appender got in first (worth a retry); raise otherwise."""
    cancelled.raise_unless_ordinary()
    if not cancelled.reasons or cancelled.failed(_HEAD_PART):
        return
    if "TransactionConflict" in cancelled.reasons:
        return
    # The head is as we read it, yet the next record exists or the newest is gone: chaining
    # on would hide the cut from verify(), so refuse instead.
    raise UnavailableError("the audit log does not end at its head; verify it")


def _marker(head: Item) -> tuple[int, str]:
    """The sequence and hash the head names (0 and "" when unreadable, which never match)."""
    sequence = head.get("head_sequence", {}).get("N", "0")
    return (int(sequence) if sequence.isdigit() else 0, str(head.get("head_hash", {}).get("S", "")))
