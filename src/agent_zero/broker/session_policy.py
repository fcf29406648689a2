"""Compile approved grants into the inline session policy passed to sts:AssumeRole.

The output uses a closed grammar: Allow statements only, exact resource ARNs
(and, for S3 object actions, every object of one exact bucket, ``bucket/*``),
explicit action names taken from the catalog's spelling, and for row-scoped
grants ``ForAllValues:StringEquals`` on ``dynamodb:LeadingKeys`` with the
principal's own key plus the ``Null`` guard that stops key-less reads (Scan,
PartiQL, streams) from passing the vacuous ForAllValues test.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from agent_zero.domain.base import DomainModel
from agent_zero.domain.catalog import Catalog, CatalogEntry, is_unscopable_row_action
from agent_zero.domain.errors import SessionPolicyError, SessionPolicyTooLargeError
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Grant
from agent_zero.iam import Policy, PolicyKind, parse_policy
from agent_zero.iam.actions import acts_on_s3_objects

SESSION_POLICY_MAX_CHARS = 2_048
_SESSION_CHARSET = re.compile(r"[\t\n\r\x20-\xff]*")
LEADING_KEYS = "dynamodb:LeadingKeys"
S3_OBJECTS_SUFFIX = "/*"  # object actions act on bucket/key, never on the bucket ARN


class SessionPolicy(DomainModel):
    """A compiled session policy and the grants it came from."""

    text: str
    target_role_arn: str | None
    aws_grants: tuple[Grant, ...]
    broker_grants: tuple[Grant, ...]

    @property
    def length(self) -> int:
        """Characters counted against the STS limit."""
        return len(self.text)

    @property
    def grants_aws_access(self) -> bool:
        """Whether there is anything for STS to mint."""
        return bool(self.aws_grants)

    @property
    def sha256(self) -> str:
        """The digest recorded in the audit log (the text itself may be large)."""
        return hashlib.sha256(self.text.encode("latin-1")).hexdigest()

    @cached_property
    def policy(self) -> Policy:
        """The compiled text, parsed by the IAM engine."""
        return parse_policy(self.text, kind=PolicyKind.SESSION)


def _in_session_charset(text: str) -> bool:
    # STS accepts tab, LF, CR and U+0020..U+00FF in the Policy parameter.
    return _SESSION_CHARSET.fullmatch(text) is not None


def _canonical_actions(grant: Grant, entry: CatalogEntry) -> frozenset[str]:
    spelling = {action.lower(): action for action in entry.allowed_actions}
    canonical = set()
    for action in grant.actions:
        found = spelling.get(action.lower())
        if found is None:
            raise SessionPolicyError(f"{action!r} is not allowed on {entry.key}")
        if entry.row_scope is not None and is_unscopable_row_action(found):
            raise SessionPolicyError(f"{found} is never granted on row-scoped {entry.key}")
        canonical.add(found)
    return frozenset(canonical)


def _owner_key(entry: CatalogEntry, principal: Principal) -> str | None:
    if not entry.row_scoped_for(principal) or entry.row_scope is None:
        return None
    key = principal.attribute(entry.row_scope.owner_attribute)
    if key is None:
        raise SessionPolicyError(f"{principal.id} has no {entry.row_scope.owner_attribute}")
    return key


def _one_or_many(values: Sequence[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


def _statement(actions: frozenset[str], arns: list[str], owner_key: str | None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Action": _one_or_many(sorted(actions)),
        "Resource": _one_or_many(sorted(arns)),
    }
    if owner_key is not None:
        # "$" opens a policy variable under Version 2012-10-17; ${$} is IAM's literal dollar.
        literal_key = owner_key.replace("$", "${$}")
        statement["Condition"] = {
            "ForAllValues:StringEquals": {LEADING_KEYS: [literal_key]},
            "Null": {LEADING_KEYS: "false"},
        }
    return statement


def compile_session_policy(
    grants: Sequence[Grant], *, catalog: Catalog, principal: Principal
) -> SessionPolicy:
    """Turn approved grants into a minified session policy, or raise if it cannot be done."""
    actions_by_arn: dict[str, set[str]] = defaultdict(set)
    key_by_arn: dict[str, str | None] = {}
    roles: set[str] = set()
    aws_grants: list[Grant] = []
    broker_grants: list[Grant] = []
    for grant in grants:
        entry = catalog.get(grant.resource_key)
        if entry is None:
            raise SessionPolicyError(f"{grant.resource_key!r} is not in the catalog")
        actions = _canonical_actions(grant, entry)
        if not entry.is_aws:
            broker_grants.append(grant)
            continue
        if entry.arn is None or entry.target_role_arn is None:
            raise SessionPolicyError(f"{entry.key} has no ARN or target role")
        aws_grants.append(grant)
        roles.add(entry.target_role_arn)
        owner_key = _owner_key(entry, principal)
        for action in actions:
            arn = entry.arn + S3_OBJECTS_SUFFIX if acts_on_s3_objects(action) else entry.arn
            actions_by_arn[arn].add(action)
            key_by_arn[arn] = owner_key
    if len(roles) > 1:
        raise SessionPolicyError("the grants span more than one target role")
    # Resources with the same actions and the same row scope share one statement.
    grouped: dict[tuple[frozenset[str], str | None], list[str]] = defaultdict(list)
    for arn, arn_actions in actions_by_arn.items():
        grouped[(frozenset(arn_actions), key_by_arn[arn])].append(arn)
    statements = [
        _statement(group_actions, arns, owner_key)
        for (group_actions, owner_key), arns in sorted(
            grouped.items(), key=lambda item: sorted(item[1])
        )
    ]
    text = json.dumps(
        {"Version": "2012-10-17", "Statement": statements},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    if not _in_session_charset(text):
        raise SessionPolicyError("the session policy would contain characters outside Latin-1")
    if len(text) > SESSION_POLICY_MAX_CHARS:
        raise SessionPolicyTooLargeError(
            f"the grants compile to {len(text)} characters; STS accepts at most "
            f"{SESSION_POLICY_MAX_CHARS}. Request fewer resources at once.",
            length=len(text),
            limit=SESSION_POLICY_MAX_CHARS,
        )
    return SessionPolicy(
        text=text,
        target_role_arn=roles.pop() if roles else None,
        aws_grants=tuple(aws_grants),
        broker_grants=tuple(broker_grants),
    )
