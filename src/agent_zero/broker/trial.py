""" "Try this policy": what the reviewer and the rules would do with a draft policy, minting
nothing.

An admin drafting a policy wants to see its effect before saving it: the draft and a
sample reason go through the same reviewer, guardrails, routing and compile-and-prove
steps as a real request, but no request is stored, nothing is audited as a decision
and nothing is minted. The reviewer sees the draft exactly as it would see the saved
policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent_zero.broker.access import Broker, compile_and_prove, needs_person, validate_reason
from agent_zero.broker.administration import require_admin
from agent_zero.broker.guardrails import check_proposal
from agent_zero.broker.ports import ReviewInput
from agent_zero.domain.errors import (
    InvalidInputError,
    ReviewerUnavailableError,
    SessionPolicyError,
)
from agent_zero.domain.policies import MAX_POLICY_TEXT, PrincipalPolicy
from agent_zero.domain.proposals import Proposal, ProposalDecision

TrialOutcome = Literal["would_approve", "would_wait_for_a_person", "would_deny"]


@dataclass(frozen=True, slots=True)
class PolicyTrial:
    """What would happen, and why."""

    outcome: TrialOutcome
    explanation: str
    proposal: Proposal | None
    violations: tuple[str, ...] = ()
    session_policy: str | None = None  # the compiled policy, when it would be approved


def try_policy(
    broker: Broker, *, actor_id: str, principal_id: str, policy_text: str, reason: str
) -> PolicyTrial:
    """Run the reviewer and the rules on a draft policy and a sample reason."""
    require_admin(broker, actor_id)
    principal = broker.directory.get(principal_id)
    if principal is None:
        raise InvalidInputError(f"there is no principal {principal_id}")
    text = policy_text.strip()
    if not text or len(text) > MAX_POLICY_TEXT:
        raise InvalidInputError(f"a policy is 1 to {MAX_POLICY_TEXT} characters of text")
    sample = validate_reason(reason)
    current = broker.policies.current(principal_id)
    draft = PrincipalPolicy(
        principal_id=principal_id,
        version=(current.version if current else 0) + 1,
        text=text,
        author_id=actor_id,
        created_at=broker.clock.now(),
    )
    catalog = broker.catalogs.catalog()
    view = broker.views.view(catalog, principal, broker.limits)
    try:
        proposal = broker.reviewer.review(
            ReviewInput(principal=principal, policy=draft, reason=sample, catalog=view)
        )
    except ReviewerUnavailableError:
        return PolicyTrial(
            "would_deny", "The reviewer was unavailable; nothing would be granted.", None
        )
    if proposal.decision is ProposalDecision.DENY:
        return PolicyTrial(
            "would_deny", proposal.rationale or "The reviewer would deny it.", proposal
        )
    violations = check_proposal(
        proposal, principal=principal, catalog=catalog, limits=broker.limits
    )
    if violations:
        return PolicyTrial(
            "would_deny",
            "The reviewer's proposal would break the access rules.",
            proposal,
            tuple(v.message for v in violations),
        )
    try:
        compiled = compile_and_prove(broker, principal, proposal.grants, catalog)
    except SessionPolicyError as error:
        return PolicyTrial(
            "would_deny", f"It could not be issued safely: {error.message}", proposal
        )
    session_policy = compiled.text if compiled.target_role_arn else None
    if proposal.decision is ProposalDecision.ESCALATE:
        return PolicyTrial(
            "would_wait_for_a_person",
            "The reviewer would ask a person.",
            proposal,
            (),
            session_policy,
        )
    if needs_person(proposal.grants, catalog):
        return PolicyTrial(
            "would_wait_for_a_person",
            "These resources need a person's approval.",
            proposal,
            (),
            session_policy,
        )
    return PolicyTrial("would_approve", "It would be approved.", proposal, (), session_policy)
