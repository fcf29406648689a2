"""The demo bank end to end: broker role chain, compiled session policy, IAM at the data plane.

The broker host assumes the broker role, which assumes a target role with a
SourceIdentity, the request-id tag and the session policy that
``compile_session_policy`` produced for the approved grants. The credentials
then read exactly the customer's own rows of the demo tables through the
gateway, and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from agent_zero.broker.containment import prove_containment
from agent_zero.broker.session_policy import compile_session_policy
from agent_zero.domain.catalog import Catalog
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Grant
from agent_zero.sandbox.demo_bank import (
    BROKER_ROLE_NAME,
    CUSTOMER_DATA_ROLE_NAME,
    REQUEST_ID_TAG,
    TARGET_ACCESS_POLICY_NAME,
    DemoBank,
    demo_bank,
)
from agent_zero.sandbox.record import SandboxRecord
from agent_zero.sandbox.seed import Endpoint, seed_demo_bank
from e2e.conftest import RunningSandbox, start_sandbox


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningSandbox, SandboxRecord, DemoBank]]:
    running = start_sandbox(tmp_path_factory.mktemp("bank") / "sandbox")
    bank = demo_bank()
    root = running.sandbox.root
    endpoint = Endpoint(running.endpoint, bank.region, root.access_key_id, root.secret_access_key)
    record = seed_demo_bank(endpoint, bank, previous=None, progress=lambda _message: None)
    try:
        yield running, record, bank
    finally:
        running.sandbox.stop()


def boto(record: SandboxRecord, service: str, credentials: dict[str, Any]) -> Any:
    return boto3.client(
        service,
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
    )


def broker_session(record: SandboxRecord) -> dict[str, Any]:
    host = {
        "AccessKeyId": record.broker_host_credentials.access_key_id,
        "SecretAccessKey": record.broker_host_credentials.secret_access_key,
    }
    answer = boto(record, "sts", host).assume_role(
        RoleArn=record.roles[BROKER_ROLE_NAME], RoleSessionName="broker", DurationSeconds=3600
    )
    return dict(answer["Credentials"])


def mint_for(
    record: SandboxRecord, catalog: Catalog, principal: Principal, grants: list[Grant]
) -> dict[str, Any]:
    policy = compile_session_policy(grants, catalog=catalog, principal=principal)
    answer = boto(record, "sts", broker_session(record)).assume_role(
        RoleArn=policy.target_role_arn,
        RoleSessionName=f"req-{principal.id}"[:64],
        Policy=policy.text,
        SourceIdentity=principal.id,
        Tags=[{"Key": REQUEST_ID_TAG, "Value": "req-0001"}],
        DurationSeconds=900,
    )
    return dict(answer["Credentials"])


def customer(bank: DemoBank, key: str) -> Principal:
    return next(p for p in bank.principals() if p.attribute("customer_key") == key)


def test_a_customer_session_reads_only_that_customers_rows(
    seeded: tuple[RunningSandbox, SandboxRecord, DemoBank],
) -> None:
    _, record, bank = seeded
    catalog = bank.catalog(record.cognito.user_pool_id)
    alice = customer(bank, "c-1001")
    grants = [
        Grant(resource_key="account-balances", actions=("dynamodb:GetItem", "dynamodb:Query")),
        Grant(resource_key="transactions", actions=("dynamodb:Query",)),
    ]
    dynamodb = boto(record, "dynamodb", mint_for(record, catalog, alice, grants))
    balances = record.tables["account-balances"]
    transactions = record.tables["transactions"]

    own = dynamodb.query(
        TableName=balances,
        KeyConditionExpression="customer_id = :c",
        ExpressionAttributeValues={":c": {"S": "c-1001"}},
    )
    assert own["Count"] >= 1
    assert {item["customer_id"]["S"] for item in own["Items"]} == {"c-1001"}
    history = dynamodb.query(
        TableName=transactions,
        KeyConditionExpression="customer_id = :c AND begins_with(transaction_key, :m)",
        ExpressionAttributeValues={":c": {"S": "c-1001"}, ":m": {"S": "2026-"}},
    )
    assert history["Count"] >= 1

    def denied(call: Any) -> str:
        with pytest.raises(ClientError) as raised:
            call()
        return str(raised.value.response["Error"]["Code"])

    ben = {":c": {"S": "c-1002"}}
    assert (
        denied(
            lambda: dynamodb.query(
                TableName=balances,
                KeyConditionExpression="customer_id = :c",
                ExpressionAttributeValues=ben,
            )
        )
        == "AccessDeniedException"
    )
    assert denied(lambda: dynamodb.scan(TableName=transactions)) == "AccessDeniedException"
    assert (
        denied(
            lambda: dynamodb.get_item(
                TableName=record.tables["customer-profiles"], Key={"customer_id": {"S": "c-1001"}}
            )
        )
        == "AccessDeniedException"
    )
    assert (
        denied(
            lambda: dynamodb.put_item(
                TableName=balances,
                Item={"customer_id": {"S": "c-1001"}, "account_id": {"S": "forged"}},
            )
        )
        == "AccessDeniedException"
    )


def test_the_compiled_policy_proves_contained_against_the_seeded_role(
    seeded: tuple[RunningSandbox, SandboxRecord, DemoBank],
) -> None:
    _, record, bank = seeded
    catalog = bank.catalog(record.cognito.user_pool_id)
    alice = customer(bank, "c-1001")
    grants = [Grant(resource_key="account-balances", actions=("dynamodb:GetItem",))]
    compiled = compile_session_policy(grants, catalog=catalog, principal=alice)
    role_policy = bank.role(CUSTOMER_DATA_ROLE_NAME).inline_policies[TARGET_ACCESS_POLICY_NAME]
    assert (
        prove_containment([role_policy], compiled.text, grants, catalog=catalog, principal=alice)
        == []
    )


def test_the_target_role_refuses_a_session_without_source_identity_or_request_tag(
    seeded: tuple[RunningSandbox, SandboxRecord, DemoBank],
) -> None:
    _, record, _bank = seeded
    sts = boto(record, "sts", broker_session(record))
    target = record.roles[CUSTOMER_DATA_ROLE_NAME]
    for arguments in (
        {"Tags": [{"Key": REQUEST_ID_TAG, "Value": "req-1"}]},
        {"SourceIdentity": "alice.moreau"},
    ):
        with pytest.raises(ClientError) as raised:
            sts.assume_role(RoleArn=target, RoleSessionName="no-proof", **arguments)
        assert raised.value.response["Error"]["Code"] == "AccessDenied"
    # Nobody but the broker role may assume a target role, not even the sandbox admin.
    admin = {
        "AccessKeyId": record.admin_credentials.access_key_id,
        "SecretAccessKey": record.admin_credentials.secret_access_key,
    }
    with pytest.raises(ClientError) as raised:
        boto(record, "sts", admin).assume_role(
            RoleArn=target,
            RoleSessionName="admin",
            SourceIdentity="admin",
            Tags=[{"Key": REQUEST_ID_TAG, "Value": "req-2"}],
        )
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
