"""People deciding: approval by an admin who is not the requester, one collection, revocation."""

from __future__ import annotations

import threading

import pytest

from agent_zero.adapters.memory import ScriptedReviewer
from agent_zero.broker.approvals import (
    approve_request,
    collect_credentials,
    deny_request,
    revoke_request,
)
from agent_zero.domain.audit import AuditEvent, verify_chain
from agent_zero.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
)
from agent_zero.domain.outcomes import OutcomeStatus
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Grant, ProposalDecision
from agent_zero.domain.requests import RequestState
from support.broker_world import APPROVE_READ, READ_OWN, World

ESCALATE = APPROVE_READ.model_copy(update={"decision": ProposalDecision.ESCALATE})


@pytest.fixture
def world(customer: Principal, staff: Principal, admin: Principal) -> World:
    return World([customer, staff, admin], ScriptedReviewer(ESCALATE))


def pending_request(world: World, customer: Principal) -> str:
    result = world.ask(customer.id)
    assert result.record.state is RequestState.PENDING
    return result.record.request_id


def test_an_admin_approves_and_the_requester_collects_once(
    world: World, customer: Principal, admin: Principal
) -> None:
    request_id = pending_request(world, customer)
    approved = approve_request(
        world.broker, request_id, approver_id=admin.id, grants=(READ_OWN,), duration_seconds=900
    )
    assert approved.state is RequestState.APPROVED
    assert approved.decided_by == admin.id
    assert world.minter.minted == []  # nothing exists until the requester collects
    collected = collect_credentials(world.broker, request_id, principal_id=customer.id)
    assert collected.credentials is not None
    assert collected.record.session is not None
    assert world.minter.minted[0].source_identity == customer.id
    with pytest.raises(ConflictError, match="already collected"):
        collect_credentials(world.broker, request_id, principal_id=customer.id)
    assert len(world.minter.minted) == 1
    events = [r.event for r in world.audit.records(request_id=request_id)]
    assert events[-4:] == [
        AuditEvent.PENDING_APPROVAL,
        AuditEvent.APPROVED,
        AuditEvent.MINTING,
        AuditEvent.ISSUED,
    ]
    assert verify_chain(list(world.audit.records())) == []


def test_nobody_else_sees_or_collects_the_credentials(
    world: World, customer: Principal, admin: Principal, staff: Principal
) -> None:
    request_id = pending_request(world, customer)
    approve_request(
        world.broker, request_id, approver_id=admin.id, grants=(READ_OWN,), duration_seconds=900
    )
    for other in (admin.id, staff.id):
        with pytest.raises(NotFoundError):
            collect_credentials(world.broker, request_id, principal_id=other)
    assert world.minter.minted == []


def test_only_the_same_channel_collects(
    customer: Principal, admin: Principal, support_agent: Principal
) -> None:
    # A request made directly is not the agent's to collect, nor the other way round.
    world = World([customer, admin, support_agent], ScriptedReviewer(ESCALATE))
    direct = world.ask(customer.id).record.request_id
    via_agent = world.ask(customer.id, acting_agent_id=support_agent.id).record.request_id
    for request_id in (direct, via_agent):
        approve_request(
            world.broker, request_id, approver_id=admin.id, grants=(READ_OWN,), duration_seconds=900
        )
    with pytest.raises(NotFoundError):
        collect_credentials(
            world.broker, direct, principal_id=customer.id, acting_agent_id=support_agent.id
        )
    with pytest.raises(NotFoundError):
        collect_credentials(world.broker, via_agent, principal_id=customer.id)
    assert world.minter.minted == []
    collected = collect_credentials(
        world.broker, via_agent, principal_id=customer.id, acting_agent_id=support_agent.id
    )
    assert collected.credentials is not None


def test_only_admins_who_are_not_the_requester_decide(
    world: World, customer: Principal, staff: Principal, admin: Principal
) -> None:
    request_id = pending_request(world, customer)
    with pytest.raises(PermissionDeniedError):
        approve_request(
            world.broker, request_id, approver_id=staff.id, grants=(READ_OWN,), duration_seconds=900
        )
    own = world.ask(admin.id).record.request_id
    with pytest.raises(PermissionDeniedError, match="their own"):
        approve_request(
            world.broker, own, approver_id=admin.id, grants=(READ_OWN,), duration_seconds=900
        )


def test_an_approval_is_held_to_the_same_rules_as_a_reviewer(
    world: World, customer: Principal, admin: Principal
) -> None:
    request_id = pending_request(world, customer)
    scan = Grant(resource_key="accounts", actions=("dynamodb:Scan",))
    with pytest.raises(InvalidInputError, match="rules"):
        approve_request(
            world.broker, request_id, approver_id=admin.id, grants=(scan,), duration_seconds=900
        )
    with pytest.raises(InvalidInputError, match="at most"):
        approve_request(
            world.broker,
            request_id,
            approver_id=admin.id,
            grants=(READ_OWN,),
            duration_seconds=43_200,
        )
    assert world.requests.get(request_id).state is RequestState.PENDING  # type: ignore[union-attr]


def test_deciding_twice_is_a_conflict(world: World, customer: Principal, admin: Principal) -> None:
    request_id = pending_request(world, customer)
    denied = deny_request(world.broker, request_id, approver_id=admin.id, reason="Use the app.")
    assert denied.outcome is not None
    assert denied.outcome.status is OutcomeStatus.DENIED
    assert denied.outcome.reasons == ("Use the app.",)
    with pytest.raises(ConflictError):
        approve_request(
            world.broker, request_id, approver_id=admin.id, grants=(READ_OWN,), duration_seconds=900
        )
    assert (
        collect_credentials(world.broker, request_id, principal_id=customer.id).credentials is None
    )


def test_revocation_reaches_the_revoker_and_is_recorded_once(
    customer: Principal, admin: Principal, staff: Principal
) -> None:
    world = World([customer, admin, staff], ScriptedReviewer(APPROVE_READ))
    result = world.ask(customer.id)
    request_id = result.record.request_id
    with pytest.raises(NotFoundError):
        revoke_request(world.broker, request_id, by=staff.id)  # neither owner nor admin
    revoked = revoke_request(world.broker, request_id, by=admin.id)
    assert revoked.revoked_by == admin.id
    assert world.revoker.revoked == [(result.record.session.role_arn, request_id)]  # type: ignore[union-attr]
    revoke_request(world.broker, request_id, by=customer.id)
    assert len(world.revoker.revoked) == 1
    assert [r.event for r in world.audit.records(request_id=request_id)][-1] is AuditEvent.REVOKED


def approved_request(world: World, customer: Principal, admin: Principal) -> str:
    request_id = pending_request(world, customer)
    approve_request(
        world.broker, request_id, approver_id=admin.id, grants=(READ_OWN,), duration_seconds=900
    )
    return request_id


def test_an_approval_lapses_if_not_collected_in_time(
    world: World, customer: Principal, admin: Principal
) -> None:
    request_id = approved_request(world, customer, admin)
    world.clock.advance(16 * 60)
    with pytest.raises(ConflictError, match="lapsed"):
        collect_credentials(world.broker, request_id, principal_id=customer.id)
    assert world.minter.minted == []


def test_collection_rechecks_the_rules_and_the_policy_version(
    world: World, customer: Principal, admin: Principal
) -> None:
    request_id = approved_request(world, customer, admin)
    world.broker.policies.write(
        customer.id, text="Tighter.", author_id=admin.id, at=world.clock.now(), expected_version=3
    )
    with pytest.raises(ConflictError, match="policy changed"):
        collect_credentials(world.broker, request_id, principal_id=customer.id)
    other = approved_request(world, customer, admin)
    # The customer leaves the bank: no key any more, so the row-scoped grant no longer fits.
    world.broker.directory.put(customer.model_copy(update={"attributes": {}}))
    with pytest.raises(ConflictError, match="no longer fits"):
        collect_credentials(world.broker, other, principal_id=customer.id)
    assert world.minter.minted == []


def test_two_simultaneous_collections_mint_once(
    world: World, customer: Principal, admin: Principal
) -> None:
    request_id = approved_request(world, customer, admin)
    results: list[object] = []

    def collect() -> None:
        try:
            results.append(collect_credentials(world.broker, request_id, principal_id=customer.id))
        except ConflictError as error:
            results.append(error)

    threads = [threading.Thread(target=collect) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(world.minter.minted) == 1
    assert sum(isinstance(r, ConflictError) for r in results) == 1
    assert world.revoker.revoked == []  # the delivered session was not withdrawn


def test_an_approval_is_on_record_before_it_can_be_used(
    world: World, customer: Principal, admin: Principal
) -> None:
    request_id = pending_request(world, customer)
    world.audit.fail_on = {AuditEvent.APPROVED}
    with pytest.raises(UnavailableError):
        approve_request(
            world.broker, request_id, approver_id=admin.id, grants=(READ_OWN,), duration_seconds=900
        )
    assert world.requests.get(request_id).state is RequestState.PENDING  # type: ignore[union-attr]


def test_an_agent_in_the_admins_group_still_cannot_decide(
    customer: Principal, admin: Principal, support_agent: Principal
) -> None:
    # However it got there, an agent (driven by chats and documents) never approves.
    promoted = support_agent.model_copy(update={"groups": frozenset({"admins"})})
    world = World([customer, admin, promoted], ScriptedReviewer(ESCALATE))
    request_id = pending_request(world, customer)
    with pytest.raises(PermissionDeniedError, match="person"):
        approve_request(
            world.broker,
            request_id,
            approver_id=promoted.id,
            grants=(READ_OWN,),
            duration_seconds=900,
        )
    assert world.requests.get(request_id).state is RequestState.PENDING  # type: ignore[union-attr]
