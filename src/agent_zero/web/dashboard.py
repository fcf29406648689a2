"""The admin dashboard's numbers, computed from request records (pure: no I/O)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from agent_zero.domain.requests import RequestRecord, RequestState

OUTCOMES = ("approved", "pending", "denied", "revoked", "failed")
RISKS = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class DashboardNumbers:
    """What the dashboard draws."""

    days: tuple[str, ...]  # ISO dates, oldest first
    by_outcome: dict[str, list[int]]  # outcome → count per day
    top_principals: list[tuple[str, int]]
    risk_mix: list[tuple[str, int]]
    median_decision_seconds: float | None
    total: int


def outcome_of(record: RequestRecord) -> str:
    """One word for a request's fate, as the dashboard groups them."""
    if record.revoked_at is not None:
        return "revoked"
    if record.state is RequestState.RECEIVED:
        return "pending"  # being decided right now
    return record.state.value


def dashboard_numbers(
    records: Sequence[RequestRecord], *, today: date, days: int = 14, top: int = 8
) -> DashboardNumbers:
    """Counts over the last ``days`` days (today included)."""
    first = today - timedelta(days=days - 1)
    labels = tuple((first + timedelta(days=i)).isoformat() for i in range(days))
    index = {label: i for i, label in enumerate(labels)}
    by_outcome = {outcome: [0] * days for outcome in OUTCOMES}
    principals: Counter[str] = Counter()
    risks: Counter[str] = Counter()
    decision_seconds: list[float] = []
    in_window = 0
    for record in records:
        day = record.request.received_at.date().isoformat()
        if day not in index:
            continue
        in_window += 1
        by_outcome[outcome_of(record)][index[day]] += 1
        principals[record.request.principal_id] += 1
        if record.proposal is not None:
            risks[record.proposal.risk.value] += 1
        decided = _decided_at(record)
        if decided is not None:
            decision_seconds.append((decided - record.request.received_at).total_seconds())
    return DashboardNumbers(
        days=labels,
        by_outcome=by_outcome,
        top_principals=sorted(principals.items(), key=lambda item: (-item[1], item[0]))[:top],
        risk_mix=[(risk, risks[risk]) for risk in RISKS],
        median_decision_seconds=statistics.median(decision_seconds) if decision_seconds else None,
        total=in_window,
    )


def _decided_at(record: RequestRecord) -> datetime | None:
    if record.state in (RequestState.RECEIVED, RequestState.PENDING):
        return None
    return record.decided_at or record.updated_at
