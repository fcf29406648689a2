"""Prove that a minted session can do nothing outside its approved grants.

The proof evaluates, with the IAM engine, the target role's policies intersected
with the session policy over a probe space: every AWS resource in the catalog
and the sub-resources AWS names beneath them (indexes, streams, backups,
exports, objects), resources outside the catalog (another table, the same table
in another region and account, a role), every action of those services and of
STS, and for DynamoDB the row-key contexts "own key", "another key", "both",
"empty key" and "no key". An allowed probe outside the grants is an over-grant.

A finite probe space is a proof only for session policies whose reach is finite:
the compiler's closed grammar of exact actions on exact ARNs, conditioned on
``dynamodb:LeadingKeys`` alone. ``prove_containment`` therefore reports every
Allow statement outside that grammar as unprovable, so an empty list is the
proof. Resource policies are out of scope by design: the broker's precondition
is that none names a broker session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from agent_zero.broker.session_policy import S3_OBJECTS_SUFFIX
from agent_zero.domain.catalog import Catalog, CatalogEntry, ResourceKind
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Grant
from agent_zero.iam import Policy, PolicyKind, RequestContext, Statement, evaluate, parse_policy
from agent_zero.iam.actions import actions_for_service, acts_on_s3_objects, covered_services
from agent_zero.iam.context import ContextInput
from agent_zero.iam.parsing import PolicyInput
from agent_zero.iam.patterns import Template, plain_text
from agent_zero.iam.policy import ActionSet, ResourcePattern

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
    unprovable: str | None = None  # why a statement's reach cannot be enumerated

    def describe(self) -> str:
        """A one-line description for error messages and reports."""
        if self.unprovable is not None:
            return f"{self.action} on {self.resource}: {self.unprovable}"
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
        resources += [_ProbeResource(arn, None) for arn in _outsiders(entry.arn)]
    unique = {resource.arn: resource for resource in resources}
    return list(unique.values())


def _outsiders(arn: str) -> list[str]:
    # What a widened ARN pattern would reach beyond the catalog: another table,
    # the same table in another region and account, and a role to chain into.
    parts = arn.split(":", 5)
    partition, service, region, account, name = parts[1], parts[2], parts[3], parts[4], parts[5]
    if service != "dynamodb":
        return []
    other_account = "000000000000" if account != "000000000000" else "999999999999"
    prefix = f"arn:{partition}:dynamodb"
    return [
        f"{prefix}:{region}:{account}:table/agent-zero-probe-outside",
        f"{prefix}:agent-zero-probe-region:{account}:{name}",
        f"{prefix}:{region}:{other_account}:{name}",
        f"arn:{partition}:iam::{account}:role/agent-zero-probe-role",
    ]


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
        # STS is always probed: sts:AssumeRole from a session would chain into more.
        services = (set(catalog.services()) | {"sts"}) & set(covered_services())
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
    # ("",) is a null data set: ForAllValues holds over it, so the Null guard must stop it.
    variants: list[tuple[str, ...] | None] = [None, ("",), (OTHER_KEY,)]
    variants += [(key,) for key in sorted(named_keys)]
    for key in sorted(set(own_keys)):
        variants += [(key,), (key, OTHER_KEY)]
        variants += [(other,) for other in _near_misses(key) if other != key]
    return list(dict.fromkeys(variants))


def _granted_arn(probe: Probe) -> str:
    # An S3 object action on bucket/key is granted by a grant on the bucket.
    if probe.resource.startswith("arn:aws:s3:::") and acts_on_s3_objects(probe.action):
        bucket, slash, _key = probe.resource.partition("/")
        if slash:
            return bucket
    return probe.resource


def _inside(probe: Probe, grants_by_arn: Mapping[str, list[tuple[Grant, str | None]]]) -> bool:
    for grant, owner_key in grants_by_arn.get(_granted_arn(probe), ()):
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


def _probe_principal(catalog: Catalog, grants: Sequence[Grant]) -> str:
    roles = [catalog.get(g.resource_key) for g in grants]
    role_arns = [e.target_role_arn for e in roles if e is not None and e.target_role_arn]
    role_arns += [e.target_role_arn for e in catalog if e.target_role_arn]
    role_arn = role_arns[0] if role_arns else "arn:aws:iam::000000000000:role/agent-zero-none"
    _, _, account_and_path = role_arn.partition(":iam::")
    account, _, path = account_and_path.partition(":role/")
    role_name = path.rsplit("/", 1)[-1]
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{PROBE_SESSION_NAME}"


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
    principal_arn = _probe_principal(catalog, grants)
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
    """The allowed probes outside ``grants``; an empty list is the proof of containment.

    Statements outside the closed grammar come back as unprovable probes first.
    """
    unprovable = unprovable_statements(parse_policy(session_policy, kind=PolicyKind.SESSION))
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
    return unprovable + [probe for probe in allowed if not _inside(probe, inside)]


def _is_bucket_objects(pattern: ResourcePattern, actions: ActionSet) -> bool:
    # "arn:aws:s3:::bucket/*" with only S3 object actions reaches one bucket's objects,
    # which the probe space samples (bucket/probe-object, bucket/probe/prefix/object).
    pieces = pattern.template.pieces
    if len(pieces) != 1 or not isinstance(pieces[0], str):
        return False
    text = pieces[0]
    bucket = text.removesuffix(S3_OBJECTS_SUFFIX)
    return (
        text.startswith("arn:aws:s3:::")
        and text.endswith(S3_OBJECTS_SUFFIX)
        and "/" not in bucket
        and not any(char in bucket for char in "*?$")
        and bool(actions.exact)
        and all(acts_on_s3_objects(action) for action in actions.exact)
    )


def unprovable_statements(session: Policy) -> list[Probe]:
    """Allow statements whose reach a finite probe space cannot enumerate."""
    found: list[Probe] = []
    for statement in session.allow_statements:
        actions, resources = statement.actions, statement.resources
        action_text = ",".join(sorted(actions.exact)) or "*"
        resource_text = "*" if resources is None else ",".join(sorted(resources.exact)) or "*"
        if resources is not None and resources.patterns:
            resource_text = ",".join(plain_text(p.template.pieces) for p in resources.patterns)
        reasons = []
        if statement.not_action or actions.match_all or actions.patterns:
            reasons.append("actions are not an exact list")
        if (
            resources is None
            or statement.not_resource
            or resources.match_all
            or not all(_is_bucket_objects(p, actions) for p in resources.patterns)
        ):
            reasons.append("resources are not an exact list of ARNs")
        others = sorted({c.key for c in statement.conditions if c.key != LEADING_KEYS})
        if others:
            reasons.append(f"conditions on {others} are outside the proof's contexts")
        if reasons:
            label = statement.sid or f"Statement[{statement.index}]"
            found.append(
                Probe(action_text, resource_text, None, unprovable=f"{label}: {'; '.join(reasons)}")
            )
    return found
