"""An access request: who, why, and nothing else the caller could use to steer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from agent_zero.domain.base import DomainModel
from agent_zero.domain.principals import PrincipalId

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
