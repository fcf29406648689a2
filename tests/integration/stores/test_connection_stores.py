"""The agent's connection store: one contract, in memory and on DynamoDB (moto behind the
gateway, called as an IAM user allowed only the three item actions on that one table)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from agent_zero.adapters.dynamodb.connections import (
    DynamoDBConnectionStore,
    connections_table_definition,
)
from agent_zero.agent.connections import Connection, ConnectionStore, InMemoryConnectionStore
from agent_zero.domain.errors import UnavailableError
from integration.stores.dynamodb_backend import DynamoDBSandbox, client, running_dynamodb, table_arn

TOKEN = "eyJraWQiOi-access-token-kept-while-connected"
EXPIRY = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
STALE = timedelta(seconds=90)


@pytest.fixture(scope="module")
def dynamodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBSandbox]:
    with running_dynamodb(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


def dynamodb_store(running: DynamoDBSandbox) -> tuple[DynamoDBConnectionStore, str]:
    table = f"connections-{uuid.uuid4().hex[:6]}"  # outside the broker user's prefix
    running.root.create_table(**connections_table_definition(table))
    user = f"sockets-{uuid.uuid4().hex[:6]}"
    running.iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                "Resource": table_arn(table),
            }
        ],
    }
    running.iam.put_user_policy(UserName=user, PolicyName="c", PolicyDocument=json.dumps(policy))
    key = running.iam.create_access_key(UserName=user)["AccessKey"]
    dynamo = client(
        running.sandbox,
        "dynamodb",
        access_key_id=key["AccessKeyId"],
        secret_access_key=key["SecretAccessKey"],
    )
    return DynamoDBConnectionStore(client=dynamo, table=table), table


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> ConnectionStore:
    if request.param == "memory":
        return InMemoryConnectionStore()
    found, _table = dynamodb_store(request.getfixturevalue("dynamodb"))
    return found


def connection(connection_id: str = "c-1=", username: str = "alice.moreau") -> Connection:
    return Connection(
        connection_id=connection_id,
        username=username,
        access_token=SecretStr(TOKEN),
        expires_at=EXPIRY,
    )


def test_a_connection_is_found_as_it_was_put(store: ConnectionStore) -> None:
    store.put(connection())
    found = store.get("c-1=")
    assert found is not None
    assert found.username == "alice.moreau"
    assert found.access_token.get_secret_value() == TOKEN
    assert found.expires_at == EXPIRY


def test_an_unknown_connection_is_none(store: ConnectionStore) -> None:
    assert store.get("never-connected=") is None


def test_removed_connections_are_gone_and_removing_twice_is_fine(store: ConnectionStore) -> None:
    store.put(connection())
    store.remove("c-1=")
    store.remove("c-1=")
    assert store.get("c-1=") is None


def test_connections_are_kept_apart(store: ConnectionStore) -> None:
    store.put(connection("c-a=", "alice.moreau"))
    store.put(connection("c-b=", "ben.okafor"))
    store.remove("c-a=")
    found = store.get("c-b=")
    assert found is not None
    assert found.username == "ben.okafor"


def test_the_token_never_shows_in_a_connections_repr(store: ConnectionStore) -> None:
    store.put(connection())
    assert TOKEN not in repr(store.get("c-1="))


def test_dynamodb_items_expire_with_the_token_and_a_broken_item_leaks_nothing(
    dynamodb: DynamoDBSandbox,
) -> None:
    store, table = dynamodb_store(dynamodb)
    store.put(connection())
    item = dynamodb.root.get_item(TableName=table, Key={"connection_id": {"S": "c-1="}})["Item"]
    assert item["expires_at"] == {"N": str(int(EXPIRY.timestamp()))}  # the TTL attribute

    dynamodb.root.put_item(
        TableName=table,
        Item={"connection_id": {"S": "c-2="}, "access_token": {"S": TOKEN}},
    )
    with pytest.raises(UnavailableError) as broken:
        store.get("c-2=")
    assert TOKEN not in str(broken.value)


def test_a_denied_store_is_unavailable_without_the_token(dynamodb: DynamoDBSandbox) -> None:
    store, table = dynamodb_store(dynamodb)
    denied = DynamoDBConnectionStore(client=dynamodb.broker, table=table)  # not its table
    with pytest.raises(UnavailableError) as refused:
        denied.put(connection())
    assert "AccessDenied" in str(refused.value)
    assert TOKEN not in str(refused.value)
    assert store.get("c-1=") is None


def begin(
    store: ConnectionStore, message_id: str, at: datetime, connection_id: str = "c-1="
) -> bool:
    return store.begin_turn(connection_id, message_id, now=at, stale_before=at - STALE)


def test_one_turn_at_a_time_per_connection(store: ConnectionStore) -> None:
    store.put(connection())
    assert begin(store, "m-1", T0)
    assert not begin(store, "m-2", T0 + timedelta(seconds=5))  # busy
    running = store.get("c-1=")
    assert running is not None
    assert (running.turn_id, running.turn_started) == ("m-1", T0)
    store.end_turn("c-1=", "m-2")  # not its mark: nothing changes
    assert not begin(store, "m-2", T0 + timedelta(seconds=6))
    store.end_turn("c-1=", "m-1")
    assert begin(store, "m-2", T0 + timedelta(seconds=7))


def test_an_abandoned_turn_stops_holding_the_connection(store: ConnectionStore) -> None:
    store.put(connection())
    assert begin(store, "m-1", T0)
    assert begin(store, "m-2", T0 + STALE + timedelta(seconds=1))  # m-1's worker died
    store.end_turn("c-1=", "m-1")  # the late end of m-1 does not clear m-2's mark
    assert not begin(store, "m-3", T0 + STALE + timedelta(seconds=2))


def test_no_turn_starts_on_an_unknown_connection(store: ConnectionStore) -> None:
    assert not begin(store, "m-1", T0, connection_id="never-connected=")
    store.end_turn("never-connected=", "m-1")  # harmless
    assert store.get("never-connected=") is None
