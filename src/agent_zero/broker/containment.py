"""Prove that a minted session can do nothing outside its approved grants.

The proof evaluates, with the IAM engine, the target role's policies intersected
with the session policy over a probe space: every AWS resource in the catalog
and the sub-resources AWS names beneath them (indexes, streams, backups,
exports, objects), a resource outside the catalog, every action of those
services, and for DynamoDB the row-key contexts "own key", "another key", "both"
and "no key". An allowed probe outside the grants is an over-grant; an empty
list is the proof. Resource policies are out of scope by design: the broker's
precondition is that none names a broker session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from agent_zero.domain.catalog import Catalog, CatalogEntry, ResourceKind
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Grant
from agent_zero.iam import Policy, PolicyKind, RequestContext, Statement, evaluate, parse_policy
from agent_zero.iam.actions import actions_for_service, covered_services
from agent_zero.iam.context import ContextInput
from agent_zero.iam.parsing import PolicyInput
from agent_zero.iam.patterns import Template, plain_text

LEADING_KEYS = "dynamodb:leadingkeys"
OTHER_KEY = "agent-zero-probe-other-key"
PROBE_SESSION_NAME = "agent-zero-containment-probe"
_SUB_RESOURCES = {
    ResourceKind.DYNAMODB_TABLE: (
        "/index/probe-index",
        "/stream/2024-01-01T00:00:00.000",
        "/backup/01700000000000-probe000",
        "/export/01700000000000-probe000",
        "/import/01700000000000-probe000",
    ),
    ResourceKind.S3_BUCKET: ("/probe-object", "/probe/prefix/object"),
}


@dataclass(frozen=True, slots=True)
class Probe:
    """One request tried against the session: action, resource and row keys sent."""

    action: str
    resource: str
    leading_keys: tuple[str, ...] | None  # None: the request carries no row key

    def describe(self) -> str:
        """A one-line description for error messages and reports."""
        keys = "no row key" if self.leading_keys is None else f"row keys {list(self.leading_keys)}"
        return f"{self.action} on {self.resource} with {keys}"


@dataclass(frozen=True, slots=True)
class _ProbeResource:
    arn: str
    entry: CatalogEntry | None  # None for sub-resources and outsiders


def _probe_resources(catalog: Catalog) -> list[_ProbeResource]:
    resources: list[_ProbeResource] = []
    for entry in catalog:
        if not entry.is_aws or entry.arn is None:
            continue
        resources.append(_ProbeResource(entry.arn, entry))
        resources += [
            _ProbeResource(entry.arn + tail, None) for tail in _SUB_RESOURCES.get(entry.kind, ())
        ]
        if entry.kind is ResourceKind.DYNAMODB_TABLE:
            region_account, _, _ = entry.arn.rpartition(":table/")
            resources.append(
                _ProbeResource(f"{region_account}:table/agent-zero-probe-outside", None)
            )
    unique = {resource.arn: resource for resource in resources}
    return list(unique.values())


@dataclass(frozen=True, slots=True)
class ProbeSpace:
    """The resources and actions probed for one catalog; build it once per catalog."""

    resources: tuple[str, ...]
    resource_set: frozenset[str]
    actions: tuple[str, ...]
    action_by_lower: dict[str, str]

    @classmethod
    def for_catalog(cls, catalog: Catalog) -> ProbeSpace:
        """Every catalog resource, its sub-resources, outsiders and every service action."""
        resources = tuple(r.arn for r in _probe_resources(catalog))
        services = set(catalog.services()) & set(covered_services())
        actions = tuple(sorted({a for svc in services for a in actions_for_service(svc)}))
        return cls(resources, frozenset(resources), actions, {a.lower(): a for a in actions})

    def extended(self, actions: Iterable[str], resources: Iterable[str]) -> ProbeSpace:
        """The same space plus the actions and resources a grant or policy names literally."""
        new_actions = {a for a in actions if a.lower() not in self.action_by_lower}
        new_resources = set(resources) - self.resource_set
        if not new_actions and not new_resources:
            return self
        all_actions = tuple(sorted(set(self.actions) | new_actions))
        all_resources = self.resources + tuple(sorted(new_resources))
        return ProbeSpace(
            all_resources,
            frozenset(all_resources),
            all_actions,
            {a.lower(): a for a in all_actions},
        )


def _near_misses(key: str) -> tuple[str, ...]:
    # Keys one edit away from the owner's, so widened patterns ("c-*", "c-100?") are caught.
    last = key[-1:] or "x"
    return (
        key + "0",
        key[:-1] + ("0" if last != "0" else "1"),
        key.upper() if key.upper() != key else key.lower(),
    )


def _keys_named_by(session: Policy) -> set[str]:
    # Every literal row key the session policy's conditions mention is probed too.
    named: set[str] = set()
    for statement in session.statements:
        for condition in statement.conditions:
            if condition.key != LEADING_KEYS or condition.spec is None:
                continue
            for value in condition.values:
                if isinstance(value, Template) and not value.has_variables:
                    named.add(plain_text(value.pieces))
    return named


def _key_variants(
    own_keys: Iterable[str], named_keys: Iterable[str] = ()
) -> list[tuple[str, ...] | None]:
    variants: list[tuple[str, ...] | None] = [None, (OTHER_KEY,)]
    variants += [(key,) for key in sorted(named_keys)]
    for key in sorted(set(own_keys)):
        variants += [(key,), (key, OTHER_KEY)]
        variants += [(other,) for other in _near_misses(key) if other != key]
    return list(dict.fromkeys(variants))


def _inside(probe: Probe, grants_by_arn: Mapping[str, list[tuple[Grant, str | None]]]) -> bool:
    for grant, owner_key in grants_by_arn.get(probe.resource, ()):
        if not grant.covers(probe.action):
            continue
        if owner_key is None:
            return True
        if probe.leading_keys and all(key == owner_key for key in probe.leading_keys):
            return True
    return False


def _grants_by_arn(
    grants: Sequence[Grant], catalog: Catalog, principal: Principal
) -> dict[str, list[tuple[Grant, str | None]]]:
    table: dict[str, list[tuple[Grant, str | None]]] = {}
    for grant in grants:
        entry = catalog.get(grant.resource_key)
        if entry is None or entry.arn is None or not entry.is_aws:
            continue
        owner_key = None
        if entry.row_scope is not None and entry.row_scoped_for(principal):
            owner_key = principal.attribute(entry.row_scope.owner_attribute) or ""
        table.setdefault(entry.arn, []).append((grant, owner_key))
    return table


def _probe_principal(catalog: Catalog, grants: Sequence[Grant]) -> tuple[str, str]:
    roles = [catalog.get(g.resource_key) for g in grants]
    role_arns = [e.target_role_arn for e in roles if e is not None and e.target_role_arn]
    role_arns += [e.target_role_arn for e in catalog if e.target_role_arn]
    role_arn = role_arns[0] if role_arns else "arn:aws:iam::000000000000:role/agent-zero-none"
    _, _, account_and_path = role_arn.partition(":iam::")
    account, _, path = account_and_path.partition(":role/")
    role_name = path.rsplit("/", 1)[-1]
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{PROBE_SESSION_NAME}", role_arn


def explore_access(
    role_policies: Sequence[PolicyInput],
    session_policy: PolicyInput,
    *,
    catalog: Catalog,
    principal: Principal,
    grants: Sequence[Grant] = (),
    context: ContextInput | None = None,
    exhaustive: bool = False,
    probe_space: ProbeSpace | None = None,
) -> list[Probe]:
    """Every probe the role ∩ session allows, across the whole probe space.

    Only (action, resource) pairs that some session Allow statement names can be
    allowed, so the rest are skipped unless ``exhaustive`` asks for all of them.
    """
    roles = tuple(parse_policy(p, kind=PolicyKind.IDENTITY) for p in role_policies)
    session = parse_policy(session_policy, kind=PolicyKind.SESSION)
    principal_arn, role_arn = _probe_principal(catalog, grants)
    base = RequestContext.of(context)
    own_keys = [
        key
        for e in catalog
        if e.row_scope and (key := principal.attribute(e.row_scope.owner_attribute))
    ]
    variants = _key_variants(own_keys, _keys_named_by(session))
    named_actions = [a for g in grants for a in g.actions]
    named_resources: list[str] = []
    for statement in session.statements:
        named_actions += statement.actions.exact
        if statement.resources is not None:
            named_resources += statement.resources.exact
    space = (probe_space or ProbeSpace.for_catalog(catalog)).extended(
        named_actions, named_resources
    )
    allowed: list[Probe] = []
    contexts = {keys: base.with_values({LEADING_KEYS: list(keys or ())}) for keys in variants}
    pairs = _candidate_pairs(session, space, list(contexts.values()), exhaustive)
    for action, resource in pairs:
        keyed = variants if action.lower().startswith("dynamodb:") else [None]
        for keys in keyed:
            probe_context = contexts[keys]
            result = evaluate(
                action=action,
                resource=resource,
                principal=principal_arn,
                role_arn=role_arn,
                identity_policies=roles,
                session_policy=session,
                context=probe_context,
            )
            if result.allowed:
                allowed.append(Probe(action, resource, keys))
    return allowed


def _named_actions(statement: Statement, space: ProbeSpace) -> list[str]:
    named = statement.actions
    if not statement.not_action and not named.match_all and not named.patterns:
        # Exact names only: look them up instead of testing every action.
        return [space.action_by_lower[a] for a in named.exact if a in space.action_by_lower]
    return [a for a in space.actions if statement.applies_to_action(a)]


def _named_resources(
    statement: Statement, space: ProbeSpace, contexts: Sequence[RequestContext]
) -> list[str]:
    named = statement.resources
    if (
        named is not None
        and not statement.not_resource
        and not named.match_all
        and not named.patterns
    ):
        return list(named.exact & space.resource_set)
    # Policy variables could make the match depend on the context: try each one.
    return [
        r
        for r in space.resources
        if any(statement.applies_to_resource(r, context) for context in contexts)
    ]


def _candidate_pairs(
    session: Policy,
    space: ProbeSpace,
    contexts: Sequence[RequestContext],
    exhaustive: bool,
) -> list[tuple[str, str]]:
    if exhaustive:
        return [(action, resource) for action in space.actions for resource in space.resources]
    pairs: set[tuple[str, str]] = set()
    for statement in session.allow_statements:
        named_actions = _named_actions(statement, space)
        if named_actions:
            resources = _named_resources(statement, space, contexts)
            pairs.update((a, r) for a in named_actions for r in resources)
    return sorted(pairs)


def prove_containment(
    role_policies: Sequence[PolicyInput],
    session_policy: PolicyInput,
    grants: Sequence[Grant],
    *,
    catalog: Catalog,
    principal: Principal,
    context: ContextInput | None = None,
    probe_space: ProbeSpace | None = None,
) -> list[Probe]:
    """The allowed probes outside ``grants``; an empty list is the proof of containment."""
    inside = _grants_by_arn(grants, catalog, principal)
    allowed = explore_access(
        role_policies,
        session_policy,
        catalog=catalog,
        principal=principal,
        grants=grants,
        context=context,
        probe_space=probe_space,
    )
    return [probe for probe in allowed if not _inside(probe, inside)]
