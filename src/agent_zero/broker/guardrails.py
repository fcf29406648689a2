"""Deterministic checks of a proposal against structured facts only.

They read the catalog, the principal's kind, groups and trusted attributes, and
the action table; never the request's free text. Every broken rule becomes a
``Violation`` with a sentence a person can act on; an empty list means the
proposal may be compiled.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated

from pydantic import Field

from agent_zero.domain.base import DomainModel
from agent_zero.domain.catalog import (
    MIN_SESSION_SECONDS,
    Catalog,
    CatalogEntry,
    Sensitivity,
    is_unscopable_row_action,
)
from agent_zero.domain.outcomes import Violation, ViolationCode
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from agent_zero.iam.actions import carries_condition_key, grants_permissions_management

LEADING_KEYS = "dynamodb:LeadingKeys"
# STS allows at most one hour when the caller is itself a role session (role chaining),
# which is how the broker runs on Lambda.
ROLE_CHAINING_MAX_SECONDS = 3_600


class GuardrailLimits(DomainModel):
    """Tunable limits; the defaults are the strict ones."""

    max_grants: Annotated[int, Field(ge=1, le=20)] = 5
    max_duration_seconds: Annotated[
        int, Field(ge=MIN_SESSION_SECONDS, le=ROLE_CHAINING_MAX_SECONDS)
    ] = ROLE_CHAINING_MAX_SECONDS
    sensitivity_by_kind: Mapping[PrincipalKind, Sensitivity] = Field(
        default_factory=lambda: {
            PrincipalKind.HUMAN: Sensitivity.HIGH,
            PrincipalKind.AGENT: Sensitivity.MEDIUM,
        }
    )
    # A group can raise a principal's ceiling (e.g. admins reach critical resources).
    sensitivity_by_group: Mapping[str, Sensitivity] = Field(
        default_factory=lambda: {"admins": Sensitivity.CRITICAL}
    )

    def ceiling_for(self, principal: Principal) -> Sensitivity:
        """The most sensitive resource ``principal`` may be granted."""
        levels = [self.sensitivity_by_kind.get(principal.kind, Sensitivity.LOW)]
        levels += [
            self.sensitivity_by_group[g] for g in principal.groups if g in self.sensitivity_by_group
        ]
        return max(levels, key=lambda level: level.rank)


def check_proposal(
    proposal: Proposal,
    *,
    principal: Principal,
    catalog: Catalog,
    limits: GuardrailLimits | None = None,
) -> list[Violation]:
    """Every rule the proposal breaks; a denial has nothing to check."""
    if proposal.decision is ProposalDecision.DENY:
        return []
    limits = limits or GuardrailLimits()
    violations: list[Violation] = []
    if not principal.enabled:
        violations.append(_v(ViolationCode.PRINCIPAL_DISABLED, f"{principal.id} is disabled."))
    violations += _check_shape(proposal, limits)
    seen: set[str] = set()
    entries: list[CatalogEntry] = []
    for grant in proposal.grants:
        if grant.resource_key in seen:
            violations.append(
                _v(
                    ViolationCode.DUPLICATE_GRANT,
                    "The same resource is granted twice.",
                    grant.resource_key,
                )
            )
        seen.add(grant.resource_key)
        entry = catalog.get(grant.resource_key)
        if entry is None:
            violations.append(
                _v(
                    ViolationCode.UNKNOWN_RESOURCE,
                    "The proposal names a resource that is not in the catalog.",
                    grant.resource_key[:128],
                )
            )
            continue
        entries.append(entry)
        violations += _check_grant(
            grant, entry, principal=principal, catalog=catalog, limits=limits
        )
    violations += _check_duration(proposal.duration_seconds, entries, limits)
    roles = {entry.target_role_arn for entry in entries if entry.is_aws}
    if len(roles) > 1:
        violations.append(
            _v(
                ViolationCode.MIXED_TARGET_ROLES,
                "The grants need more than one target role; request them separately.",
            )
        )
    return violations


def _v(code: ViolationCode, message: str, resource_key: str | None = None) -> Violation:
    return Violation(code=code, message=message, resource_key=resource_key)


def _check_shape(proposal: Proposal, limits: GuardrailLimits) -> list[Violation]:
    violations = []
    if proposal.decision is ProposalDecision.APPROVE and not proposal.grants:
        violations.append(_v(ViolationCode.NO_GRANTS, "An approval must grant something."))
    if len(proposal.grants) > limits.max_grants:
        violations.append(
            _v(
                ViolationCode.TOO_MANY_GRANTS,
                f"At most {limits.max_grants} grants fit in one request.",
            )
        )
    return violations


def _check_duration(
    duration: int, entries: list[CatalogEntry], limits: GuardrailLimits
) -> list[Violation]:
    if duration < MIN_SESSION_SECONDS:
        return [
            _v(
                ViolationCode.DURATION_TOO_SHORT,
                f"Sessions last at least {MIN_SESSION_SECONDS} seconds.",
            )
        ]
    ceiling = min([limits.max_duration_seconds, *(e.max_session_seconds for e in entries)])
    if duration > ceiling:
        return [
            _v(ViolationCode.DURATION_TOO_LONG, f"This access can last at most {ceiling} seconds.")
        ]
    return []


def _check_grant(
    grant: Grant,
    entry: CatalogEntry,
    *,
    principal: Principal,
    catalog: Catalog,
    limits: GuardrailLimits,
) -> Iterator[Violation]:
    key = entry.key
    if not entry.is_aws and not principal.in_any_group(entry.internal_groups):
        yield _v(
            ViolationCode.BROKER_RESOURCE_NOT_ALLOWED,
            "This broker resource is reserved for other groups.",
            key,
        )
    parent = catalog.parent_of(entry)
    # An index is for the same audience as its table.
    audience = entry.audience_groups | (parent.audience_groups if parent else frozenset())
    if audience and not principal.in_any_group(audience):
        yield _v(
            ViolationCode.OUTSIDE_AUDIENCE,
            "This resource is only for other groups of people.",
            key,
        )
    ceiling = limits.ceiling_for(principal)
    # An index exposes its table's rows, so it is at least as sensitive as the table.
    sensitivity = max(
        [entry.sensitivity] + ([parent.sensitivity] if parent else []), key=lambda s: s.rank
    )
    if sensitivity.rank > ceiling.rank:
        yield _v(
            ViolationCode.SENSITIVITY_TOO_HIGH,
            f"The resource is {sensitivity}; the limit for this principal is {ceiling}.",
            key,
        )
    if parent is not None and parent.row_scope is not None:
        yield _v(
            ViolationCode.INDEX_OF_ROW_SCOPED_TABLE,
            "Indexes of customer-owned tables are never granted.",
            key,
        )
    scoped = entry.row_scoped_for(principal)
    if scoped and entry.row_scope and principal.attribute(entry.row_scope.owner_attribute) is None:
        yield _v(
            ViolationCode.MISSING_OWNER_KEY,
            "The principal has no key to narrow this customer-owned table to.",
            key,
        )
    allowed = {action.lower() for action in entry.allowed_actions}
    for action in grant.actions:
        yield from _check_action(action, entry, allowed=allowed, scoped=scoped)


def _check_action(
    action: str, entry: CatalogEntry, *, allowed: set[str], scoped: bool
) -> Iterator[Violation]:
    key = entry.key
    shown = action[:128]
    if "*" in action or "?" in action:
        yield _v(
            ViolationCode.WILDCARD_ACTION, f"Wildcard actions are never granted ({shown}).", key
        )
        return
    if grants_permissions_management(action):
        yield _v(
            ViolationCode.PERMISSIONS_MANAGEMENT_ACTION,
            f"{shown} changes who may access the resource and is never granted.",
            key,
        )
    if action.lower() not in allowed:
        yield _v(ViolationCode.ACTION_NOT_ALLOWED, f"{shown} is not allowed on this resource.", key)
    if entry.row_scope is not None and is_unscopable_row_action(action):
        yield _v(
            ViolationCode.UNSCOPABLE_ACTION,
            f"{shown} reads past row scoping and is never granted on this table.",
            key,
        )
    elif scoped and not carries_condition_key(action, LEADING_KEYS):
        yield _v(
            ViolationCode.ACTION_WITHOUT_LEADING_KEYS,
            f"{shown} cannot be narrowed to the principal's own rows.",
            key,
        )
