"""'Try this policy' (reviewer and rules on a draft, nothing minted) and the table of what a
session policy allows, computed with the IAM engine."""

from __future__ import annotations

import pytest

from agent_zero.adapters.memory import ScriptedReviewer
from agent_zero.broker.access import compile_and_prove
from agent_zero.broker.explain import what_it_allows
from agent_zero.broker.trial import try_policy
from agent_zero.domain.errors import PermissionDeniedError, ReviewerUnavailableError
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from support.broker_world import APPROVE_READ, READ_OWN, World

DRAFT = "Alice may read her own accounts to check balances."


def test_a_draft_goes_to_the_reviewer_and_mints_nothing(
    customer: Principal, admin: Principal
) -> None:
    world = World([customer, admin], ScriptedReviewer(APPROVE_READ))
    result = try_policy(
        world.broker, actor_id=admin.id, principal_id=customer.id, policy_text=DRAFT, reason="rent"
    )
    assert result.outcome == "would_approve"
    assert result.session_policy is not None
    assert '"dynamodb:LeadingKeys":["c-1001"]' in result.session_policy
    [seen] = world.reviewer.seen
    assert seen.policy.text == DRAFT  # the draft, not the saved version
    assert seen.policy.version == 4
    assert world.minter.minted == []
    assert world.requests.list() == []
    assert list(world.audit.records()) == []
    assert world.broker.policies.current(customer.id).text != DRAFT  # type: ignore[union-attr]


def test_a_proposal_that_breaks_the_rules_would_be_denied_with_the_rule_named(
    customer: Principal, admin: Principal
) -> None:
    greedy = Proposal(
        decision=ProposalDecision.APPROVE,
        grants=(Grant(resource_key="accounts", actions=("dynamodb:Scan",)),),
        duration_seconds=900,
    )
    world = World([customer, admin], ScriptedReviewer(greedy))
    result = try_policy(
        world.broker, actor_id=admin.id, principal_id=customer.id, policy_text=DRAFT, reason="x"
    )
    assert result.outcome == "would_deny"
    assert result.violations
    assert result.session_policy is None


@pytest.mark.parametrize(
    ("script", "outcome"),
    [
        (
            APPROVE_READ.model_copy(update={"decision": ProposalDecision.ESCALATE}),
            "would_wait_for_a_person",
        ),
        (APPROVE_READ.model_copy(update={"decision": ProposalDecision.DENY}), "would_deny"),
        (ReviewerUnavailableError("down"), "would_deny"),
    ],
)
def test_every_reviewer_answer_has_an_outcome(
    customer: Principal, admin: Principal, script: object, outcome: str
) -> None:
    world = World([customer, admin], ScriptedReviewer(script))  # type: ignore[arg-type]
    result = try_policy(
        world.broker, actor_id=admin.id, principal_id=customer.id, policy_text=DRAFT, reason="x"
    )
    assert result.outcome == outcome


def test_only_admins_try_policies(customer: Principal, staff: Principal) -> None:
    world = World([customer, staff], ScriptedReviewer(APPROVE_READ))
    with pytest.raises(PermissionDeniedError):
        try_policy(
            world.broker, actor_id=staff.id, principal_id=customer.id, policy_text=DRAFT, reason="x"
        )
    assert world.reviewer.seen == []


def test_the_allows_table_shows_own_rows_allowed_and_others_denied(
    customer: Principal, admin: Principal
) -> None:
    world = World([customer, admin], ScriptedReviewer(APPROVE_READ))
    compiled = compile_and_prove(world.broker, customer, (READ_OWN,), world.catalog)
    rows = what_it_allows(compiled.text, catalog=world.catalog, principal=customer)
    by_action = {(r.resource_key, r.action): r for r in rows}
    query = by_action[("accounts", "dynamodb:Query")]
    assert (query.own_rows, query.other_rows) == ("allowed", "denied")
    # Everything outside the grant is denied, whoever's rows.
    others = [
        r
        for r in rows
        if (r.resource_key, r.action)
        not in {("accounts", "dynamodb:GetItem"), ("accounts", "dynamodb:Query")}
    ]
    assert others
    assert all(r.own_rows == "denied" and r.other_rows in (None, "denied") for r in others)
