"""Many requesters at once: the sandbox's broker under load, with a reviewer that takes 300 ms.

The sandbox runs as a person runs it (``agent-zero up``, its own process); its
reviewer is the LLM reviewer answering from a scripted OpenAI-compatible model
server (another process) that waits ``--review-ms`` before each answer and approves,
denies or escalates. ``--clients`` requesters share the five demo users (Cognito
tokens through the gateway) and the support agent (SigV4), each sending its next
request as soon as it has an answer. The API's per-principal rate limiter answers
429 by design once a principal's burst is spent; a requester told 429 waits a
second or so and asks again. 429s are counted apart; anything else that is not an
answer (200 credentials, 202 pending, 403 denied) is an error.

Afterwards every request id a requester was given must have a complete audit
trail (received, and the records that say how it ended: reviewed and issued
after minting, reviewed and pending approval, or denied) and the chain must
verify. The script
exits 1 on any error or incomplete trail.

    .venv/bin/python benchmarks/load.py [--seconds 60] [--clients 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from agent_zero.adapters.sqlite import SqliteAuditLog, SqliteDatabase, SqliteRequestStore
from agent_zero.domain.audit import AuditEvent, AuditRecord
from agent_zero.domain.requests import RequestRecord, RequestState
from agent_zero.sandbox.record import SandboxRecord, read_record
from agent_zero.wiring import BROKER_DATABASE

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "priya.raman"
ANSWERED = (200, 202, 403)
UP_TIMEOUT = 120.0
# Every principal's whole burst is decided at once at the start; after this, the rate.
BURST_SECONDS = 10.0
QUANTILES = (0.50, 0.90, 0.99)
# What each final state must have in its trail besides RECEIVED (a denial may come before
# any review: an unknown principal, or one with no policy).
ENDINGS = {
    RequestState.APPROVED: (AuditEvent.REVIEWED, AuditEvent.MINTING, AuditEvent.ISSUED),
    RequestState.DENIED: (AuditEvent.DENIED,),
    RequestState.PENDING: (AuditEvent.REVIEWED, AuditEvent.PENDING_APPROVAL),
}


# --- the scripted reviewer, in its own process -----------------------------------------


def serve_model(replies: int, delay: float, address: Any, stop: Any) -> None:
    """The scripted model server: ``replies`` answers, each after ``delay`` seconds."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.model_server import Structured, run_model_server

    rng = random.Random(7)
    grant = {"resource_key": "account-balances", "actions": ["dynamodb:Query"]}
    with run_model_server() as server:
        for _ in range(replies):
            decision = rng.choices(["approve", "deny", "escalate"], weights=[5, 3, 2])[0]
            body = {
                "decision": decision,
                "grants": [grant] if decision != "deny" else [],
                "duration_seconds": 900,
                "risk": "low",
                "rationale": "Scripted for the load benchmark.",
            }
            server.enqueue(Structured(body, delay_seconds=delay))
        address.put(server.base_url)
        stop.wait()


# --- the sandbox process ---------------------------------------------------------------


class Sandbox:
    """``agent-zero up`` in a child process, its output in a file."""

    def __init__(self, data_dir: Path, model_url: str) -> None:
        self.data_dir = data_dir
        self.log = data_dir.parent / "up.out"
        env = {
            **os.environ,
            "AGENT_ZERO_LLM_PROVIDER": "openai-compatible",
            "AGENT_ZERO_LLM_MODEL": "scripted-model",
            "AGENT_ZERO_LLM_BASE_URL": model_url,
            "AGENT_ZERO_LLM_API_KEY": "sk-benchmark-not-a-real-key",
        }
        self._out = self.log.open("w")
        self.process = subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
            [sys.executable, "-m", "agent_zero", "up", "--data-dir", str(data_dir),
             "--gateway-port", "0", "--api-port", "0"],
            stdout=self._out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip

    def wait_until_up(self) -> SandboxRecord:
        deadline = time.monotonic() + UP_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            if "Press Ctrl-C" in self.log.read_text():
                record = read_record(self.data_dir)
                assert record is not None
                return record
            time.sleep(0.1)
        raise SystemExit(f"the sandbox did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


def sign_in(record: SandboxRecord, username: str) -> str:
    """A real Cognito access token, from the user pool through the gateway."""
    public = boto3.client(
        "cognito-idp",
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        config=Config(signature_version=UNSIGNED),
    )
    answer = public.initiate_auth(
        ClientId=record.cognito.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": record.user(username).password},
    )
    return str(answer["AuthenticationResult"]["AccessToken"])


# --- the requesters --------------------------------------------------------------------


@dataclass(frozen=True)
class Requester:
    """One principal's way in: a bearer token, or the agent's SigV4 key."""

    name: str
    token: str | None = None
    key: Credentials | None = None
    region: str = "us-east-1"

    def headers(self, url: str, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.token is not None:
            return headers | {"Authorization": f"Bearer {self.token}"}
        assert self.key is not None
        request = AWSRequest(
            method="POST", url=url, data=body, headers=headers | {"Host": urlsplit(url).netloc}
        )
        SigV4Auth(self.key, "execute-api", self.region).add_auth(request)
        return dict(request.headers.items())


@dataclass
class Tally:
    """Everything the requesters saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)  # answered requests only
    steady_ms: list[float] = field(default_factory=list)  # answered once the first burst is over
    limited_ms: list[float] = field(default_factory=list)  # 429s
    began: float = field(default_factory=time.monotonic)
    request_ids: dict[str, int] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)


async def request_loop(
    http: httpx.AsyncClient, url: str, who: Requester, until: float, tally: Tally, seed: int
) -> None:
    """Ask, wait for the answer, ask again; back off after a 429."""
    rng = random.Random(seed)
    number = 0
    while time.monotonic() < until:
        number += 1
        body = json.dumps({"reason": f"Check my balance before paying rent ({number})."})
        sent_at, started = time.monotonic(), time.perf_counter()
        try:
            answer = await http.post(url, content=body, headers=who.headers(url, body.encode()))
        except httpx.HTTPError as error:
            tally.errors[type(error).__name__] += 1
            await asyncio.sleep(0.5)
            continue
        elapsed = (time.perf_counter() - started) * 1000
        tally.statuses[answer.status_code] += 1
        if answer.status_code == 429:
            tally.limited_ms.append(elapsed)
            await asyncio.sleep(rng.uniform(0.5, 1.5))
            continue
        if answer.status_code not in ANSWERED:
            tally.errors[f"HTTP {answer.status_code}"] += 1
            continue
        tally.latencies_ms.append(elapsed)
        if sent_at - tally.began > BURST_SECONDS:
            tally.steady_ms.append(elapsed)
        tally.request_ids[answer.json()["request_id"]] = answer.status_code


async def run_load(
    api_url: str, requesters: list[Requester], clients: int, seconds: float
) -> Tally:
    """``clients`` requesters for ``seconds``, spread over the principals."""
    tally = Tally()
    url = f"{api_url}/v1/access-requests"
    # Idle connections are dropped before uvicorn's 5 s keep-alive would close them under a
    # request being sent (that race is the client's, not the broker's).
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(
                request_loop(http, url, requesters[i % len(requesters)], until, tally, seed=i)
                for i in range(clients)
            )
        )
    return tally


# --- the audit check -------------------------------------------------------------------


def audit_problems(data_dir: Path, request_ids: dict[str, int]) -> tuple[list[str], int]:
    """Incomplete trails and chain breaks (as sentences), and how many records were read."""
    with SqliteDatabase(data_dir / BROKER_DATABASE) as database:
        audit = SqliteAuditLog(database)
        problems = audit.verify()
        records = {r.request_id: r for r in SqliteRequestStore(database).list()}
        trails: dict[str, list[AuditRecord]] = {}
        every = audit.records()
        for entry in every:
            trails.setdefault(entry.request_id or "", []).append(entry)
    for request_id in request_ids:
        record = records.get(request_id)
        if record is None:
            problems.append(f"{request_id}: no request record")
            continue
        problems += trail_problems(record, trails.get(request_id, []))
    return problems, len(every)


def trail_problems(record: RequestRecord, trail: list[AuditRecord]) -> list[str]:
    """What the request's audit trail lacks for the state it ended in."""
    events = [entry.event for entry in trail]
    wanted = (AuditEvent.RECEIVED, *ENDINGS.get(record.state, ()))
    if record.state not in ENDINGS:
        return [f"{record.request_id}: ended {record.state.value}"]
    missing = [event.value for event in wanted if event not in events]
    issued = [entry for entry in trail if entry.event is AuditEvent.ISSUED]
    if record.session is not None and (
        not issued or issued[-1].details.get("access_key_id") != record.session.access_key_id
    ):
        missing.append("issued with the session's access key id")
    return [f"{record.request_id}: no {', '.join(missing)}"] if missing else []


# --- the report ------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def report(
    options: argparse.Namespace, tally: Tally, elapsed: float, audit: list[str], read: int
) -> None:
    """Print the table."""
    sent = sum(tally.statuses.values()) + sum(tally.errors.values())
    answered = sum(tally.statuses[s] for s in ANSWERED)
    other = sum(n for s, n in tally.statuses.items() if s not in (*ANSWERED, 429))
    errors = sum(tally.errors.values())
    transport = sum(n for kind, n in tally.errors.items() if not kind.startswith("HTTP "))
    print(
        f"agent-zero load benchmark | Python {platform.python_version()} | {platform.machine()} "
        f"| {os.cpu_count()} CPUs | {options.clients} requesters for {options.seconds:.0f} s, "
        f"reviewer {options.review_ms} ms; the sandbox in its own process"
    )
    print()
    print(f"{'requests sent':<36} {sent:>8}")
    for label, count in (
        ("200 approved", tally.statuses[200]),
        ("202 pending approval", tally.statuses[202]),
        ("403 denied", tally.statuses[403]),
        ("429 rate limited (by design)", tally.statuses[429]),
        ("other status", other),
        ("no answer (transport error)", transport),
    ):
        print(f"  {label:<34} {count:>8}")
    kinds = ", ".join(f"{kind} x{n}" for kind, n in tally.errors.most_common())
    print(f"{'errors (not 200/202/403/429)':<36} {errors:>8}  {kinds}".rstrip())
    print(
        f"{'throughput':<36} {answered / elapsed:>8.1f} decided/s "
        f"({sent / elapsed:.0f} answers/s with 429s)"
    )
    print()
    print(f"{'latency':<36} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}   (samples)")
    for label, samples in (
        ("  200/202/403", tally.latencies_ms),
        (f"    sent after the first {BURST_SECONDS:.0f} s", tally.steady_ms),
        ("  429", tally.limited_ms),
    ):
        cells = [f"{percentile(samples, q):>8.1f}" if samples else f"{'-':>8}" for q in QUANTILES]
        print(f"{label:<36} {' '.join(cells)}   ({len(samples)})")
    print()
    verdict = "complete; the chain verifies" if not audit else f"{len(audit)} PROBLEMS"
    print(f"audit: {len(tally.request_ids)} request ids, {read} records read: {verdict}")
    for problem in audit[:10]:
        print(f"  {problem}")


def main() -> None:
    """Start the model server and the sandbox, run the load, check the audit, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long (default 60)")
    parser.add_argument("--clients", type=int, default=200, help="requesters (default 200)")
    parser.add_argument("--review-ms", type=int, default=300, help="reviewer delay (300)")
    options = parser.parse_args()
    # Enough answers for every principal's burst and rate, many times over.
    replies = 6 * int(10 + options.seconds) * 10 + 1_000
    context = multiprocessing.get_context("spawn")
    address, stop = context.Queue(), context.Event()
    model = context.Process(
        target=serve_model, args=(replies, options.review_ms / 1000, address, stop)
    )
    model.start()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        sandbox: Sandbox | None = None
        try:
            sandbox = Sandbox(data_dir, address.get(timeout=60))
            record = sandbox.wait_until_up()
            assert record.broker_api_url is not None
            requesters = [Requester(user.username, token=sign_in(record, user.username))
                          for user in record.users]  # fmt: skip
            agent = record.agent_credentials
            requesters.append(
                Requester(
                    "support-assistant",
                    key=Credentials(agent.access_key_id, agent.secret_access_key),
                    region=record.region,
                )
            )
            started = time.monotonic()
            tally = asyncio.run(
                run_load(record.broker_api_url, requesters, options.clients, options.seconds)
            )
            elapsed = time.monotonic() - started
            admin = next(r for r in requesters if r.name == ADMIN)
            verified = httpx.get(
                f"{record.broker_api_url}/v1/admin/audit/verify",
                headers={"Authorization": f"Bearer {admin.token}"},
                timeout=60,
            ).json()
        finally:
            if sandbox is not None:
                sandbox.stop()
            stop.set()
            model.join(30)
        audit, read = audit_problems(data_dir, tally.request_ids)
    if not verified.get("verified"):
        audit.insert(0, "GET /v1/admin/audit/verify: the chain does not verify")
    report(options, tally, elapsed, audit, read)
    if tally.errors or audit:
        sys.exit(1)


if __name__ == "__main__":
    main()
