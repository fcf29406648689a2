"""Synthesized AgentZeroStack templates for tests/infra: the variants, and helpers that
read a template as plain JSON (resources by type, rendered intrinsics, a role's policies).

Two variants cover the stack's choices: ``demo`` (``demoBank=true``, no model: what the
deploy guide deploys) and ``bedrock`` (no demo bank, a Bedrock model through an
inference profile, enforced threat protection).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "eu-west-1"
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
VARIANTS = {
    "demo": ["-c", "demoBank=true"],
    "bedrock": [
        "-c",
        "demoBank=false",
        "-c",
        "llmProvider=bedrock",
        "-c",
        f"llmModel={BEDROCK_MODEL}",
        "-c",
        "threatProtection=enforced",
    ],
}
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}

Json = Any


@dataclass(frozen=True)
class Synth:
    """One synthesized cloud assembly."""

    outdir: Path
    template: dict[str, Json]
    seconds: float

    def resources(self, kind: str) -> dict[str, dict[str, Json]]:
        """Resources of one CloudFormation type, by logical id."""
        return {k: r for k, r in self.template["Resources"].items() if r["Type"] == kind}

    def one(self, kind: str, **properties: Json) -> tuple[str, dict[str, Json]]:
        """The one resource of ``kind`` whose properties include ``properties``."""
        found = [
            (k, r)
            for k, r in self.resources(kind).items()
            if all(r["Properties"].get(p) == v for p, v in properties.items())
        ]
        assert len(found) == 1, f"{len(found)} {kind} with {properties}"
        return found[0]


def render(value: Json) -> Json:
    """Resolve the intrinsics CDK emits: pseudo parameters become ACCOUNT, REGION, ...;
    other Refs become ``${LogicalId}`` and GetAtts ``${LogicalId.Attribute}``."""
    if isinstance(value, list):
        return [render(item) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return PSEUDO.get(value["Ref"], "${" + value["Ref"] + "}")
    if set(value) == {"Fn::GetAtt"}:
        resource, attribute = value["Fn::GetAtt"]
        return "${" + f"{resource}.{attribute}" + "}"
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(str(render(part)) for part in parts)
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}]+)\}", lambda m: PSEUDO.get(m[1], m[0]), value["Fn::Sub"])
    return {key: render(item) for key, item in value.items()}


def statements(document: Json) -> list[dict[str, Json]]:
    """A policy document's statements with Action and Resource as lists."""
    found = document["Statement"]
    found = found if isinstance(found, list) else [found]
    out = []
    for statement in found:
        normal = dict(statement)
        for key in ("Action", "Resource", "NotAction", "NotResource"):
            if key in normal and not isinstance(normal[key], list):
                normal[key] = [normal[key]]
        out.append(normal)
    return out


def role_policies(synth: Synth, role_id: str) -> dict[str, Json]:
    """Every policy attached to a role: its own, AWS::IAM::Policy and AWS::IAM::RolePolicy."""
    role = synth.template["Resources"][role_id]["Properties"]
    found = {p["PolicyName"]: p["PolicyDocument"] for p in role.get("Policies", [])}
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            found[policy["Properties"]["PolicyName"]] = policy["Properties"]["PolicyDocument"]
    for policy in synth.resources("AWS::IAM::RolePolicy").values():
        name = policy["Properties"]["RoleName"]
        if name in ({"Ref": role_id}, role.get("RoleName")):
            found[policy["Properties"]["PolicyName"]] = policy["Properties"]["PolicyDocument"]
    return found


def role_statements(synth: Synth, role_id: str) -> list[dict[str, Json]]:
    """Every statement of every policy of a role, rendered."""
    return [s for d in role_policies(synth, role_id).values() for s in statements(render(d))]


def role_id(synth: Synth, name: str) -> str:
    """The logical id of the role named ``name``."""
    return synth.one("AWS::IAM::Role", RoleName=name)[0]


def synthesize(outdir: Path, arguments: list[str]) -> Synth:
    """Run ``python -m infra.app`` (what ``make synth`` runs) into ``outdir``."""
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "infra.app", *arguments, "--outdir", str(outdir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "CDK_OUTDIR": str(outdir)},
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    template = json.loads((outdir / "AgentZeroStack.template.json").read_text())
    return Synth(outdir, template, time.monotonic() - started)
