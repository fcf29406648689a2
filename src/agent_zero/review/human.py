"""``HumanReviewer``: no model decides; every request waits for a person in the approval queue."""

from __future__ import annotations

from agent_zero.broker.ports import ReviewInput
from agent_zero.domain.proposals import Proposal, ProposalDecision, Risk


class HumanReviewer:
    """A ``Reviewer`` that escalates every request, proposing nothing: an approver picks the grants.

    It is what runs when no model is configured, so the broker works offline.
    """

    name = "human"

    def review(self, request: ReviewInput) -> Proposal:
        """An escalation with no grants; the guardrails still check what the approver picks."""
        return Proposal(
            decision=ProposalDecision.ESCALATE,
            risk=Risk.MEDIUM,
            rationale="No model reviews requests here: a person decides.",
        )
