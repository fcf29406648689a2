"""Recovery after a crash: each point a process can die at, then one run of recovery.

A crash is a ``Crash`` raised from a fake at the chosen step: a BaseException, so no
handler in the broker catches it, like a kill -9 that stops the process there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from agent_zero.adapters.memory import InMemoryAuditLog, InMemoryRequestStore, ScriptedReviewer
from agent_zero.broker.access import AccessCommand, Broker, request_access
from agent_zero.broker.approvals import approve_request, collect_credentials
from agent_zero.broker.ports import MintRequest, ReviewInput
from agent_zero.broker.recovery import (
    LONGEST_REQUEST,
    RecoveryReport,
    interrupted_before,
    is_interrupted,
    recover_interrupted,
)
from agent_zero.domain.audit import AuditEvent, AuditRecord, AuditValue, verify_chain
from agent_zero.domain.credentials import Credentials
from agent_zero.domain.errors import UnavailableError
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Proposal, ProposalDecision
from agent_zero.domain.requests import RequestRecord, RequestState
from support.broker_world import APPROVE_READ, READ_OWN, World


class Crash(BaseException):
    """The process dies here."""


class CrashingAuditLog:
    """The audit log, dying just before it would append ``crash_on``."""

    def __init__(self, inner: InMemoryAuditLog, crash_on: AuditEvent) -> None:
        self.inner = inner
        self.crash_on = crash_on

    def append(
        self,
        event: AuditEvent,
        *,
        at: datetime,
        request_id: str | None,
        principal_id: str | None,
        details: Mapping[str, AuditValue],
    ) -> AuditRecord:
        if event is self.crash_on:
            raise Crash
        return self.inner.append(
            event, at=at, request_id=request_id, principal_id=principal_id, details=details
        )

    def records(self, *, request_id: str | None = None) -> Sequence[AuditRecord]:
        return self.inner.records(request_id=request_id)


class CrashingRequests:
    """The request store, dying just before it would store a record in ``crash_on``."""

    def __init__(self, inner: InMemoryRequestStore, crash_on: RequestState) -> None:
        self.inner = inner
        self.crash_on = crash_on

    def create(self, record: RequestRecord) -> RequestRecord:
        return self.inner.create(record)

    def get(self, request_id: str) -> RequestRecord | None:
        return self.inner.get(request_id)

    def replace(self, record: RequestRecord) -> RequestRecord:
        if record.state is self.crash_on:
            raise Crash
        return self.inner.replace(record)

    def list(
        self, *, state: RequestState | None = None, principal_id: str | None = None
    ) -> Sequence[RequestRecord]:
        return self.inner.list(state=state, principal_id=principal_id)


class ExpiryRevoker:
    """Remembers each revocation with the expiry it was given; ``failure`` makes it raise."""

    def __init__(self) -> None:
        self.revoked: list[tuple[str, str, datetime]] = []
        self.failure: Exception | None = None

    def revoke(self, *, role_arn: str, session_name: str, expires_at: datetime) -> None:
        if self.failure is not None:
            raise self.failure
        self.revoked.append((role_arn, session_name, expires_at))


@pytest.fixture
def world(customer: Principal, admin: Principal) -> World:
    world = World([customer, admin], ScriptedReviewer(APPROVE_READ))
    world.broker = dataclasses.replace(world.broker, revoker=ExpiryRevoker())
    return world


def revoker(world: World) -> ExpiryRevoker:
    found = world.broker.revoker
    assert isinstance(found, ExpiryRevoker)
    return found


def crash(broker: Broker, world: World, customer: Principal) -> str:
    """Ask through ``broker`` until it dies; the id of the request it was deciding."""
    with pytest.raises(Crash):
        request_access(broker, AccessCommand(principal_id=customer.id, reason="My balance."))
    [record] = [r for r in world.requests.list() if r.state is RequestState.RECEIVED]
    return record.request_id


def restart(world: World) -> RecoveryReport:
    """What the sandbox does when it starts: recover everything from before now."""
    world.clock.advance(5)
    return recover_interrupted(world.broker, before=world.clock.now())


def events(world: World, request_id: str) -> list[AuditEvent]:
    return [r.event for r in world.audit.records(request_id=request_id)]


def test_a_crash_while_the_reviewer_answers_fails_the_request_without_revoking(
    world: World, customer: Principal
) -> None:
    def dies(_request: ReviewInput) -> Proposal:
        raise Crash

    world.reviewer.script = dies
    request_id = crash(world.broker, world, customer)
    world.reviewer.script = APPROVE_READ
    report = restart(world)
    assert report == RecoveryReport(failed=(request_id,))
    assert world.requests.get(request_id).state is RequestState.FAILED  # type: ignore[union-attr]
    assert events(world, request_id) == [AuditEvent.RECEIVED, AuditEvent.INTERRUPTED]
    [interrupted] = world.audit.records(request_id=request_id)[-1:]
    assert interrupted.details == {"stage": "before minting", "state_was": "received"}
    assert revoker(world).revoked == []
    assert verify_chain(list(world.audit.records())) == []
    # The caller may ask again, and gets an answer.
    assert world.ask(customer.id).credentials is not None


class MintThenCrash:
    """STS mints the session, then the process dies before it hears back."""

    def __init__(self, world: World) -> None:
        self.world = world

    def mint(self, request: MintRequest) -> Credentials:
        self.world.minter.mint(request)
        raise Crash


def test_a_crash_right_after_sts_mints_revokes_the_session_until_it_could_expire(
    world: World, customer: Principal
) -> None:
    request_id = crash(
        dataclasses.replace(world.broker, minter=MintThenCrash(world)), world, customer
    )
    [minted] = world.minter.minted
    report = restart(world)
    assert report == RecoveryReport(failed=(request_id,), revoked=(request_id,))
    [(role_arn, session_name, expires_at)] = revoker(world).revoked
    assert (role_arn, session_name) == (minted.role_arn, minted.session_name)
    assert session_name == request_id
    # The session was minted before the restart, so it ends before now + its duration.
    assert expires_at == world.clock.now() + timedelta(seconds=minted.duration_seconds)
    assert events(world, request_id)[-2:] == [AuditEvent.MINTING, AuditEvent.INTERRUPTED]
    assert world.audit.records(request_id=request_id)[-1].details == {
        "stage": "after minting",
        "state_was": "received",
        "revoked_session": request_id,
    }
    assert world.requests.get(request_id).state is RequestState.FAILED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "dies_at",
    ["issued audit", "approved store"],
)
def test_a_crash_between_minting_and_the_approved_record_revokes(
    world: World, customer: Principal, dies_at: str
) -> None:
    broker = (
        dataclasses.replace(world.broker, audit=CrashingAuditLog(world.audit, AuditEvent.ISSUED))
        if dies_at == "issued audit"
        else dataclasses.replace(
            world.broker, requests=CrashingRequests(world.requests, RequestState.APPROVED)
        )
    )
    request_id = crash(broker, world, customer)
    report = restart(world)
    assert report.revoked == (request_id,)
    assert [name for _, name, _ in revoker(world).revoked] == [request_id]
    trail = events(world, request_id)
    assert trail[-1] is AuditEvent.INTERRUPTED
    assert (AuditEvent.ISSUED in trail) == (dies_at == "approved store")
    assert world.requests.get(request_id).state is RequestState.FAILED  # type: ignore[union-attr]


@pytest.mark.parametrize("decision", [ProposalDecision.DENY, ProposalDecision.ESCALATE])
def test_a_decision_audited_but_never_stored_ends_failed_not_half_done(
    world: World, customer: Principal, decision: ProposalDecision
) -> None:
    world.reviewer.script = APPROVE_READ.model_copy(update={"decision": decision})
    state = RequestState.DENIED if decision is ProposalDecision.DENY else RequestState.PENDING
    broker = dataclasses.replace(world.broker, requests=CrashingRequests(world.requests, state))
    request_id = crash(broker, world, customer)
    # Write-ahead: the decision is in the audit log although the record never said so.
    written = AuditEvent.DENIED if state is RequestState.DENIED else AuditEvent.PENDING_APPROVAL
    assert events(world, request_id)[-1] is written
    assert restart(world) == RecoveryReport(failed=(request_id,))
    assert events(world, request_id)[-1] is AuditEvent.INTERRUPTED
    assert revoker(world).revoked == []


def test_a_crash_mid_collection_revokes_and_fails_the_claimed_approval(
    world: World, customer: Principal, admin: Principal
) -> None:
    world.reviewer.script = APPROVE_READ.model_copy(update={"decision": ProposalDecision.ESCALATE})
    request_id = world.ask(customer.id).record.request_id
    approve_request(
        world.broker, request_id, approver_id=admin.id, grants=(READ_OWN,), duration_seconds=900
    )
    with pytest.raises(Crash):
        collect_credentials(
            dataclasses.replace(world.broker, minter=MintThenCrash(world)),
            request_id,
            principal_id=customer.id,
        )
    claimed = world.requests.get(request_id)
    assert claimed is not None
    assert claimed.state is RequestState.APPROVED
    assert claimed.collected_at is not None
    assert claimed.session is None
    report = restart(world)
    assert report == RecoveryReport(failed=(request_id,), revoked=(request_id,))
    assert world.requests.get(request_id).state is RequestState.FAILED  # type: ignore[union-attr]
    assert world.audit.records(request_id=request_id)[-1].details["state_was"] == "approved"


def test_finished_and_waiting_requests_are_left_alone(
    world: World, customer: Principal, admin: Principal
) -> None:
    issued = world.ask(customer.id).record
    world.reviewer.script = APPROVE_READ.model_copy(update={"decision": ProposalDecision.ESCALATE})
    pending = world.ask(customer.id).record
    approved = world.ask(customer.id).record.request_id
    approve_request(
        world.broker, approved, approver_id=admin.id, grants=(READ_OWN,), duration_seconds=900
    )  # approved, not yet collected: the requester still may
    before = {r.request_id: r for r in world.requests.list()}
    assert restart(world) == RecoveryReport()
    assert {r.request_id: r for r in world.requests.list()} == before
    assert issued.state is RequestState.APPROVED
    assert pending.state is RequestState.PENDING


def test_only_requests_older_than_the_bound_are_touched(world: World, customer: Principal) -> None:
    def dies(_request: ReviewInput) -> Proposal:
        raise Crash

    world.reviewer.script = dies
    request_id = crash(world.broker, world, customer)
    received_at = world.requests.get(request_id).request.received_at  # type: ignore[union-attr]
    # Still within the bound: it may be a live request on another machine.
    assert recover_interrupted(world.broker, before=received_at) == RecoveryReport()
    assert world.requests.get(request_id).state is RequestState.RECEIVED  # type: ignore[union-attr]
    assert interrupted_before(received_at + LONGEST_REQUEST) < received_at
    later = received_at + LONGEST_REQUEST + timedelta(minutes=2)
    assert interrupted_before(later) > received_at
    assert recover_interrupted(world.broker, before=interrupted_before(later)).failed == (
        request_id,
    )


def test_running_twice_fails_each_request_once(world: World, customer: Principal) -> None:
    request_id = crash(
        dataclasses.replace(world.broker, minter=MintThenCrash(world)), world, customer
    )
    assert restart(world).failed == (request_id,)
    assert restart(world) == RecoveryReport()
    assert events(world, request_id).count(AuditEvent.INTERRUPTED) == 1
    assert verify_chain(list(world.audit.records())) == []


def test_a_recovery_cut_short_is_finished_by_the_next_without_a_second_record(
    world: World, customer: Principal
) -> None:
    request_id = crash(
        dataclasses.replace(world.broker, minter=MintThenCrash(world)), world, customer
    )
    dying = dataclasses.replace(
        world.broker, requests=CrashingRequests(world.requests, RequestState.FAILED)
    )
    with pytest.raises(Crash):
        recover_interrupted(dying, before=world.clock.now() + timedelta(seconds=1))
    assert world.requests.get(request_id).state is RequestState.RECEIVED  # type: ignore[union-attr]
    assert restart(world).failed == (request_id,)
    assert events(world, request_id).count(AuditEvent.INTERRUPTED) == 1
    # Revoked on both runs: the second revocation of a session changes nothing.
    assert [name for _, name, _ in revoker(world).revoked] == [request_id, request_id]


def test_a_session_that_cannot_be_revoked_leaves_the_request_for_the_next_run(
    world: World, customer: Principal
) -> None:
    request_id = crash(
        dataclasses.replace(world.broker, minter=MintThenCrash(world)), world, customer
    )
    revoker(world).failure = UnavailableError("IAM is down")
    report = restart(world)
    assert report.unresolved == (request_id,)
    assert not report.clean
    # Fail closed: not failed, nothing claims the session was dealt with.
    assert world.requests.get(request_id).state is RequestState.RECEIVED  # type: ignore[union-attr]
    assert AuditEvent.INTERRUPTED not in events(world, request_id)
    revoker(world).failure = None
    assert restart(world) == RecoveryReport(failed=(request_id,), revoked=(request_id,))


def test_a_request_that_finishes_meanwhile_is_skipped(world: World, customer: Principal) -> None:
    def dies(_request: ReviewInput) -> Proposal:
        raise Crash

    world.reviewer.script = dies
    request_id = crash(world.broker, world, customer)
    record = world.requests.get(request_id)
    assert record is not None

    class FinishingAudit(CrashingAuditLog):
        """The slow request finishes while recovery writes its record."""

        def append(self, event: AuditEvent, **kwargs: Any) -> AuditRecord:
            appended = self.inner.append(event, **kwargs)
            if event is AuditEvent.INTERRUPTED:
                world.requests.replace(
                    record.model_copy(
                        update={"state": RequestState.DENIED, "revision": record.revision + 1}
                    )
                )
            return appended

    racing = dataclasses.replace(
        world.broker, audit=FinishingAudit(world.audit, AuditEvent.POLICY_CHANGED)
    )
    report = recover_interrupted(racing, before=world.clock.now() + timedelta(seconds=1))
    assert report == RecoveryReport(skipped=(request_id,))
    assert world.requests.get(request_id).state is RequestState.DENIED  # type: ignore[union-attr]


def test_is_interrupted_names_the_two_unfinished_shapes(world: World, customer: Principal) -> None:
    record = world.ask(customer.id).record
    later = world.clock.now() + timedelta(seconds=1)
    assert not is_interrupted(record, before=later)  # issued
    received = record.model_copy(update={"state": RequestState.RECEIVED, "session": None})
    assert is_interrupted(received, before=later)
    assert not is_interrupted(received, before=record.request.received_at)
    claimed = record.model_copy(update={"session": None, "collected_at": world.clock.now()})
    assert is_interrupted(claimed, before=later)
    revoked = claimed.model_copy(update={"revoked_at": world.clock.now()})
    assert not is_interrupted(revoked, before=later)
