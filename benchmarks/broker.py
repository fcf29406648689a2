"""The full request flow over HTTP, split into the broker's own time and the wait on AWS.

A customer's access request goes through the real stack: HTTP to the broker API,
Cognito token verification, SQLite stores and the audit chain (the write-ahead
record fsynced), the guardrails, the compiler and the containment proof, and
STS/IAM calls through the sandbox gateway. The sandbox runs in its own process,
as AWS would be, so its work is not counted as the broker's. The reviewer is
scripted and instant, so the numbers are the broker's, not a model's. The AWS
wait (AssumeRole, GetRolePolicy) is timed around each call and subtracted from
the client-observed latency.

    .venv/bin/python benchmarks/broker.py [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore import UNSIGNED
from botocore.config import Config

from agent_zero.adapters.memory import ScriptedReviewer
from agent_zero.broker.access import Broker
from agent_zero.broker.ports import CatalogSource, CredentialMinter, MintRequest
from agent_zero.domain.catalog import Catalog
from agent_zero.domain.credentials import Credentials
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from agent_zero.sandbox.broker_service import start_broker_api
from agent_zero.sandbox.demo_bank import demo_bank
from agent_zero.sandbox.record import read_record, write_record
from agent_zero.sandbox.runtime import Sandbox
from agent_zero.sandbox.seed import Endpoint, seed_demo_bank
from agent_zero.settings import Settings
from agent_zero.web.api import RateLimiter
from agent_zero.wiring import sandbox_broker

TARGET_MS = 5.0


class AwsTimer:
    """Accumulates time spent in AWS calls, per thread (one request per thread at a time)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self.samples: list[float] = []

    def add(self, seconds: float) -> None:
        self._local.total = getattr(self._local, "total", 0.0) + seconds

    def take(self) -> float:
        total = getattr(self._local, "total", 0.0)
        self._local.total = 0.0
        return total


@dataclasses.dataclass
class TimedMinter:
    inner: CredentialMinter
    timer: AwsTimer

    def mint(self, request: MintRequest) -> Credentials:
        started = time.perf_counter()
        try:
            return self.inner.mint(request)
        finally:
            self.timer.add(time.perf_counter() - started)


@dataclasses.dataclass
class TimedCatalog:
    inner: CatalogSource
    timer: AwsTimer

    def catalog(self) -> Catalog:
        return self.inner.catalog()

    def role_policies(self, role_arn: str) -> Sequence[Any]:
        started = time.perf_counter()
        try:
            return self.inner.role_policies(role_arn)
        finally:
            self.timer.add(time.perf_counter() - started)


def p99(samples: list[float]) -> float:
    """The 99th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def run_sandbox(data_dir: str, ready: Any, stop: Any) -> None:
    """The sandbox in a child process: start, seed, write sandbox.json, wait."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sandbox = Sandbox(Path(data_dir), gateway_port=0, snapshot_interval=3600)
    sandbox.start()
    try:
        bank = demo_bank()
        root = sandbox.root
        record = seed_demo_bank(
            Endpoint(sandbox.endpoint_url, bank.region, root.access_key_id, root.secret_access_key),
            bank,
            previous=None,
            progress=lambda _m: None,
        )
        write_record(Path(data_dir), record)
        ready.set()
        stop.wait()
    finally:
        sandbox.stop()


def main() -> None:
    """Run the flow and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    iterations = 30 if parser.parse_args().quick else 400
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        ready, stop = context.Event(), context.Event()
        child = context.Process(target=run_sandbox, args=(str(data_dir), ready, stop))
        child.start()
        api = None
        try:
            if not ready.wait(120):
                raise SystemExit("the sandbox did not start")
            record = read_record(data_dir)
            assert record is not None
            bank = demo_bank()
            grant = Grant(resource_key="account-balances", actions=("dynamodb:Query",))
            reviewer = ScriptedReviewer(
                Proposal(decision=ProposalDecision.APPROVE, grants=(grant,), duration_seconds=900)
            )
            settings = Settings(data_dir=data_dir)
            plain: Broker = sandbox_broker(settings, reviewer=reviewer)
            timer = AwsTimer()
            server_aws: list[float] = []
            timed_minter = TimedMinter(plain.minter, timer)

            class NotingMinter:
                def mint(self, request: MintRequest) -> Credentials:
                    credentials = timed_minter.mint(request)
                    server_aws.append(timer.take())
                    return credentials

            broker = dataclasses.replace(
                plain, minter=NotingMinter(), catalogs=TimedCatalog(plain.catalogs, timer)
            )
            api = start_broker_api(
                settings=settings,
                record=record,
                bank=bank,
                port=0,
                broker=broker,
                limiter=RateLimiter(per_minute=1_000_000, burst=1_000_000),
            )
            token = sign_in(record)
            totals: list[float] = []
            with httpx.Client(base_url=api.url, timeout=30) as client:
                headers = {"Authorization": f"Bearer {token}"}
                for _ in range(10):  # warm-up
                    client.post("/v1/access-requests", json={"reason": "warm up"}, headers=headers)
                server_aws.clear()
                for _ in range(iterations):
                    started = time.perf_counter()
                    answer = client.post(
                        "/v1/access-requests",
                        json={"reason": "My balance before paying rent."},
                        headers=headers,
                    )
                    totals.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200, answer.text
        finally:
            if api is not None:
                api.stop()
            stop.set()
            child.join(30)
    report(totals, [seconds * 1000 for seconds in server_aws[-len(totals) :]])


def sign_in(record: Any) -> str:
    """A real Cognito access token for the customer."""
    public = boto3.client(
        "cognito-idp",
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        config=Config(signature_version=UNSIGNED),
    )
    answer = public.initiate_auth(
        ClientId=record.cognito.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": "alice.moreau",
            "PASSWORD": record.user("alice.moreau").password,
        },
    )
    return str(answer["AuthenticationResult"]["AccessToken"])


def report(totals: list[float], aws: list[float]) -> None:
    """Print the table."""
    own = [total - wait for total, wait in zip(totals, aws, strict=True)]
    elapsed = sum(totals) / 1000
    print(
        f"agent-zero broker benchmark | Python {platform.python_version()} | "
        f"{platform.machine()} | HTTP on 127.0.0.1, one client; the sandbox in its own process"
    )
    print()
    print(f"{'measure':<34} {'p50 ms':>8} {'p99 ms':>8} {'samples':>8}  target")
    rows = [
        ("full request (client-observed)", totals, ""),
        ("waiting on AWS (STS, IAM)", aws, ""),
        ("broker's own time", own, f"p99 < {TARGET_MS} ms: "),
    ]
    for name, samples, target in rows:
        verdict = ""
        if target:
            verdict = target + ("met" if p99(samples) < TARGET_MS else "MISSED")
        print(
            f"{name:<34} {statistics.median(samples):>8.2f} {p99(samples):>8.2f} "
            f"{len(samples):>8}  {verdict}"
        )
    print()
    print(f"requests per second (one client, sequential): {len(totals) / elapsed:.0f}")


if __name__ == "__main__":
    main()
