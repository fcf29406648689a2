"""What a session policy allows, in a table a person can read, computed with the IAM engine.

For every catalog resource and every action the catalog allows on it, the session
policy is evaluated as AWS would evaluate it (with an identity policy that allows
everything, so the table shows the session policy's own bound): once for the
principal's own rows and, for row-scoped tables, once for another customer's rows.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent_zero.domain.catalog import Catalog
from agent_zero.domain.principals import Principal
from agent_zero.iam import Decision, evaluate

Verdict = Literal["allowed", "denied"]
_ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
_SOMEONE_ELSE = "someone-else"
_SESSION_PRINCIPAL = "arn:aws:sts::000000000000:assumed-role/target/explain"


@dataclass(frozen=True, slots=True)
class AllowRow:
    """One action on one resource, and whether the session may do it."""

    resource_key: str
    action: str
    own_rows: Verdict  # for tables that are not row-scoped: the whole resource
    other_rows: Verdict | None  # None when the resource is not row-scoped for this principal


def what_it_allows(
    session_policy: str, *, catalog: Catalog, principal: Principal
) -> list[AllowRow]:
    """The table: every AWS catalog resource and action, judged by ``session_policy``."""
    rows: list[AllowRow] = []
    for entry in sorted(catalog.entries, key=lambda e: e.key):
        if not entry.is_aws or entry.arn is None:
            continue
        scoped = entry.row_scoped_for(principal)
        own_key = principal.attribute(entry.row_scope.owner_attribute) if entry.row_scope else None
        for action in sorted(entry.allowed_actions):
            own = _verdict(session_policy, action, entry.arn, own_key if scoped else None)
            other = _verdict(session_policy, action, entry.arn, _SOMEONE_ELSE) if scoped else None
            rows.append(AllowRow(entry.key, action, own, other))
    return rows


def _verdict(policy: str, action: str, resource: str, leading_key: str | None) -> Verdict:
    context = {"dynamodb:LeadingKeys": [leading_key]} if leading_key is not None else {}
    result = evaluate(
        action=action,
        resource=resource,
        principal=_SESSION_PRINCIPAL,
        identity_policies=[_ALLOW_ALL],
        session_policy=policy,
        context=context,
    )
    return "allowed" if result.decision is Decision.ALLOW else "denied"
