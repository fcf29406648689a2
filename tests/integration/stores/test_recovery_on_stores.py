"""Recovery over each store adapter: the queries it relies on (requests by state, a request's
audit trail) and the compare-and-set that fails a request once, on memory, SQLite and
DynamoDB (moto behind the IAM gateway, as the least-privilege broker user)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_zero.adapters.memory import RecordingRevoker, ScriptedReviewer
from agent_zero.adapters.sqlite import SqliteDatabase
from agent_zero.broker.access import AccessCommand, request_access
from agent_zero.broker.ports import MintRequest, ReviewInput
from agent_zero.broker.recovery import RecoveryReport, recover_interrupted
from agent_zero.domain.audit import AuditEvent, verify_chain
from agent_zero.domain.credentials import Credentials
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Proposal
from agent_zero.domain.requests import RequestState
from integration.stores.conftest import Backend, memory_backend, sqlite_backend
from integration.stores.dynamodb_backend import DynamoDBSandbox, running_dynamodb
from support.broker_world import APPROVE_READ, World


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
