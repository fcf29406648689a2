"""An access request: who, why, and nothing else the caller could use to steer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from agent_zero.domain.base import DomainModel
from agent_zero.domain.credentials import IssuedSession
from agent_zero.domain.outcomes import Outcome
from agent_zero.domain.principals import PrincipalId
from agent_zero.domain.proposals import Proposal

MAX_REASON_CHARS = 2_000
RequestId = Annotated[str, Field(pattern=r"^req-[A-Za-z0-9-]{6,64}$")]
ClientRequestId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


class AccessRequest(DomainModel):
    """A request in plain words; resources and actions are never the caller's to name."""

    request_id: RequestId
    principal_id: PrincipalId
    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS)]
    received_at: datetime
    # Set when an agent asks on behalf of a signed-in person; both identities are verified.
    acting_agent_id: PrincipalId | None = None
    client_request_id: ClientRequestId | None = None
    console: bool = False  # a console sign-in link is wanted (staff humans only get one)
    verified_by: str = "unspecified"  # how the entry point proved the identity


class RequestState(StrEnum):
    """Where a request is in its life."""

    RECEIVED = "received"  # being decided: no outcome yet
    PENDING = "pending"  # waiting for a person in the approval queue
    APPROVED = "approved"
    DENIED = "denied"
    FAILED = "failed"  # a dependency failed; no credentials were issued


class RequestRecord(DomainModel):
    """A request and everything decided about it, stored as one versioned record."""

    request: AccessRequest
    state: RequestState
    revision: Annotated[int, Field(ge=1)] = 1  # for conditional (compare-and-set) updates
    policy_version: int | None = None
    proposal: Proposal | None = None
    outcome: Outcome | None = None
    session: IssuedSession | None = None
    decided_by: PrincipalId | None = None  # the approver, for human decisions
    decided_at: datetime | None = None
    collected_at: datetime | None = None  # claimed (compare-and-set) before minting, once
    revoked_by: PrincipalId | None = None
    revoked_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def request_id(self) -> str:
        """The request's id."""
        return self.request.request_id
