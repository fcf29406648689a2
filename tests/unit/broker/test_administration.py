"""Administration: admins read, but write only under an approved, active, unrevoked grant."""

from __future__ import annotations

import pytest

from agent_zero.adapters.memory import ScriptedReviewer
from agent_zero.broker.administration import (
    active_grant,
    audit_page,
    policy_history,
    put_principal,
    verify_audit,
    write_policy,
)
from agent_zero.broker.approvals import approve_request, revoke_request
from agent_zero.domain.audit import AuditEvent
from agent_zero.domain.errors import (
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
    UnavailableError,
)
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from agent_zero.domain.requests import RequestState
from support.broker_world import World

WRITE = Grant(resource_key="policy-store", actions=("broker:WritePolicy",))


@pytest.fixture
def second_admin(admin: Principal) -> Principal:
    return admin.model_copy(update={"id": "bea", "display_name": "Bea"})


@pytest.fixture
def world(customer: Principal, admin: Principal, second_admin: Principal) -> World:
    reviewer = ScriptedReviewer(
        Proposal(decision=ProposalDecision.APPROVE, grants=(WRITE,), duration_seconds=900)
    )
    return World([customer, admin, second_admin], reviewer)


def granted(world: World, admin: Principal, approver: Principal) -> str:
    pending = world.ask(admin.id, reason="Update Alice's policy after her account change.")
    assert pending.record.state is RequestState.PENDING  # broker-internal: a person decides
    approve_request(
        world.broker,
        pending.record.request_id,
        approver_id=approver.id,
        grants=(WRITE,),
        duration_seconds=900,
    )
    return pending.record.request_id


def test_writing_a_policy_needs_an_approved_grant(
    world: World, admin: Principal, second_admin: Principal, customer: Principal
) -> None:
    with pytest.raises(PermissionDeniedError, match="approved, active grant"):
        write_policy(
            world.broker,
            actor_id=admin.id,
            principal_id=customer.id,
            text="New.",
            expected_version=3,
        )
    request_id = granted(world, admin, second_admin)
    policy = write_policy(
        world.broker,
        actor_id=admin.id,
        principal_id=customer.id,
        text="May read own accounts only.",
        expected_version=3,
    )
    assert (policy.version, policy.author_id) == (4, admin.id)
    [changed] = [r for r in world.audit.records() if r.event is AuditEvent.POLICY_CHANGED]
    assert changed.request_id == request_id
    assert changed.details["version"] == 4
    with pytest.raises(ConflictError):  # a stale version never overwrites a newer one
        write_policy(
            world.broker,
            actor_id=admin.id,
            principal_id=customer.id,
            text="Old view.",
            expected_version=3,
        )
    assert world.minter.minted == []  # capabilities mint no STS credentials


def test_the_grant_ends_with_its_duration_or_a_revocation(
    world: World, admin: Principal, second_admin: Principal, customer: Principal
) -> None:
    request_id = granted(world, admin, second_admin)
    now = world.clock.now()
    assert active_grant(
        world.broker, admin.id, resource_key="policy-store", action="broker:WritePolicy", now=now
    )
    world.clock.advance(901)
    with pytest.raises(PermissionDeniedError):
        write_policy(
            world.broker,
            actor_id=admin.id,
            principal_id=customer.id,
            text="Late.",
            expected_version=3,
        )
    world.clock.advance(-901)
    revoke_request(world.broker, request_id, by=second_admin.id)
    with pytest.raises(PermissionDeniedError):
        write_policy(
            world.broker,
            actor_id=admin.id,
            principal_id=customer.id,
            text="Revoked.",
            expected_version=3,
        )


def test_a_grant_held_by_someone_else_does_not_count(
    world: World, admin: Principal, second_admin: Principal, customer: Principal
) -> None:
    granted(world, admin, second_admin)
    with pytest.raises(PermissionDeniedError):
        write_policy(
            world.broker,
            actor_id=second_admin.id,
            principal_id=customer.id,
            text="Mine?",
            expected_version=3,
        )


def test_non_admins_cannot_read_or_write(world: World, customer: Principal) -> None:
    with pytest.raises(PermissionDeniedError):
        audit_page(world.broker, actor_id=customer.id, request_id=None, offset=0, limit=10)
    with pytest.raises(PermissionDeniedError):
        put_principal(world.broker, actor_id=customer.id, principal=customer)


def test_the_audit_log_pages_and_verifies(
    world: World, admin: Principal, second_admin: Principal
) -> None:
    granted(world, admin, second_admin)
    everything = audit_page(world.broker, actor_id=admin.id, request_id=None, offset=0, limit=500)
    assert len(everything) >= 4
    second_page = audit_page(world.broker, actor_id=admin.id, request_id=None, offset=2, limit=2)
    assert second_page == everything[2:4]
    assert verify_audit(world.broker, actor_id=admin.id) == []


def test_nobody_writes_their_own_policy_and_changes_are_recorded_first(
    world: World, admin: Principal, second_admin: Principal, customer: Principal
) -> None:
    granted(world, admin, second_admin)
    with pytest.raises(PermissionDeniedError, match="their own"):
        write_policy(
            world.broker, actor_id=admin.id, principal_id=admin.id, text="All.", expected_version=3
        )
    world.audit.fail_on = {AuditEvent.POLICY_CHANGED}
    with pytest.raises(UnavailableError):
        write_policy(
            world.broker, actor_id=admin.id, principal_id=customer.id, text="X.", expected_version=3
        )
    assert world.broker.policies.current(customer.id).version == 3  # type: ignore[union-attr]


@pytest.fixture
def agent_world(
    customer: Principal, admin: Principal, second_admin: Principal, support_agent: Principal
) -> World:
    reviewer = ScriptedReviewer(
        Proposal(decision=ProposalDecision.APPROVE, grants=(WRITE,), duration_seconds=900)
    )
    return World([customer, admin, second_admin, support_agent], reviewer)


def test_an_agent_writes_for_an_admin_only_under_a_grant_it_requested_for_them(
    agent_world: World,
    admin: Principal,
    second_admin: Principal,
    customer: Principal,
    support_agent: Principal,
) -> None:
    world = agent_world
    granted(world, admin, second_admin)  # the admin's own grant, requested directly
    with pytest.raises(PermissionDeniedError, match="approved, active grant"):
        write_policy(
            world.broker,
            actor_id=admin.id,
            principal_id=customer.id,
            text="Written by the agent on a grant it never asked for.",
            expected_version=3,
            acting_agent_id=support_agent.id,
        )
    pending = world.ask(admin.id, reason="Update Alice's policy.", acting_agent_id=support_agent.id)
    approve_request(
        world.broker,
        pending.record.request_id,
        approver_id=second_admin.id,
        grants=(WRITE,),
        duration_seconds=900,
    )
    policy = write_policy(
        world.broker,
        actor_id=admin.id,
        principal_id=customer.id,
        text="May read own accounts only.",
        expected_version=3,
        acting_agent_id=support_agent.id,
    )
    assert (policy.version, policy.author_id) == (4, admin.id)
    [changed] = [r for r in world.audit.records() if r.event is AuditEvent.POLICY_CHANGED]
    assert changed.request_id == pending.record.request_id  # the agent's grant, not the admin's
    assert changed.details["agent"] == support_agent.id
    history = policy_history(
        world.broker,
        actor_id=admin.id,
        principal_id=customer.id,
        acting_agent_id=support_agent.id,
    )
    assert history[-1].version == 4


def test_an_agent_without_its_own_grant_cannot_read_policies_for_an_admin(
    agent_world: World, admin: Principal, customer: Principal, support_agent: Principal
) -> None:
    assert policy_history(agent_world.broker, actor_id=admin.id, principal_id=customer.id)
    with pytest.raises(PermissionDeniedError):
        policy_history(
            agent_world.broker,
            actor_id=admin.id,
            principal_id=customer.id,
            acting_agent_id=support_agent.id,
        )


def test_an_agent_never_writes_an_agents_or_an_admins_policy(
    agent_world: World,
    admin: Principal,
    second_admin: Principal,
    support_agent: Principal,
) -> None:
    world = agent_world
    pending = world.ask(admin.id, reason="Update a policy.", acting_agent_id=support_agent.id)
    approve_request(
        world.broker,
        pending.record.request_id,
        approver_id=second_admin.id,
        grants=(WRITE,),
        duration_seconds=900,
    )
    for target in (support_agent.id, second_admin.id):  # itself; the admin who approves
        with pytest.raises(PermissionDeniedError, match="non-admin person"):
            write_policy(
                world.broker,
                actor_id=admin.id,
                principal_id=target,
                text="Allow everything.",
                expected_version=0,
                acting_agent_id=support_agent.id,
            )
    assert AuditEvent.POLICY_CHANGED not in world.events()
    # The admin, acting directly, still may (under their own grant).
    granted(world, admin, second_admin)
    current = world.broker.policies.current(support_agent.id)
    written = write_policy(
        world.broker,
        actor_id=admin.id,
        principal_id=support_agent.id,
        text="Reads balances for the signed-in customer only.",
        expected_version=current.version if current else 0,
    )
    assert written.author_id == admin.id


def test_no_agent_is_made_an_admin_and_attribute_changes_are_audited(
    world: World, admin: Principal, second_admin: Principal, support_agent: Principal
) -> None:
    granted_directory(world, admin, second_admin)
    with pytest.raises(InvalidInputError, match="agent cannot be in the admins group"):
        put_principal(
            world.broker,
            actor_id=admin.id,
            principal=support_agent.model_copy(update={"groups": frozenset({"admins"})}),
        )
    customer = world.broker.directory.get("alice")
    assert customer is not None
    put_principal(
        world.broker,
        actor_id=admin.id,
        principal=customer.model_copy(update={"attributes": {"customer_key": "c-9999"}}),
    )
    [changed] = [r for r in world.audit.records() if r.event is AuditEvent.PRINCIPAL_CHANGED]
    assert changed.details["attributes"] == ("customer_key=c-9999",)


def granted_directory(world: World, admin: Principal, approver: Principal) -> None:
    directory = Grant(resource_key="principal-directory", actions=("broker:WritePrincipal",))
    world.reviewer.script = Proposal(
        decision=ProposalDecision.APPROVE, grants=(directory,), duration_seconds=900
    )
    pending = world.ask(admin.id, reason="Onboarding.")
    approve_request(
        world.broker,
        pending.record.request_id,
        approver_id=approver.id,
        grants=(directory,),
        duration_seconds=900,
    )
