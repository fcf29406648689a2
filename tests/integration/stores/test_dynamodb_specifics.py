"""What only DynamoDB has: several processes on one table, tamper checks, missing tables.

Each "process" is a store with its own client and (for the audit log) its own lock and
remembered head, as separate Lambda instances would have: the conditional writes, not
a lock in this process, must keep the data consistent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from agent_zero.adapters.dynamodb import (
    DynamoDBAuditLog,
    DynamoDBPolicyStore,
    DynamoDBPrincipalDirectory,
    DynamoDBRequestStore,
    DynamoDBTables,
    create_tables,
)
from agent_zero.domain.audit import AuditEvent, AuditRecord, verify_chain
from agent_zero.domain.errors import ConflictError, UnavailableError
from agent_zero.domain.requests import AccessRequest, RequestRecord, RequestState
from integration.stores.dynamodb_backend import DynamoDBSandbox, running_dynamodb

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
THREADS = 8
SECRET_REASON = "my card number is 4111-1111-1111-1111"


@pytest.fixture(scope="module")
def dynamodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBSandbox]:
    with running_dynamodb(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture
def tables(dynamodb: DynamoDBSandbox) -> DynamoDBTables:
    return dynamodb.fresh_tables()


def request_record(
    request_id: str, *, client_request_id: str | None = None, reason: str = "To check."
) -> RequestRecord:
    request = AccessRequest(
        request_id=request_id,
        principal_id="alice",
        reason=reason,
        received_at=T0,
        client_request_id=client_request_id,
    )
    return RequestRecord(request=request, state=RequestState.PENDING)


def append_records(audit: DynamoDBAuditLog, count: int) -> list[AuditRecord]:
    return [
        audit.append(
            AuditEvent.REVIEWED,
            at=T0,
            request_id="req-000001",
            principal_id="alice",
            details={"step": step},
        )
        for step in range(count)
    ]


def record_key(sequence: int) -> dict[str, dict[str, str]]:
    return {"pk": {"S": "chain"}, "sequence": {"N": str(sequence)}}


# --- several processes on one table -----------------------------------------------------


def test_appenders_in_separate_processes_form_one_chain(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    per_thread = 25
    start_together = threading.Barrier(THREADS)
    collisions: list[float] = []

    def sleep(seconds: float) -> None:
        collisions.append(seconds)
        time.sleep(seconds)

    def append_many(number: int) -> None:
        # Eight appenders appending back to back is a siege: let every one wait its turn.
        audit = DynamoDBAuditLog(
            client=dynamodb.broker_client(), table=tables.audit, attempts=200, sleep=sleep
        )
        start_together.wait(timeout=10)
        for step in range(per_thread):
            audit.append(
                AuditEvent.REVIEWED,
                at=T0,
                request_id=f"req-thread-{number}",
                principal_id="alice",
                details={"thread": number, "step": step},
            )

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(append_many, range(THREADS)))
    assert collisions  # the appenders did collide, and the losers chained onto the winners
    audit = DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    records = list(audit.records())
    assert [r.sequence for r in records] == list(range(1, THREADS * per_thread + 1))
    assert verify_chain(records) == []
    assert audit.verify() == []
    for number in range(THREADS):
        mine = audit.records(request_id=f"req-thread-{number}")
        assert [r.details["step"] for r in mine] == list(range(per_thread))


def test_an_appender_whose_remembered_head_is_stale_chains_onto_the_new_one(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    first = DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    second = DynamoDBAuditLog(client=dynamodb.broker_client(), table=tables.audit)
    append_records(first, 1)
    append_records(second, 2)
    [later] = append_records(first, 1)
    assert later.sequence == 4
    assert first.verify() == []


def test_an_appender_that_keeps_losing_gives_up_and_stores_nothing(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    patient = DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    hasty = DynamoDBAuditLog(client=dynamodb.broker_client(), table=tables.audit, attempts=1)
    append_records(hasty, 1)
    append_records(patient, 1)  # hasty's remembered head is now stale
    with pytest.raises(UnavailableError, match="busy with other appends"):
        append_records(hasty, 1)
    assert [r.sequence for r in patient.records()] == [1, 2]
    assert append_records(hasty, 1)[0].sequence == 3  # it reads the head afresh next time
    assert patient.verify() == []


def test_concurrent_policy_writers_in_separate_processes_leave_one_winner_per_version(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    rounds = 4
    start_together = threading.Barrier(THREADS)

    def writer(number: int) -> list[int]:
        store = DynamoDBPolicyStore(client=dynamodb.broker_client(), table=tables.policies)
        won = []
        for version in range(rounds):
            start_together.wait(timeout=10)
            try:
                store.write(
                    "alice",
                    text=f"By {number}.",
                    author_id=f"writer-{number}",
                    at=T0,
                    expected_version=version,
                )
            except ConflictError:
                continue
            won.append(version + 1)
        return won

    with ThreadPoolExecutor(THREADS) as pool:
        wins = list(pool.map(writer, range(THREADS)))
    assert sorted(version for versions in wins for version in versions) == [1, 2, 3, 4]
    history = DynamoDBPolicyStore(client=dynamodb.broker, table=tables.policies).history("alice")
    winners = {version: number for number, versions in enumerate(wins) for version in versions}
    assert [p.author_id for p in history] == [f"writer-{winners[v]}" for v in range(1, 5)]


def test_concurrent_retries_in_separate_processes_create_one_request_and_one_claim(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    start_together = threading.Barrier(THREADS)

    def create(number: int) -> RequestRecord:
        store = DynamoDBRequestStore(client=dynamodb.broker_client(), table=tables.requests)
        start_together.wait(timeout=10)
        return store.create(request_record(f"req-retry-{number:04d}", client_request_id="same"))

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(create, range(THREADS)))
    assert len({r.request_id for r in results}) == 1
    store = DynamoDBRequestStore(client=dynamodb.broker, table=tables.requests)
    assert list(store.list()) == [results[0]]
    stored = dynamodb.root.scan(TableName=tables.requests)["Items"]
    assert sorted(item["request_id"]["S"] for item in stored) == [
        "client#alice#same",
        results[0].request_id,
    ]
    assert store.get("client#alice#same") is None  # a claim is not a request


# --- tampering ----------------------------------------------------------------------------


def test_verify_reports_an_altered_record(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    audit = DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    append_records(audit, 4)
    assert audit.verify() == []
    body = dynamodb.root.get_item(TableName=tables.audit, Key=record_key(2))["Item"]["body"]["S"]
    dynamodb.root.update_item(
        TableName=tables.audit,
        Key=record_key(2),
        UpdateExpression="SET #body = :body",
        ExpressionAttributeNames={"#body": "body"},
        ExpressionAttributeValues={":body": {"S": body.replace('"step":1', '"step":7')}},
    )
    assert audit.records()[1].details == {"step": 7}
    assert audit.verify() == ["record 2 was altered after it was written"]


def test_verify_reports_a_record_refiled_under_another_request(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    audit = DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    append_records(audit, 2)
    dynamodb.root.update_item(
        TableName=tables.audit, Key=record_key(1), UpdateExpression="REMOVE request_id"
    )
    assert audit.verify() == ["record 1 is filed under columns that do not match it"]


@pytest.mark.parametrize("same_appender", [True, False], ids=["remembered-head", "fresh-read"])
def test_verify_reports_deleted_newest_records_and_appends_refuse_to_hide_them(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables, same_appender: bool
) -> None:
    audit = DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    append_records(audit, 5)
    for sequence in (4, 5):
        dynamodb.root.delete_item(TableName=tables.audit, Key=record_key(sequence))
    assert audit.verify() == ["the log ends at record 3 but its head is record 5"]
    appender = (
        audit if same_appender else DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    )
    with pytest.raises(UnavailableError, match="does not end at its head"):
        append_records(appender, 1)
    assert len(audit.records()) == 3


def test_verify_reports_a_deleted_middle_record_and_a_missing_head(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    audit = DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    append_records(audit, 3)
    dynamodb.root.delete_item(TableName=tables.audit, Key=record_key(2))
    dynamodb.root.delete_item(TableName=tables.audit, Key=record_key(0) | {"pk": {"S": "head"}})
    assert audit.verify() == [
        "record 2 has sequence 3",
        "record 3 does not follow the record before it",
        "the log has records but no head",
    ]
    fresh = DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    with pytest.raises(UnavailableError, match="does not end at its head"):
        append_records(fresh, 1)


def test_an_unreadable_item_is_reported_without_its_values(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    requests = DynamoDBRequestStore(client=dynamodb.broker, table=tables.requests)
    requests.create(request_record("req-000001", reason=SECRET_REASON))
    key = {"request_id": {"S": "req-000001"}}
    body = dynamodb.root.get_item(TableName=tables.requests, Key=key)["Item"]["body"]["S"]
    dynamodb.root.update_item(
        TableName=tables.requests,
        Key=key,
        UpdateExpression="SET #body = :body",
        ExpressionAttributeNames={"#body": "body"},
        ExpressionAttributeValues={":body": {"S": body[:90]}},
    )
    with pytest.raises(UnavailableError) as raised:
        requests.get("req-000001")
    assert raised.value.message == "a stored RequestRecord cannot be read"
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


# --- failures -----------------------------------------------------------------------------


def every_call(tables: DynamoDBTables, dynamodb: DynamoDBSandbox) -> list[Callable[[], object]]:
    directory = DynamoDBPrincipalDirectory(client=dynamodb.broker, table=tables.principals)
    policies = DynamoDBPolicyStore(client=dynamodb.broker, table=tables.policies)
    requests = DynamoDBRequestStore(client=dynamodb.broker, table=tables.requests)
    audit = DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    return [
        lambda: directory.get("alice"),
        directory.list,
        lambda: policies.current("alice"),
        lambda: policies.history("alice"),
        lambda: policies.write("alice", text="x", author_id="ada", at=T0, expected_version=0),
        lambda: policies.write("alice", text="x", author_id="ada", at=T0, expected_version=1),
        lambda: requests.create(request_record("req-000001")),
        lambda: requests.create(request_record("req-000001", client_request_id="c-1")),
        lambda: requests.get("req-000001"),
        lambda: requests.replace(request_record("req-000001").model_copy(update={"revision": 2})),
        lambda: requests.list(),
        lambda: requests.list(state=RequestState.PENDING),
        lambda: requests.list(principal_id="alice"),
        lambda: audit.append(
            AuditEvent.MINTING, at=T0, request_id=None, principal_id=None, details={}
        ),
        audit.records,
        lambda: audit.records(request_id="req-000001"),
        audit.verify,
    ]


def test_every_call_on_a_missing_table_is_unavailable_and_names_no_table(
    dynamodb: DynamoDBSandbox,
) -> None:
    missing = DynamoDBTables.with_prefix(f"{dynamodb.prefix}missing-")  # never created
    for call in every_call(missing, dynamodb):
        with pytest.raises(UnavailableError, match=r"^DynamoDB \w+ failed \(ResourceNotFound") as e:
            call()
        assert "missing" not in e.value.message
        assert e.value.__cause__ is None


def test_every_call_the_gateway_denies_is_unavailable(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    with (
        dynamodb.outage(tables.principals),
        dynamodb.outage(tables.policies),
        dynamodb.outage(tables.requests),
        dynamodb.outage(tables.audit),
    ):
        for call in every_call(tables, dynamodb):
            with pytest.raises(UnavailableError, match=r"\(AccessDeniedException\)$"):
                call()


def test_create_tables_is_idempotent_and_on_demand(
    dynamodb: DynamoDBSandbox, tables: DynamoDBTables
) -> None:
    create_tables(dynamodb.root, tables)  # they exist already: nothing happens
    described = dynamodb.root.describe_table(TableName=tables.requests)["Table"]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert sorted(i["IndexName"] for i in described["GlobalSecondaryIndexes"]) == [
        "by-principal",
        "by-state",
    ]
