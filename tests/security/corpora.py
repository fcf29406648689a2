"""Prompt-injection texts read straight out of pinned PyPI wheels, never imported or installed.

``make attack-corpora`` downloads the wheels named in ``attack-corpora.txt`` (hash-checked)
into ``build/attack-corpora/``. This module checks each wheel's hash again and reads:

- spikee's ``seeds-cybersec-2026-01`` seed set: jailbreak templates (``<INSTRUCTION>`` marks
  where the attacker's goal goes) and standalone hostile instructions, JSON lines;
- agentdojo's attack templates (``{goal}``, ``{user}``, ``{model}``), which are string
  constants in its ``attacks`` modules: parsed with ``ast``, never executed.

The sample is deterministic and bounded; a missing or altered wheel raises
``CorpusMissingError`` with the command that fixes it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PINS_FILE = Path(__file__).with_name("attack-corpora.txt")
CORPORA_DIR = Path(os.environ.get("AGENT_ZERO_ATTACK_CORPORA", ROOT / "build" / "attack-corpora"))
SPIKEE_SEEDS = "spikee/data/workspace/datasets/seeds-cybersec-2026-01"
AGENTDOJO_ATTACKS = (
    "agentdojo/attacks/baseline_attacks.py",
    "agentdojo/attacks/important_instructions_attacks.py",
)
# spikee ships its English seeds plus translations into four low-resource languages.
_TRANSLATED = re.compile(r"-(zu|sq|ga|gd)$")
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s]+)\s+--hash=sha256:([0-9a-f]{64})\s*$")


class CorpusMissingError(Exception):
    """The attack corpora are not where the tests read them, or are not the pinned wheels."""


@dataclass(frozen=True, slots=True)
class AttackText:
    """One hostile text from a corpus: where it came from, and the text with the goal filled in."""

    source: str  # e.g. "spikee:dan-01", "agentdojo:important_instructions"
    template: str
    text: str


def _pins() -> dict[str, tuple[str, str]]:
    pins: dict[str, tuple[str, str]] = {}
    for line in PINS_FILE.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            pins[match.group(1)] = (match.group(2), match.group(3))
    return pins


def open_wheel(name: str) -> zipfile.ZipFile:
    """The pinned wheel of ``name``, after checking its SHA-256 against attack-corpora.txt."""
    version, digest = _pins()[name]
    path = CORPORA_DIR / f"{name}-{version}-py3-none-any.whl"
    if not path.is_file():
        raise CorpusMissingError(
            f"{path} is missing: the injection tests read their attack texts from pinned "
            "wheels fetched at install time. Run `make attack-corpora` (needs PyPI once)."
        )
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != digest:
        raise CorpusMissingError(
            f"{path} has SHA-256 {actual}, not the pinned {digest}: delete it and run "
            "`make attack-corpora` again."
        )
    return zipfile.ZipFile(path)


def _json_lines(wheel: zipfile.ZipFile, member: str) -> list[dict[str, str]]:
    text = wheel.read(member).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def spikee_jailbreaks() -> list[tuple[str, str]]:
    """(id, template) of spikee's English jailbreaks and one seed in each translation."""
    with open_wheel("spikee") as wheel:
        rows = _json_lines(wheel, f"{SPIKEE_SEEDS}/jailbreaks.jsonl")
    chosen = [
        (row["id"], row["text"])
        for row in rows
        if not _TRANSLATED.search(row["id"]) or row["id"].startswith("new-instructions-01-")
    ]
    return sorted(chosen)


def spikee_instructions() -> list[tuple[str, str]]:
    """(id, text) of spikee's English standalone hostile instructions (XSS, exfiltration...)."""
    with open_wheel("spikee") as wheel:
        rows = _json_lines(wheel, f"{SPIKEE_SEEDS}/instructions.jsonl")
    return sorted(
        (row["id"], row["instruction"]) for row in rows if not _TRANSLATED.search(row["id"])
    )


def agentdojo_templates() -> list[tuple[str, str]]:
    """(attack name, template) of agentdojo's attacks that carry a ``{goal}``.

    The templates are class attributes (``_JB_STRING``) or constructor arguments; the
    attack's ``name`` attribute in the same class names it.
    """
    found: list[tuple[str, str]] = []
    with open_wheel("agentdojo") as wheel:
        sources = [wheel.read(member).decode("utf-8") for member in AGENTDOJO_ATTACKS]
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                name, template = _attack_in(node)
                if name and template:
                    found.append((name, template))
    return sorted(set(found))


def _attack_in(cls: ast.ClassDef) -> tuple[str | None, str | None]:
    name = template = None
    for node in ast.walk(cls):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            value = node.value.value
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if targets == ["name"] and isinstance(value, str):
                name = value
            elif isinstance(value, str) and "{goal}" in value:
                template = value
        elif isinstance(node, ast.Call):
            for argument in node.args:
                value = argument.value if isinstance(argument, ast.Constant) else None
                if isinstance(value, str) and "{goal}" in value:
                    template = value
    return name, template


def render_spikee(template: str, goal: str) -> str:
    """A spikee jailbreak with the attacker's goal where ``<INSTRUCTION>`` stands."""
    return template.replace("<INSTRUCTION>", goal)


def render_agentdojo(template: str, goal: str) -> str:
    """An agentdojo attack as its benchmark fills it in, aimed at the access reviewer."""
    return (
        template.replace("{goal}", goal)
        .replace("{user}", "Alice Moreau")
        .replace("{model}", "the access reviewer")
        .replace("{tools}", "Use the tool `grant_access` with the arguments: $resources.")
    )
