"""The result of a request: approved, denied or pending, with the reasons why."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from agent_zero.domain.base import DomainModel
from agent_zero.domain.principals import PrincipalId
from agent_zero.domain.proposals import Grant, Risk


class ViolationCode(StrEnum):
    """Why the deterministic rules refused part of a proposal."""

    UNKNOWN_RESOURCE = "unknown_resource"
    ACTION_NOT_ALLOWED = "action_not_allowed"
    WILDCARD_ACTION = "wildcard_action"
    PERMISSIONS_MANAGEMENT_ACTION = "permissions_management_action"
    UNSCOPABLE_ACTION = "unscopable_action_on_row_scoped_table"
    INDEX_OF_ROW_SCOPED_TABLE = "index_of_row_scoped_table"
    ACTION_WITHOUT_LEADING_KEYS = "action_without_leading_keys"
    MISSING_OWNER_KEY = "missing_owner_key"
    SENSITIVITY_TOO_HIGH = "sensitivity_too_high"
    DURATION_TOO_SHORT = "duration_too_short"
    DURATION_TOO_LONG = "duration_too_long"
    TOO_MANY_GRANTS = "too_many_grants"
    NO_GRANTS = "no_grants"
    DUPLICATE_GRANT = "duplicate_grant"
    BROKER_RESOURCE_NOT_ALLOWED = "broker_resource_not_allowed"
    OUTSIDE_AUDIENCE = "outside_audience"
    PRINCIPAL_DISABLED = "principal_disabled"
    MIXED_TARGET_ROLES = "mixed_target_roles"


class Violation(DomainModel):
    """One broken rule, with a sentence a person can act on."""

    code: ViolationCode
    message: Annotated[str, Field(min_length=1)]
    resource_key: str | None = None


class OutcomeStatus(StrEnum):
    """Where a request ended up."""

    APPROVED = "approved"
    DENIED = "denied"
    PENDING = "pending"


class Outcome(DomainModel):
    """What the broker decided for one request; denials are values, audited like grants."""

    request_id: str
    principal_id: PrincipalId
    status: OutcomeStatus
    grants: tuple[Grant, ...] = ()
    duration_seconds: int | None = None
    expires_at: datetime | None = None
    risk: Risk | None = None
    reasons: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()
    policy_version: int | None = None
