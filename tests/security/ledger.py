"""The attacker suite's tally: every case's outcome, gathered across xdist workers into one table.

A pytest plugin (``tests/conftest.py`` loads it, so the xdist controller has it too). The
controller makes a run-scoped directory and names it in ``AGENT_ZERO_SECURITY_LEDGER``;
workers, which inherit the environment, append one JSON line per case to a file of their
own. At the end the controller adds them up, prints the table and fails the run when any
minted session could do more than its grants, or when a full run has fewer than
``MIN_CASES`` cases.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

import pytest

LEDGER_ENV = "AGENT_ZERO_SECURITY_LEDGER"
CATEGORIES = ("tokens", "sigv4", "on-behalf-of", "injections", "hostile-proposals", "bodies")
MIN_CASES = 150
_CREATED = pytest.StashKey[Path]()
_VERDICT = pytest.StashKey[list[str]]()


class Outcome(StrEnum):
    """Where a case ended: no credentials (refused or denied), a person's queue, or minted."""

    DENIED = "denied"
    PENDING = "pending"
    MINTED = "minted"


@dataclass(frozen=True, slots=True)
class Entry:
    """One case's result: its outcome, and for minted sessions what the gateway probes found."""

    category: str
    case: str
    outcome: Outcome
    over_grants: int = 0
    probes: int = 0


class Ledger:
    """Appends this worker's cases to its own file in the run's ledger directory."""

    def __init__(self, directory: Path, worker: str) -> None:
        self._path = directory / f"{worker}.jsonl"

    def record(self, entry: Entry) -> None:
        """Write one case's result now, so a crash later in the run loses nothing."""
        if entry.category not in CATEGORIES:
            raise ValueError(f"unknown category {entry.category!r}")
        with self._path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(asdict(entry)) + "\n")


def read_entries(directory: Path) -> list[Entry]:
    """Every recorded case, the last record of each (category, case) winning."""
    latest: dict[tuple[str, str], Entry] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            raw = json.loads(line)
            entry = Entry(**{**raw, "outcome": Outcome(raw["outcome"])})
            latest[(entry.category, entry.case)] = entry
    return list(latest.values())


def summary_rows(entries: Iterable[Entry]) -> list[tuple[str, int, int, int, int, int]]:
    """(category, cases, denied, pending, minted, over-grants) per category, then the total."""
    rows = []
    totals: Counter[str] = Counter()
    by_category: dict[str, list[Entry]] = {}
    for entry in entries:
        by_category.setdefault(entry.category, []).append(entry)
    for category in CATEGORIES:
        found = by_category.get(category, [])
        counts = Counter(entry.outcome for entry in found)
        over = sum(entry.over_grants for entry in found)
        row = (
            category,
            len(found),
            counts[Outcome.DENIED],
            counts[Outcome.PENDING],
            counts[Outcome.MINTED],
            over,
        )
        totals.update(
            dict(zip(("cases", "denied", "pending", "minted", "over"), row[1:], strict=True))
        )
        rows.append(row)
    rows.append(
        (
            "total",
            totals["cases"],
            totals["denied"],
            totals["pending"],
            totals["minted"],
            totals["over"],
        )
    )
    return rows


def verdict(entries: list[Entry]) -> list[str]:
    """Why the run fails (empty when it passes)."""
    problems = []
    over = sum(entry.over_grants for entry in entries)
    if over:
        problems.append(f"{over} over-grant(s): a minted session did more than its grants")
    categories = {entry.category for entry in entries}
    if categories == set(CATEGORIES) and len(entries) < MIN_CASES:
        problems.append(f"only {len(entries)} cases ran; the corpus must hold at least {MIN_CASES}")
    return problems


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_worker(config):
        return
    directory = Path(tempfile.mkdtemp(prefix="agent-zero-security-"))
    config.stash[_CREATED] = directory
    os.environ[LEDGER_ENV] = str(directory)  # xdist starts its workers after this


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = config.stash.get(_CREATED, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
        if os.environ.get(LEDGER_ENV) == str(directory):
            del os.environ[LEDGER_ENV]


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    """Where this worker records its cases."""
    directory = os.environ.get(LEDGER_ENV)
    if not directory:
        raise RuntimeError(f"{LEDGER_ENV} is not set: load security.ledger as a plugin")
    return Ledger(Path(directory), os.environ.get("PYTEST_XDIST_WORKER", "main"))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    directory = session.config.stash.get(_CREATED, None)
    if directory is None:
        return
    entries = read_entries(directory)
    if not entries:
        return
    problems = verdict(entries)
    session.config.stash[_VERDICT] = problems
    if problems and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    directory = config.stash.get(_CREATED, None)
    if directory is None:
        return
    entries = read_entries(directory)
    if not entries:
        return
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "attacker suite (tests/security)")
    header = ("category", "cases", "denied", "pending", "minted", "over-grants")
    widths = (18, 6, 7, 8, 7, 12)
    write(
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    for row in summary_rows(entries):
        cells = [str(row[0]).ljust(widths[0])]
        cells += [str(value).rjust(width) for value, width in zip(row[1:], widths[1:], strict=True)]
        write("  ".join(cells))
    write(f"probed gateway calls: {sum(entry.probes for entry in entries)}")
    categories = {entry.category for entry in entries}
    if categories != set(CATEGORIES):
        write(
            f"partial run ({len(categories)} of {len(CATEGORIES)} categories): minimum not checked"
        )
    for problem in config.stash.get(_VERDICT, []):
        terminalreporter.write_line(f"FAILED: {problem}", red=True, bold=True)
