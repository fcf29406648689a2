"""A principal's free-text access policy, kept as immutable numbered versions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from agent_zero.domain.base import DomainModel
from agent_zero.domain.principals import PrincipalId

MAX_POLICY_TEXT = 8_000


class PrincipalPolicy(DomainModel):
    """One version of the plain-words policy the reviewer judges requests against."""

    principal_id: PrincipalId
    version: Annotated[int, Field(ge=1)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_POLICY_TEXT)]
    author_id: PrincipalId
    created_at: datetime
