"""What each hostile case expects, and the one place that checks it, probes and records it.

Every case ends in exactly one of four expectations:

- ``Refused``: the API turned the request away before any decision (HTTP status, error
  code and message pinned);
- ``Denied``: a decision to deny (403, the reasons, the guardrail violation codes);
- ``Pending``: a person must decide (202);
- ``Minted``: credentials for exactly these grants. They are probed against the gateway.

Whatever was expected, a response that carries credentials is probed, and its over-grants
are counted in the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from security.ledger import Entry, Ledger, Outcome
from security.probe import Prober, ProbeReport

UNAVAILABLE_REVIEWER = "The reviewer was unavailable; nothing was granted."
BROKE_THE_RULES = "The proposal broke the access rules."


@dataclass(frozen=True, slots=True)
class Refused:
    """Turned away before a decision: status, error code and (when pinned) the message."""

    status: int
    error: str
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Denied:
    """A denial, with its reasons and the guardrail violation codes (if any)."""

    reasons: tuple[str, ...]
    violations: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Pending:
    """Waiting for a person."""

    reason: str


@dataclass(frozen=True, slots=True)
class Minted:
    """Credentials for exactly these grants (catalog key -> actions)."""

    grants: Mapping[str, frozenset[str]]


Expected = Refused | Denied | Pending | Minted


def grants(*pairs: tuple[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    """``grants(("transactions", ("dynamodb:Query",)))`` as the Minted mapping."""
    return {key: frozenset(actions) for key, actions in pairs}


@dataclass(frozen=True, slots=True)
class Who:
    """The principal a case acts as, for probing: the key its rows are scoped to, if any."""

    username: str
    owner_key: str | None
    mine: str
    other: str


ALICE = Who("alice.moreau", "c-1001", "c-1001", "c-1002")
BEN = Who("ben.okafor", "c-1002", "c-1002", "c-1001")
KWAME = Who("kwame.mensah", None, "c-1001", "c-1002")
TOMAS = Who("tomas.lindqvist", None, "c-1001", "c-1002")
PRIYA = Who("priya.raman", None, "c-1001", "c-1002")


def outcome_of(response: httpx.Response) -> Outcome:
    """Minted when credentials came back, pending on 202, otherwise denied."""
    body = _json(response)
    if isinstance(body, dict) and isinstance(body.get("credentials"), dict):
        return Outcome.MINTED
    if response.status_code == 202:
        return Outcome.PENDING
    return Outcome.DENIED


@dataclass
class Verdict:
    """What a case produced: its outcome, the probe report for minted sessions, the problems."""

    outcome: Outcome
    report: ProbeReport | None = None
    problems: list[str] = field(default_factory=list)


def settle(
    *,
    ledger: Ledger,
    prober: Prober,
    category: str,
    case: str,
    response: httpx.Response,
    expected: Expected,
    who: Who,
) -> Verdict:
    """Probe what was minted, record the case, and return every way it differs from ``expected``."""
    outcome = outcome_of(response)
    body = _json(response)
    verdict = Verdict(outcome)
    if outcome is Outcome.MINTED:
        approved = {
            g["resource_key"]: frozenset(g["actions"])
            for g in body.get("grants", [])
            if isinstance(g, dict)
        }
        verdict.report = prober.probe(
            body["credentials"], approved, owner_key=who.owner_key, mine=who.mine, other=who.other
        )
        session = verdict.report.caller_arn.rsplit("/", 1)[-1]
        if session != body.get("request_id"):
            verdict.problems.append(f"the session {verdict.report.caller_arn} is not the request's")
        if verdict.report.over_grants or verdict.report.under_grants:
            verdict.problems.append(verdict.report.describe())
    report = verdict.report
    ledger.record(
        Entry(
            category=category,
            case=case,
            outcome=outcome,
            over_grants=len(report.over_grants) if report else 0,
            probes=len(report.findings) if report else 0,
        )
    )
    verdict.problems += _differences(response, body, expected, outcome)
    return verdict


def passed(verdict: Verdict) -> None:
    """Fail with every problem the case had."""
    assert not verdict.problems, "\n".join(verdict.problems)


def _differences(
    response: httpx.Response, body: Any, expected: Expected, outcome: Outcome
) -> list[str]:
    status = response.status_code
    shown = f"HTTP {status} {str(body)[:300]}"
    if isinstance(expected, Refused):
        wanted = {"error": expected.error}
        if expected.message is not None:
            wanted["message"] = expected.message
        got = {key: body.get(key) for key in wanted} if isinstance(body, dict) else body
        if status != expected.status or got != wanted:
            return [f"expected HTTP {expected.status} {wanted}, got {shown}"]
        return []
    if not isinstance(body, dict):
        return [f"expected a request record, got {shown}"]
    if isinstance(expected, Denied):
        codes = frozenset(v.get("code") for v in body.get("violations", []))
        got_denied = (status, body.get("status"), tuple(body.get("reasons", [])), codes)
        want = (403, "denied", expected.reasons, expected.violations)
        return [] if got_denied == want else [f"expected denied {want}, got {shown}"]
    if isinstance(expected, Pending):
        want_pending = (202, "pending", [expected.reason])
        got_pending = (status, body.get("status"), body.get("reasons"))
        return [] if got_pending == want_pending else [f"expected {want_pending}, got {shown}"]
    approved = {g["resource_key"]: frozenset(g["actions"]) for g in body.get("grants", [])}
    if outcome is not Outcome.MINTED or status != 200 or approved != dict(expected.grants):
        return [f"expected credentials for {dict(expected.grants)}, got {shown}"]
    return []


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
