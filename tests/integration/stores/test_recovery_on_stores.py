"""Recovery over each store adapter: the queries it relies on (requests by state, a request's
audit trail) and the compare-and-set that fails a request once, on memory, SQLite and
DynamoDB (moto behind the IAM gateway, as the least-privilege broker user)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from agent_zero.adapters.aws.iam import revoked_sessions
from agent_zero.adapters.dynamodb import DynamoDBAuditLog, DynamoDBRequestStore
from agent_zero.adapters.memory import MovableClock, RecordingRevoker, ScriptedReviewer
from agent_zero.adapters.sqlite import SqliteDatabase
from agent_zero.broker.access import AccessCommand, request_access
from agent_zero.broker.ports import MintRequest, ReviewInput
from agent_zero.broker.recovery import RecoveryReport, recover_interrupted
from agent_zero.domain.audit import AuditEvent, verify_chain
from agent_zero.domain.credentials import Credentials
from agent_zero.domain.errors import UnavailableError
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Proposal
from agent_zero.domain.requests import AccessRequest, RequestRecord, RequestState
from agent_zero.lambdas.recovery import run_recovery
from agent_zero.sandbox.runtime import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from agent_zero.settings import Settings
from integration.stores.conftest import Backend, memory_backend, sqlite_backend
from integration.stores.dynamodb_backend import (
    BROKER_USER,
    DynamoDBSandbox,
    running_dynamodb,
)
from support.broker_world import APPROVE_READ, World


def _policy(effect: str, actions: list[str], resources: list[str]) -> str:
    statement = {"Effect": effect, "Action": actions, "Resource": resources}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class Crash(BaseException):
    """The process dies here."""


@pytest.fixture(scope="module")
def dynamodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBSandbox]:
    with running_dynamodb(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "memory":
        yield memory_backend()
    elif request.param == "sqlite":
        path = tmp_path / "broker.sqlite3"
        with SqliteDatabase(path) as database:
            yield sqlite_backend(database, path)
    else:
        sandbox: DynamoDBSandbox = request.getfixturevalue("dynamodb")
        yield sandbox.backend()


def test_recovery_fails_interrupted_requests_once_on_every_store(
    stores: Backend, customer: Principal
) -> None:
    world = World([customer], ScriptedReviewer(APPROVE_READ))
    revoker = RecordingRevoker()
    broker = dataclasses.replace(
        world.broker, requests=stores.requests, audit=stores.audit, revoker=revoker
    )

    def dies_reviewing(_request: ReviewInput) -> Proposal:
        raise Crash

    class MintThenCrash:
        def mint(self, request: MintRequest) -> Credentials:
            world.minter.mint(request)
            raise Crash

    command = AccessCommand(principal_id=customer.id, reason="My balance.")
    world.reviewer.script = dies_reviewing
    with pytest.raises(Crash):
        request_access(broker, command)
    world.reviewer.script = APPROVE_READ
    with pytest.raises(Crash):
        request_access(dataclasses.replace(broker, minter=MintThenCrash()), command)
    finished = request_access(broker, command).record  # a request that ended normally
    reviewing, minted = sorted(
        r.request_id for r in stores.requests.list(state=RequestState.RECEIVED)
    )
    world.clock.advance(5)

    report = recover_interrupted(broker, before=world.clock.now())
    assert sorted(report.failed) == [reviewing, minted]
    assert (report.revoked, report.skipped, report.unresolved) == ((minted,), (), ())
    assert revoker.revoked == [(world.minter.minted[0].role_arn, minted)]
    assert recover_interrupted(broker, before=world.clock.now()) == RecoveryReport()
    for request_id, stage in ((reviewing, "before minting"), (minted, "after minting")):
        record = stores.requests.get(request_id)
        assert record is not None
        assert record.state is RequestState.FAILED
        trail = stores.audit.records(request_id=request_id)
        assert [r.event for r in trail].count(AuditEvent.INTERRUPTED) == 1
        assert trail[-1].details["stage"] == stage
    assert stores.requests.get(finished.request_id) == finished
    assert verify_chain(list(stores.audit.records())) == []


def test_the_scheduled_function_recovers_on_dynamodb_and_fails_loudly_when_it_cannot(
    dynamodb: DynamoDBSandbox, customer: Principal
) -> None:
    """``lambdas.recovery.run_recovery`` as the function runs it: built from Settings alone."""
    tables = dynamodb.fresh_tables()
    prefix = tables.principals.removesuffix("principals")
    role = f"{prefix}target"
    role_arn = dynamodb.iam.create_role(
        RoleName=role, AssumeRolePolicyDocument=_policy("Allow", ["sts:AssumeRole"], ["*"])
    )["Role"]["Arn"]
    dynamodb.iam.put_user_policy(
        UserName=BROKER_USER,
        PolicyName=f"{prefix}revocations",
        PolicyDocument=_policy("Allow", ["iam:GetRolePolicy", "iam:PutRolePolicy"], [role_arn]),
    )
    keys = dynamodb.broker_keys
    session = boto3.Session(
        aws_access_key_id=keys["access_key_id"],
        aws_secret_access_key=keys["secret_access_key"],
        region_name=DEFAULT_REGION,
    )
    settings = Settings(
        environment="aws",
        aws_endpoint_url=dynamodb.sandbox.endpoint_url,
        table_prefix=prefix,
        account_id=DEFAULT_ACCOUNT_ID,
        cognito_user_pool_id="us-east-1_recovery",
    )
    requests = DynamoDBRequestStore(client=dynamodb.broker, table=tables.requests)
    audit = DynamoDBAuditLog(client=dynamodb.broker, table=tables.audit)
    clock = MovableClock(datetime.now(UTC) - timedelta(minutes=20))  # long dead requests

    def interrupted(request_id: str, *, minted_on: str | None) -> None:
        request = AccessRequest(
            request_id=request_id,
            principal_id=customer.id,
            reason="My balance.",
            received_at=clock.now(),
        )
        requests.create(RequestRecord(request=request, state=RequestState.RECEIVED))
        for event, details in [(AuditEvent.RECEIVED, {})] + (
            [(AuditEvent.MINTING, {"role_arn": minted_on, "duration_seconds": 900})]
            if minted_on
            else []
        ):
            audit.append(
                event,
                at=clock.now(),
                request_id=request_id,
                principal_id=customer.id,
                details=details,
            )

    interrupted("req-reviewing-1", minted_on=None)
    interrupted("req-minted-1", minted_on=role_arn)
    report = run_recovery(settings, session)
    assert sorted(report.failed) == ["req-minted-1", "req-reviewing-1"]
    assert report.revoked == ("req-minted-1",)
    document = dynamodb.iam.get_role_policy(RoleName=role, PolicyName="agent-zero-revocations")
    assert revoked_sessions(document["PolicyDocument"]) == ["req-minted-1"]
    # A session the broker may not revoke: the run says so and leaves the request as it is.
    elsewhere = dynamodb.iam.create_role(
        RoleName=f"{prefix}other", AssumeRolePolicyDocument=_policy("Allow", ["sts:*"], ["*"])
    )["Role"]["Arn"]
    interrupted("req-minted-2", minted_on=elsewhere)
    with pytest.raises(UnavailableError, match="1 interrupted request"):
        run_recovery(settings, session)
    stuck = requests.get("req-minted-2")
    assert stuck is not None
    assert stuck.state is RequestState.RECEIVED
