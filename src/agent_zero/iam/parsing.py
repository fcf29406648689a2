"""Parse and validate IAM policy documents; anything outside the grammar is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from agent_zero.domain.errors import MalformedPolicyError
from agent_zero.iam.conditions import Condition, parse_condition_block
from agent_zero.iam.patterns import compile_glob, parse_template
from agent_zero.iam.policy import (
    VARIABLES_VERSION,
    ActionSet,
    Effect,
    Policy,
    PolicyKind,
    PrincipalSet,
    ResourcePattern,
    ResourceSet,
    Statement,
    compile_resource_pattern,
)
from agent_zero.iam.principals import role_identity_of_arn

PolicyDocument = Mapping[str, Any]
PolicyInput = PolicyDocument | str | Policy

_VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_LEVEL = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_ACTION = re.compile(r"[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]+")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_ACCOUNT_ROOT = re.compile(r"arn:aws[a-z-]*:iam::([0-9]{12}):root")
_PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedPolicyError(f"duplicate key {key!r} in one object")
        result[key] = value
    return result


def load_policy_json(text: str) -> dict[str, Any]:
    """Decode policy JSON, refusing duplicate keys (the grammar forbids them)."""
    try:
        decoded = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as error:
        raise MalformedPolicyError(f"not valid JSON: {error.msg} at {error.pos}") from error
    except RecursionError:
        raise MalformedPolicyError("the JSON is nested too deeply") from None
    if not isinstance(decoded, dict):
        raise MalformedPolicyError("a policy must be a JSON object")
    return decoded


def parse_policy(document: PolicyInput, *, kind: PolicyKind = PolicyKind.IDENTITY) -> Policy:
    """Validate a policy document (dict or JSON text) and compile it for evaluation."""
    if isinstance(document, Policy):
        if document.kind is kind:
            return document
        if PolicyKind.RESOURCE in (document.kind, kind):
            # Resource policies have a different grammar (Principal, optional Resource).
            raise MalformedPolicyError(
                f"a {document.kind} policy cannot be used as a {kind} policy"
            )
        # Identity, session and boundary policies share one grammar: relabel only.
        return Policy(
            kind,
            document.version,
            document.statements,
            document.allow_statements,
            document.deny_statements,
        )
    raw = load_policy_json(document) if isinstance(document, str) else document
    if not isinstance(raw, Mapping):
        raise MalformedPolicyError("a policy must be a JSON object")
    unknown = set(raw) - _TOP_LEVEL
    if unknown:
        raise MalformedPolicyError(f"unknown policy element(s) {sorted(unknown)}")
    version = raw.get("Version")
    if version is not None and version not in _VERSIONS:
        raise MalformedPolicyError(f"Version must be one of {_VERSIONS}, not {version!r}")
    if "Statement" not in raw:
        raise MalformedPolicyError("a policy needs a Statement element")
    body = raw["Statement"]
    items = body if isinstance(body, list) else [body]
    if not items:
        raise MalformedPolicyError("a policy needs at least one statement")
    variables = version == VARIABLES_VERSION
    statements = tuple(
        _parse_statement(item, index, kind=kind, variables=variables)
        for index, item in enumerate(items)
    )
    return Policy(
        kind=kind,
        version=version,
        statements=statements,
        allow_statements=tuple(s for s in statements if s.effect is Effect.ALLOW),
        deny_statements=tuple(s for s in statements if s.effect is Effect.DENY),
    )


def _parse_statement(item: object, index: int, *, kind: PolicyKind, variables: bool) -> Statement:
    path = f"Statement[{index}]"
    if not isinstance(item, Mapping):
        raise MalformedPolicyError("a statement must be an object", path=path)
    unknown = set(item) - _STATEMENT_KEYS
    if unknown:
        raise MalformedPolicyError(f"unknown statement element(s) {sorted(unknown)}", path=path)
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicyError("Sid must be a string", path=path)
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicyError(f"Effect must be Allow or Deny, not {effect!r}", path=path)
    action_key = _one_of(item, "Action", "NotAction", path=path, required=True)
    resource_key = _one_of(
        item, "Resource", "NotResource", path=path, required=kind is not PolicyKind.RESOURCE
    )
    principal_key = _one_of(
        item, "Principal", "NotPrincipal", path=path, required=kind is PolicyKind.RESOURCE
    )
    if principal_key and kind is not PolicyKind.RESOURCE:
        raise MalformedPolicyError(
            f"{principal_key} is only allowed in resource policies", path=path
        )
    conditions: tuple[Condition, ...] = ()
    if "Condition" in item:
        conditions = parse_condition_block(
            item["Condition"], variables=variables, path=f"{path}.Condition"
        )
    return Statement(
        index=index,
        sid=sid,
        effect=Effect(effect),
        actions=_parse_actions(item[action_key], path=f"{path}.{action_key}"),
        not_action=action_key == "NotAction",
        resources=(
            _parse_resources(item[resource_key], variables, path=f"{path}.{resource_key}")
            if resource_key
            else None
        ),
        not_resource=resource_key == "NotResource",
        principals=(
            _parse_principals(item[principal_key], path=f"{path}.{principal_key}")
            if principal_key
            else None
        ),
        not_principal=principal_key == "NotPrincipal",
        conditions=conditions,
    )


def _one_of(item: Mapping[str, Any], name: str, negated: str, *, path: str, required: bool) -> str:
    if name in item and negated in item:
        raise MalformedPolicyError(f"a statement cannot have both {name} and {negated}", path=path)
    if name in item:
        return name
    if negated in item:
        return negated
    if required:
        raise MalformedPolicyError(f"a statement needs {name} or {negated}", path=path)
    return ""


def _string_list(value: object, *, path: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise MalformedPolicyError("must list at least one value", path=path)
    if not all(isinstance(entry, str) and entry for entry in items):
        raise MalformedPolicyError("values must be non-empty strings", path=path)
    return [str(entry) for entry in items]


def _parse_actions(value: object, *, path: str) -> ActionSet:
    exact: set[str] = set()
    patterns = []
    for action in _string_list(value, path=path):
        if action == "*":
            return ActionSet(True, frozenset(), ())
        if not _ACTION.fullmatch(action):
            raise MalformedPolicyError(f"{action!r} is not service:action", path=path)
        if "*" in action or "?" in action:
            patterns.append(compile_glob((action.lower(),), False))
        else:
            exact.add(action.lower())
    return ActionSet(False, frozenset(exact), tuple(patterns))


def _parse_resources(value: object, variables: bool, *, path: str) -> ResourceSet:
    exact: set[str] = set()
    patterns: list[ResourcePattern] = []
    for resource in _string_list(value, path=path):
        if resource == "*":
            return ResourceSet(True, frozenset(), ())
        parts = resource.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[2]:
            raise MalformedPolicyError(f"{resource!r} is neither '*' nor an ARN", path=path)
        if any(char in parts[2] for char in "*?"):
            raise MalformedPolicyError(
                "the service part of an ARN cannot hold wildcards", path=path
            )
        if variables and "${" in ":".join(parts[:5]):
            raise MalformedPolicyError(
                "policy variables are allowed only in the resource part of an ARN", path=path
            )
        template = parse_template(resource, variables=variables)
        if template.pieces == (resource,) and not any(char in resource for char in "*?"):
            exact.add(resource)  # no wildcard, no variable, no ${*}-style special
        else:
            patterns.append(compile_resource_pattern(template))
    return ResourceSet(False, frozenset(exact), tuple(patterns))


def _parse_principals(value: object, *, path: str) -> PrincipalSet:
    if value == "*":
        return PrincipalSet(True, frozenset(), frozenset(), frozenset(), frozenset())
    if not isinstance(value, Mapping) or not value:
        raise MalformedPolicyError("Principal must be '*' or a map of principal types", path=path)
    unknown = set(value) - _PRINCIPAL_TYPES
    if unknown:
        raise MalformedPolicyError(f"unknown principal type(s) {sorted(unknown)}", path=path)
    entries = {name: _string_list(value[name], path=f"{path}.{name}") for name in value}
    aws: set[str] = set()
    everyone = False
    for entry in entries.get("AWS", []):
        if entry == "*":
            everyone = True
        elif _ACCOUNT_ID.fullmatch(entry):
            aws.add(f"account:{entry}")
        elif root := _ACCOUNT_ROOT.fullmatch(entry):
            aws.add(f"account:{root.group(1)}")
        elif role := role_identity_of_arn(entry):
            aws.add(role)
        elif entry.startswith("arn:") and "*" not in entry and "?" not in entry:
            aws.add(entry)
        else:
            raise MalformedPolicyError(f"{entry!r} is not a valid AWS principal", path=path)
    return PrincipalSet(
        everyone=everyone,
        aws=frozenset(aws),
        services=frozenset(entries.get("Service", [])),
        federated=frozenset(entries.get("Federated", [])),
        canonical_users=frozenset(entries.get("CanonicalUser", [])),
    )
