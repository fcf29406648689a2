"""The pure core (domain, iam) imports only the standard library and pydantic, and no I/O."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "agent_zero"
PURE_PACKAGES = ("domain", "iam")
ALLOWED_THIRD_PARTY = {"pydantic", "pydantic_core", "typing_extensions", "annotated_types"}
# Standard-library modules that reach the outside world; the core must not use them.
FORBIDDEN_STDLIB = {
    "sqlite3",
    "socket",
    "subprocess",
    "urllib",
    "http",
    "ssl",
    "ftplib",
    "smtplib",
    "asyncio",
    "multiprocessing",
    "threading",
    "shutil",
    "tempfile",
}


# Pure submodules of otherwise forbidden packages (string parsing only).
PURE_STDLIB = {"urllib.parse"}


def violations_in(source: str, *, internal_allowed: tuple[str, ...]) -> list[str]:
    """Every import or environment read in ``source`` that the pure core may not have."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            found.extend(
                f"reads the environment via {alias.name}"
                for alias in node.names
                if alias.name in {"environ", "getenv", "putenv"}
            )
        elif isinstance(node, ast.ImportFrom):
            found.append("relative import (use absolute agent_zero.* imports)")
        for name in names:
            top = name.split(".")[0]
            if top == "agent_zero":
                if not name.startswith(internal_allowed):
                    found.append(f"imports {name}")
            elif top in FORBIDDEN_STDLIB and name not in PURE_STDLIB:
                found.append(f"imports I/O module {name}")
            elif top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY:
                found.append(f"imports third-party {name}")
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "putenv"}:
            found.append(f"reads the environment via .{node.attr}")
        if isinstance(node, ast.Name) and node.id in {"environ", "getenv"}:
            found.append(f"reads the environment via {node.id}")
    return found


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_packages_exist_and_are_scanned(package: str) -> None:
    assert len(_modules(package)) >= 2


@pytest.mark.parametrize(
    "path",
    [p for pkg in PURE_PACKAGES for p in _modules(pkg)],
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_core_module_is_pure(path: Path) -> None:
    problems = violations_in(
        path.read_text(), internal_allowed=("agent_zero.domain", "agent_zero.iam")
    )
    assert problems == [], f"{path.relative_to(SRC)}: {problems}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import boto3", "imports third-party boto3"),
        ("from botocore.client import Config", "imports third-party botocore.client"),
        ("import httpx", "imports third-party httpx"),
        ("import openai", "imports third-party openai"),
        ("import sqlite3", "imports I/O module sqlite3"),
        ("import urllib.request", "imports I/O module urllib.request"),
        ("from urllib import request", "imports I/O module urllib"),
        ("import os\nx = os.environ['A']", "reads the environment via .environ"),
        ("from os import getenv", "reads the environment via getenv"),
        ("import os\nos.getenv('A')", "reads the environment via .getenv"),
        ("from agent_zero.adapters import aws", "imports agent_zero.adapters"),
        ("from . import x", "relative import (use absolute agent_zero.* imports)"),
    ],
)
def test_checker_catches_what_the_core_must_not_do(source: str, expected: str) -> None:
    assert expected in violations_in(
        source, internal_allowed=("agent_zero.domain", "agent_zero.iam")
    )


def test_checker_accepts_stdlib_and_pydantic() -> None:
    source = (
        "import json\nimport re\nfrom pydantic import BaseModel\nfrom agent_zero.iam import x\n"
        "from urllib.parse import quote"
    )
    assert violations_in(source, internal_allowed=("agent_zero.domain", "agent_zero.iam")) == []


@pytest.mark.parametrize(
    "path",
    [*_modules("sandbox/demo_bank"), SRC / "sandbox" / "sigv4.py"],
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_the_demo_bank_and_the_signature_verifier_are_pure(path: Path) -> None:
    # Pure data and pure verification: testable without moto, boto3 or a socket.
    problems = violations_in(
        path.read_text(),
        internal_allowed=("agent_zero.domain", "agent_zero.iam", "agent_zero.sandbox.demo_bank"),
    )
    assert problems == [], f"{path.relative_to(SRC)}: {problems}"


@pytest.mark.parametrize(
    "path",
    [p for pkg in ("domain", "iam", "broker") for p in _modules(pkg)],
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_the_core_never_reaches_into_the_sandbox(path: Path) -> None:
    # The broker must behave the same against AWS and the sandbox: it cannot know which.
    assert "agent_zero.sandbox" not in path.read_text()


@pytest.mark.parametrize("path", _modules("broker"), ids=lambda p: str(p.relative_to(SRC)))
def test_the_broker_reaches_the_world_only_through_its_ports(path: Path) -> None:
    # Use cases may hold a lock (threading) but never do I/O or import an adapter.
    problems = [
        problem
        for problem in violations_in(
            path.read_text(),
            internal_allowed=("agent_zero.domain", "agent_zero.iam", "agent_zero.broker"),
        )
        if problem != "imports I/O module threading"
    ]
    assert problems == [], f"{path.relative_to(SRC)}: {problems}"


@pytest.mark.parametrize("path", _modules("agent"), ids=lambda p: str(p.relative_to(SRC)))
def test_the_agent_reaches_the_world_only_through_its_ports(path: Path) -> None:
    # The agent's model runs through pydantic-ai; AWS and the broker only through ports.
    problems = [
        problem
        for problem in violations_in(
            path.read_text(),
            internal_allowed=("agent_zero.domain", "agent_zero.agent"),
        )
        if problem not in ("imports third-party pydantic_ai", "imports I/O module asyncio")
        and not problem.startswith("imports third-party pydantic_ai.")
    ]
    assert problems == [], f"{path.relative_to(SRC)}: {problems}"
