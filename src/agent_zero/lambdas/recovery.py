"""Recovery on AWS: a scheduled function that fails requests an invocation left unfinished.

A function that times out, runs out of memory or crashes mid-request leaves the
request ``received`` (or an approval claimed and never issued), and may leave a
session STS minted that nobody received. This function, run on a schedule
(an EventBridge rule, every five minutes, reserved concurrency 1), fails those
requests and revokes the sessions. Only requests older than the longest a Lambda
function can run (15 minutes) plus a margin are touched, so a live request in any
function is never mistaken for a dead one.

It runs on a schedule rather than at each cold start: cold starts come in bursts
under load, each would add two index queries to someone's first request, and a
cold start says nothing about whether anything crashed. Nothing is at risk while
a request waits for the next run: no credentials were handed out (that happens
only after the approved record is stored), and a minted session's secret died
with the process that asked for it.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import boto3

from agent_zero.broker.ports import Clock
from agent_zero.broker.recovery import RecoveryReport, interrupted_before, recover_interrupted
from agent_zero.domain.errors import UnavailableError
from agent_zero.logs import configure_logging
from agent_zero.settings import Settings

RECOVERY_EVENT = "request_recovery"
logger = logging.getLogger(__name__)


def run_recovery(
    settings: Settings, session: boto3.Session, *, clock: Clock | None = None
) -> RecoveryReport:
    """One run over the broker's tables; UnavailableError when something is left for the next."""
    from agent_zero.review.human import HumanReviewer
    from agent_zero.wiring import aws_broker

    # Recovery never reviews: no model, no model key read from Secrets Manager.
    broker = aws_broker(settings, session, reviewer=HumanReviewer(), clock=clock)
    report = recover_interrupted(broker, before=interrupted_before(broker.clock.now()))
    logger.info(
        "interrupted requests recovered",
        extra={
            "event": RECOVERY_EVENT,
            "failed": list(report.failed),
            "revoked": list(report.revoked),
            "skipped": list(report.skipped),
            "unresolved": list(report.unresolved),
        },
    )
    if not report.clean:
        # A failed invocation raises the function's error alarm; the next run retries.
        raise UnavailableError(f"{len(report.unresolved)} interrupted request(s) remain")
    return report


@functools.cache
def _cold_start() -> tuple[Settings, boto3.Session]:
    settings = Settings()
    configure_logging(settings.log_format)
    return settings, boto3.Session(region_name=settings.region)


def handler(_event: dict[str, Any], _context: Any) -> dict[str, int]:
    """The Lambda entry point (``agent_zero.lambdas.recovery.handler``), for a schedule."""
    settings, session = _cold_start()
    report = run_recovery(settings, session)
    return {"failed": len(report.failed), "revoked": len(report.revoked)}
