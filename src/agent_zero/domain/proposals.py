"""What a reviewer proposes: approve, deny or escalate, with grants and a duration.

A proposal is untrusted input to the deterministic rules: its fields are typed
loosely on purpose (any action string, any duration) so that a hostile or
confused reviewer's proposal is reported as violations, not lost to a parse error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from agent_zero.domain.base import DomainModel

MAX_RATIONALE_CHARS = 2_000


class ProposalDecision(StrEnum):
    """The reviewer's verdict."""

    APPROVE = "approve"
    DENY = "deny"
    ESCALATE = "escalate"


class Risk(StrEnum):
    """The reviewer's estimate of the request's risk."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Grant(DomainModel):
    """Actions on one catalog resource, named by its key."""

    resource_key: Annotated[str, Field(min_length=1, max_length=128)]
    actions: tuple[Annotated[str, Field(min_length=1, max_length=128)], ...] = Field(min_length=1)

    def covers(self, action: str) -> bool:
        """Whether this grant names ``action`` exactly (IAM action names are case-insensitive)."""
        lowered = action.lower()
        return any(granted.lower() == lowered for granted in self.actions)


class Proposal(DomainModel):
    """A reviewer's proposal, before the guardrails have had their say."""

    decision: ProposalDecision
    grants: tuple[Grant, ...] = ()
    duration_seconds: int = 900
    risk: Risk = Risk.MEDIUM
    rationale: Annotated[str, Field(max_length=MAX_RATIONALE_CHARS)] = ""
