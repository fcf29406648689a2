"""AWS's policy evaluation logic for requests within one account.

Order, from the evaluation-logic reference page: an explicit Deny in any policy
wins; an Allow in a resource policy that names the caller directly (the session,
the user, or everyone) is final; otherwise an identity-policy Allow (or a
resource-policy Allow naming the session's role) must be confirmed by the
permissions boundary and, for sessions, by the session policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from agent_zero.iam.conditions import ConditionValueError
from agent_zero.iam.context import ContextInput, RequestContext
from agent_zero.iam.parsing import PolicyInput, parse_policy
from agent_zero.iam.policy import Effect, Policy, PolicyKind, PrincipalMatch, Statement
from agent_zero.iam.principals import (
    Caller,
    CallerKind,
    excluded_by_not_principal,
    identify_caller,
    match_principal,
)


class Decision(StrEnum):
    """The outcome of an evaluation."""

    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class StatementMatch:
    """A statement that applied to the request, for explanations."""

    policy_kind: PolicyKind
    policy_index: int
    statement_index: int
    sid: str | None
    effect: Effect


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """The decision, the statements behind it and which policy type denied."""

    decision: Decision
    reasons: tuple[StatementMatch, ...]
    denied_by: PolicyKind | None = None
    error: str | None = None

    @property
    def allowed(self) -> bool:
        """Whether the request is allowed."""
        return self.decision is Decision.ALLOW


@dataclass(frozen=True, slots=True)
class _Request:
    action: str
    resource: str
    caller: Caller
    context: RequestContext


def _applies(statement: Statement, request: _Request) -> bool:
    return (
        statement.applies_to_action(request.action)
        and statement.applies_to_resource(request.resource, request.context)
        and statement.conditions_hold(request.context)
    )


def _resource_principal(statement: Statement, caller: Caller) -> PrincipalMatch | None:
    if statement.principals is None:
        return None
    if statement.not_principal:
        if excluded_by_not_principal(statement.principals, caller):
            return None
        return PrincipalMatch.DIRECT
    return match_principal(statement.principals, caller)


def _match(policy: Policy, index: int, statement: Statement) -> StatementMatch:
    return StatementMatch(policy.kind, index, statement.index, statement.sid, statement.effect)


def _allows(policy: Policy, index: int, request: _Request) -> StatementMatch | None:
    for statement in policy.allow_statements:
        if _applies(statement, request):
            return _match(policy, index, statement)
    return None


def _any_allows(policies: Sequence[Policy], request: _Request) -> StatementMatch | None:
    for index, policy in enumerate(policies):
        found = _allows(policy, index, request)
        if found is not None:
            return found
    return None


def _explicit_denies(
    groups: Iterable[tuple[Sequence[Policy], bool]], request: _Request
) -> list[StatementMatch]:
    denies: list[StatementMatch] = []
    for policies, is_resource in groups:
        for index, policy in enumerate(policies):
            for statement in policy.deny_statements:
                if is_resource and _resource_principal(statement, request.caller) is None:
                    continue
                if _applies(statement, request):
                    denies.append(_match(policy, index, statement))
    return denies


def _resource_allow(
    policy: Policy | None, request: _Request
) -> tuple[PrincipalMatch, StatementMatch] | None:
    if policy is None:
        return None
    best: tuple[PrincipalMatch, StatementMatch] | None = None
    order = (PrincipalMatch.DIRECT, PrincipalMatch.ROLE, PrincipalMatch.ACCOUNT)
    for statement in policy.allow_statements:
        how = _resource_principal(statement, request.caller)
        if how is None or not _applies(statement, request):
            continue
        if best is None or order.index(how) < order.index(best[0]):
            best = (how, _match(policy, 0, statement))
    return best


def _deny(denied_by: PolicyKind, *reasons: StatementMatch) -> EvaluationResult:
    return EvaluationResult(Decision.IMPLICIT_DENY, tuple(reasons), denied_by)


def evaluate(
    *,
    action: str,
    resource: str,
    principal: str,
    identity_policies: Sequence[PolicyInput] = (),
    session_policy: PolicyInput | None = None,
    permissions_boundary: PolicyInput | None = None,
    resource_policy: PolicyInput | None = None,
    context: ContextInput | RequestContext | None = None,
    resource_policy_required: bool = False,
) -> EvaluationResult:
    """Decide one request as AWS would within a single account.

    ``resource_policy_required`` is for role trust and KMS key policies, which must
    themselves allow the caller. Malformed policies raise ``MalformedPolicyError``.
    """
    identities = tuple(parse_policy(p, kind=PolicyKind.IDENTITY) for p in identity_policies)
    session = (
        None if session_policy is None else parse_policy(session_policy, kind=PolicyKind.SESSION)
    )
    boundary = (
        None
        if permissions_boundary is None
        else parse_policy(permissions_boundary, kind=PolicyKind.PERMISSIONS_BOUNDARY)
    )
    resource_doc = (
        None if resource_policy is None else parse_policy(resource_policy, kind=PolicyKind.RESOURCE)
    )
    request = _Request(action, resource, identify_caller(principal), RequestContext.of(context))
    try:
        return _decide(
            request, identities, session, boundary, resource_doc, resource_policy_required
        )
    except ConditionValueError as error:
        # AWS: an error during evaluation ends in a denial.
        return EvaluationResult(Decision.IMPLICIT_DENY, (), None, error=str(error))


def _decide(
    request: _Request,
    identities: tuple[Policy, ...],
    session: Policy | None,
    boundary: Policy | None,
    resource_doc: Policy | None,
    resource_policy_required: bool,
) -> EvaluationResult:
    def opt(policy: Policy | None) -> tuple[Policy, ...]:
        return () if policy is None else (policy,)

    denies = _explicit_denies(
        (
            (identities, False),
            (opt(session), False),
            (opt(boundary), False),
            (opt(resource_doc), True),
        ),
        request,
    )
    if denies:
        return EvaluationResult(Decision.EXPLICIT_DENY, tuple(denies), denies[0].policy_kind)
    if request.caller.kind is CallerKind.ROOT and not resource_policy_required:
        return EvaluationResult(Decision.ALLOW, ())
    from_resource = _resource_allow(resource_doc, request)
    if resource_policy_required and from_resource is None:
        return _deny(PolicyKind.RESOURCE)
    if request.caller.kind is CallerKind.ROOT and from_resource is not None:
        # The root user holds every identity permission, so a trust policy naming its
        # account is enough (the account delegates to the root's implicit Allow).
        return EvaluationResult(Decision.ALLOW, (from_resource[1],))
    reasons: list[StatementMatch] = []
    if from_resource is not None:
        how, statement = from_resource
        if how is PrincipalMatch.DIRECT:
            return EvaluationResult(Decision.ALLOW, (statement,))
        if how is PrincipalMatch.ROLE:
            reasons.append(statement)
    if not reasons:
        identity_allow = _any_allows(identities, request)
        if identity_allow is None:
            return _deny(PolicyKind.IDENTITY)
        reasons.append(identity_allow)
    if boundary is not None:
        bounded = _allows(boundary, 0, request)
        if bounded is None:
            return _deny(PolicyKind.PERMISSIONS_BOUNDARY, *reasons)
        reasons.append(bounded)
    if request.caller.is_session:
        if session is not None:
            sessioned = _allows(session, 0, request)
            if sessioned is None:
                return _deny(PolicyKind.SESSION, *reasons)
            reasons.append(sessioned)
        elif request.caller.kind is CallerKind.FEDERATED_USER:
            return _deny(PolicyKind.SESSION, *reasons)
    return EvaluationResult(Decision.ALLOW, tuple(reasons))
