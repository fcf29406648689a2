"""A parsed, validated IAM policy, compiled for fast matching."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agent_zero.iam.conditions import Condition
from agent_zero.iam.context import RequestContext
from agent_zero.iam.patterns import (
    Glob,
    Template,
    compile_glob,
    glob_matches,
    has_wildcard,
    plain_text,
    split_pieces_on_colons,
)


class PolicyKind(StrEnum):
    """Where a policy sits in AWS's evaluation logic."""

    IDENTITY = "identity"
    SESSION = "session"
    PERMISSIONS_BOUNDARY = "permissions_boundary"
    RESOURCE = "resource"


class Effect(StrEnum):
    """A statement's effect."""

    ALLOW = "Allow"
    DENY = "Deny"


VARIABLES_VERSION = "2012-10-17"


@dataclass(frozen=True, slots=True)
class ActionSet:
    """The actions a statement names: exact names and wildcard patterns, case-insensitive."""

    match_all: bool
    exact: frozenset[str]
    patterns: tuple[Glob, ...]

    def matches(self, action: str) -> bool:
        """Whether ``action`` (``service:Name``) is one of these actions."""
        if self.match_all:
            return True
        lowered = action.lower()
        if lowered in self.exact:
            return True
        return any(pattern.matches(lowered) for pattern in self.patterns)


@dataclass(frozen=True, slots=True)
class ResourcePattern:
    """One ``Resource`` entry: an ARN pattern, possibly with policy variables."""

    template: Template
    segments: tuple[Glob | str, ...] | None  # precompiled when static

    def matches(self, resource: str, parts: tuple[str, ...], context: RequestContext) -> bool:
        """Whether the split ARN ``parts`` match; a variable with no value matches nothing."""
        segments = self.segments
        if segments is None:
            pieces = self.template.resolve(context)
            if pieces is None:
                return False
            split = split_pieces_on_colons(pieces)
            if split is None:
                return False
            return all(glob_matches(seg, part) for seg, part in zip(split, parts, strict=True))
        for segment, part in zip(segments, parts, strict=True):
            if isinstance(segment, str):
                if segment != part:
                    return False
            elif not segment.matches(part):
                return False
        return True


def compile_resource_pattern(template: Template) -> ResourcePattern:
    """Precompile the segments of a static ARN pattern."""
    if template.has_variables:
        return ResourcePattern(template, None)
    split = split_pieces_on_colons(template.pieces)
    if split is None:
        raise ValueError("not an ARN")
    compiled: list[Glob | str] = []
    for segment in split:
        if has_wildcard(segment):
            compiled.append(compile_glob(segment, False))
        else:
            compiled.append(plain_text(segment))
    return ResourcePattern(template, tuple(compiled))


@dataclass(frozen=True, slots=True)
class ResourceSet:
    """The resources a statement names."""

    match_all: bool
    exact: frozenset[str]
    patterns: tuple[ResourcePattern, ...]

    def matches(self, resource: str, context: RequestContext) -> bool:
        """Whether ``resource`` (an ARN) is one of these resources."""
        if self.match_all or resource in self.exact:
            return True
        if not self.patterns:
            return False
        parts = resource.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            return False
        return any(pattern.matches(resource, tuple(parts), context) for pattern in self.patterns)


class PrincipalMatch(StrEnum):
    """How a resource policy's principal names the caller; it decides what limits apply."""

    DIRECT = "direct"  # the session, user or everyone: not limited by identity/session policies
    ROLE = "role"  # the role behind a session: still limited by session policy and boundary
    ACCOUNT = "account"  # the whole account: delegates to identity policies


@dataclass(frozen=True, slots=True)
class PrincipalSet:
    """The principals a resource policy statement names (``*`` means everyone)."""

    everyone: bool
    aws: frozenset[str]  # full ARNs, "account:<id>" and "role:<id>:<name>" (role_identity)
    services: frozenset[str]
    federated: frozenset[str]
    canonical_users: frozenset[str]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement, validated and compiled."""

    index: int
    sid: str | None
    effect: Effect
    actions: ActionSet
    not_action: bool
    resources: ResourceSet | None  # None: applies to the resource the policy is attached to
    not_resource: bool
    principals: PrincipalSet | None
    not_principal: bool
    conditions: tuple[Condition, ...]

    def applies_to_action(self, action: str) -> bool:
        """Whether the Action/NotAction element covers ``action``."""
        return self.actions.matches(action) != self.not_action

    def applies_to_resource(self, resource: str, context: RequestContext) -> bool:
        """Whether the Resource/NotResource element covers ``resource``."""
        if self.resources is None:
            return True
        return self.resources.matches(resource, context) != self.not_resource

    def conditions_hold(self, context: RequestContext) -> bool:
        """Whether every condition is true (conditions are ANDed)."""
        return all(condition.holds(context) for condition in self.conditions)


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy document of one kind."""

    kind: PolicyKind
    version: str | None
    statements: tuple[Statement, ...]
    allow_statements: tuple[Statement, ...]
    deny_statements: tuple[Statement, ...]

    @property
    def variables_enabled(self) -> bool:
        """Policy variables are substituted only under Version 2012-10-17."""
        return self.version == VARIABLES_VERSION
