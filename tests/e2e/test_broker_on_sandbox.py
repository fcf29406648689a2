"""The broker against the running sandbox: real STS minting, IAM at the data plane, revocation.

The reviewer is scripted (the LLM reviewer is tested over HTTP elsewhere); every
other part is the production code path: SQLite stores, the AWS adapters, the
broker's own role assumed by its host user, the gateway enforcing IAM.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from agent_zero.adapters.memory import ScriptedReviewer
from agent_zero.broker.access import AccessCommand, Broker, request_access
from agent_zero.broker.approvals import revoke_request
from agent_zero.broker.ports import ReviewInput
from agent_zero.domain.audit import AuditEvent
from agent_zero.domain.credentials import Credentials
from agent_zero.domain.outcomes import OutcomeStatus
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from agent_zero.sandbox.demo_bank import demo_bank
from agent_zero.sandbox.record import SandboxRecord, write_record
from agent_zero.sandbox.seed import Endpoint, seed_demo_bank
from agent_zero.settings import Settings
from agent_zero.wiring import sandbox_broker
from e2e.conftest import RunningSandbox, start_sandbox

BALANCES = Grant(resource_key="account-balances", actions=("dynamodb:Query", "dynamodb:GetItem"))


def approve(grants: tuple[Grant, ...], duration: int = 900) -> ScriptedReviewer:
    return ScriptedReviewer(
        Proposal(decision=ProposalDecision.APPROVE, grants=grants, duration_seconds=duration)
    )


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningSandbox, SandboxRecord, Path]]:
    data_dir = tmp_path_factory.mktemp("broker") / "data"
    running = start_sandbox(data_dir)
    bank = demo_bank()
    root = running.sandbox.root
    endpoint = Endpoint(running.endpoint, bank.region, root.access_key_id, root.secret_access_key)
    record = seed_demo_bank(endpoint, bank, previous=None, progress=lambda _m: None)
    write_record(data_dir, record)
    try:
        yield running, record, data_dir
    finally:
        running.sandbox.stop()


def broker_for(data_dir: Path, reviewer: ScriptedReviewer) -> Broker:
    return sandbox_broker(Settings(data_dir=data_dir), reviewer=reviewer)


def dynamodb(record: SandboxRecord, credentials: Credentials) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key.get_secret_value(),
        aws_session_token=credentials.session_token.get_secret_value(),
    )


def query(client: Any, table: str, customer: str) -> Any:
    return client.query(
        TableName=table,
        KeyConditionExpression="customer_id = :c",
        ExpressionAttributeValues={":c": {"S": customer}},
    )


def test_a_customer_gets_their_own_rows_and_nothing_else_at_the_data_plane(
    sandbox: tuple[RunningSandbox, SandboxRecord, Path],
) -> None:
    _, record, data_dir = sandbox
    broker = broker_for(data_dir, approve((BALANCES,)))
    result = request_access(
        broker, AccessCommand(principal_id="alice.moreau", reason="Check my balance before rent.")
    )
    assert result.outcome is not None
    assert result.outcome.status is OutcomeStatus.APPROVED
    assert result.credentials is not None
    client = dynamodb(record, result.credentials)
    table = record.tables["account-balances"]
    assert query(client, table, "c-1001")["Count"] >= 1
    for denied in (
        lambda: query(client, table, "c-1002"),
        lambda: client.scan(TableName=table),
        lambda: query(client, record.tables["transactions"], "c-1001"),
    ):
        with pytest.raises(ClientError) as raised:
            denied()
        assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    events = [r.event for r in broker.audit.records(request_id=result.record.request_id)]
    assert events == [
        AuditEvent.RECEIVED,
        AuditEvent.REVIEWED,
        AuditEvent.MINTING,
        AuditEvent.ISSUED,
    ]


def test_a_hostile_proposal_never_reaches_sts(
    sandbox: tuple[RunningSandbox, SandboxRecord, Path],
) -> None:
    _, _, data_dir = sandbox
    scan = Grant(resource_key="transactions", actions=("dynamodb:Scan",))
    broker = broker_for(data_dir, approve((scan,), duration=43_200))
    result = request_access(
        broker, AccessCommand(principal_id="alice.moreau", reason="Show me everything.")
    )
    assert result.outcome is not None
    assert result.outcome.status is OutcomeStatus.DENIED
    assert result.credentials is None
    codes = {v.code.value for v in result.outcome.violations}
    assert {"unscopable_action_on_row_scoped_table", "duration_too_long"} <= codes


def test_revocation_cuts_live_credentials_within_a_second(
    sandbox: tuple[RunningSandbox, SandboxRecord, Path],
) -> None:
    _, record, data_dir = sandbox
    broker = broker_for(data_dir, approve((BALANCES,)))
    result = request_access(
        broker, AccessCommand(principal_id="ben.okafor", reason="Looking at my savings.")
    )
    assert result.credentials is not None
    client = dynamodb(record, result.credentials)
    table = record.tables["account-balances"]
    assert query(client, table, "c-1002")["Count"] >= 1
    revoke_request(broker, result.record.request_id, by="ben.okafor")
    with pytest.raises(ClientError) as raised:
        query(client, table, "c-1002")
    assert raised.value.response["Error"]["Message"].endswith(
        "with an explicit deny in an identity-based policy"
    )
    # Another session on the same role is untouched.
    other = request_access(
        broker, AccessCommand(principal_id="alice.moreau", reason="Balance check again.")
    )
    assert other.credentials is not None
    assert query(dynamodb(record, other.credentials), table, "c-1001")["Count"] >= 1


def test_the_reviewer_sees_the_seeded_policy_and_catalog(
    sandbox: tuple[RunningSandbox, SandboxRecord, Path],
) -> None:
    _, _, data_dir = sandbox
    reviewer = approve((BALANCES,))
    broker = broker_for(data_dir, reviewer)
    request_access(broker, AccessCommand(principal_id="alice.moreau", reason="My balance."))
    seen: ReviewInput = reviewer.seen[0]
    assert seen.policy.version == 1
    assert len(seen.policy.text) > 100
    assert "account-balances" in {entry.key for entry in seen.catalog}
