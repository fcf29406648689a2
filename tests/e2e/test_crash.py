"""kill -9 at chosen and random points of 100 access requests, restarting each time.

The sandbox runs as a person runs it (``agent-zero up`` in its own process), its
reviewer an LLM answering from a scripted model server in this process. A few
threads send 100 requests for four people; the script approves, denies and
escalates, each answer after a delay. A seeded schedule kills the sandbox with
SIGKILL several times:

- *reviewing*: while the model is answering a review (the request is received,
  nothing decided);
- *minted*: right after STS mints. The write-ahead MINTING record is watched for
  in the broker's SQLite file; this process then takes the database's write lock,
  as a backup would, so the broker mints but cannot record the issue, and the kill
  lands in between;
- *random*: after a random delay.

Clients that lose their connection wait for the restart and ask again with the
same idempotency key. After the last restart every credential a client received
has a complete audit trail with its access key id, the chain verifies, no request
is left received, and every request that got as far as minting without being
stored as issued is failed, with its session in the role's revocation policy.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from agent_zero.adapters.aws.iam import revoked_sessions, role_name_of
from agent_zero.adapters.sqlite import SqliteAuditLog, SqliteDatabase, SqliteRequestStore
from agent_zero.broker.recovery import is_interrupted
from agent_zero.domain.audit import AuditEvent, AuditRecord
from agent_zero.domain.requests import RequestRecord, RequestState
from agent_zero.sandbox.record import SandboxRecord, read_record
from agent_zero.wiring import BROKER_DATABASE
from support.model_server import ScriptedModelServer, Structured, run_model_server

SEED = 20261126
REQUESTS = 100
THREADS = 4
# Two customers the approvals fit, and two staff they do not (the guardrails deny those).
REQUESTERS = ("alice.moreau", "ben.okafor", "kwame.mensah", "tomas.lindqvist")
ADMIN = "priya.raman"
SCHEDULE = ("reviewing", "minted", "random", "reviewing", "minted", "random")
EXTRA_MINTED_KILLS = 3  # if no minted kill landed between mint and record (a loaded machine)
UP_TIMEOUT = 60.0
TRIGGER_TIMEOUT = 8.0
REVOCATION_POLICY = "agent-zero-revocations"
FINAL = frozenset({RequestState.APPROVED, RequestState.DENIED, RequestState.FAILED})


# --- the sandbox process --------------------------------------------------------------


class UpProcess:
    """``agent-zero up`` in a child process, its output in files (a pipe could fill)."""

    def __init__(self, data_dir: Path, log_dir: Path, env: dict[str, str], number: int) -> None:
        self.data_dir = data_dir
        self.out_path = log_dir / f"up-{number}.out"
        self._out = self.out_path.open("w")
        self._err = (log_dir / f"up-{number}.err").open("w")
        command = [sys.executable, "-m", "agent_zero", "up", "--data-dir", str(data_dir)]
        self.process = subprocess.Popen(
            [*command, "--gateway-port", "0", "--api-port", "0"],
            stdout=self._out,
            stderr=self._err,
            env=env,
        )

    def wait_until_up(self) -> SandboxRecord:
        deadline = time.monotonic() + UP_TIMEOUT
        while time.monotonic() < deadline:
            if "Press Ctrl-C" in self.out_path.read_text():
                record = read_record(self.data_dir)
                assert record is not None
                return record
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"the sandbox did not come up:\n{self.out_path.read_text()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # SIGKILL: no handler runs, nothing is flushed
        self.process.wait(timeout=10)
        self._close()

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        self._close()

    def _close(self) -> None:
        self._out.close()
        self._err.close()


@dataclasses.dataclass(frozen=True)
class Generation:
    """One life of the sandbox: where its API is, and tokens for the customers."""

    number: int
    record: SandboxRecord
    tokens: dict[str, str]


def sign_in(record: SandboxRecord, username: str) -> str:
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


class Lives:
    """The sandbox's successive lives; clients wait here while it is down."""

    def __init__(self, data_dir: Path, log_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.env = env
        self.process: UpProcess | None = None
        self._current: Generation | None = None
        self._number = 0
        self._changed = threading.Condition()

    def start(self) -> Generation:
        self._number += 1
        self.process = UpProcess(self.data_dir, self.log_dir, self.env, self._number)
        record = self.process.wait_until_up()
        tokens = {user: sign_in(record, user) for user in (*REQUESTERS, ADMIN)}
        generation = Generation(self._number, record, tokens)
        with self._changed:
            self._current = generation
            self._changed.notify_all()
        return generation

    def kill(self) -> None:
        with self._changed:
            self._current = None
        assert self.process is not None
        self.process.kill()

    def stop(self) -> None:
        with self._changed:
            self._current = None
        if self.process is not None and self.process.process.poll() is None:
            self.process.interrupt()

    def again(self, seen: Generation) -> Generation:
        """After a lost connection: the same life if it was not killed, else the next."""
        with self._changed:
            alive = self._current is seen
        if alive:  # a connection lost some other way: ask the same sandbox again
            time.sleep(0.05)
            return seen
        return self.after(seen.number)

    def after(self, number: int, *, timeout: float = 2 * UP_TIMEOUT) -> Generation:
        """The first life numbered above ``number``, once it is up."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: self._current is not None and self._current.number > number, timeout
            )
            assert found, "the sandbox did not come back"
            assert self._current is not None
            return self._current


# --- the script and the clients -------------------------------------------------------


def script(rng: random.Random, count: int) -> list[Structured]:
    """Approve, deny or escalate, each after 150-300 ms (some after a second)."""
    grant = {"resource_key": "account-balances", "actions": ["dynamodb:Query"]}
    replies = []
    for _ in range(count):
        decision = rng.choices(["approve", "deny", "escalate"], weights=[5, 3, 2])[0]
        body: dict[str, Any] = {
            "decision": decision,
            "grants": [grant] if decision != "deny" else [],
            "duration_seconds": 900,
            "risk": "low",
            "rationale": "Scripted for the crash test.",
        }
        delay = 1.0 if rng.random() < 0.1 else rng.uniform(0.15, 0.3)
        replies.append(Structured(body, delay_seconds=delay))
    return replies


@dataclasses.dataclass
class Answer:
    """What one client finally heard for one request."""

    key: str
    user: str
    request_id: str
    http_status: int
    status: str
    access_key_id: str | None


class Clients:
    """Threads sending the requests, asking again across restarts, keeping the answers."""

    def __init__(self, lives: Lives) -> None:
        self.lives = lives
        self.answers: list[Answer] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._next = 0

    @property
    def finished(self) -> int:
        with self._lock:
            return len(self.answers) + len(self.failures)

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while (index := self._take()) is not None:
                try:
                    answer = self._ask(http, index)
                except Exception as error:  # reported by the test, without response bodies
                    with self._lock:
                        self.failures.append(f"request {index}: {type(error).__name__}")
                    continue
                with self._lock:
                    self.answers.append(answer)

    def _take(self) -> int | None:
        with self._lock:
            if self._next >= REQUESTS:
                return None
            self._next += 1
            return self._next - 1

    def _ask(self, http: httpx.Client, index: int) -> Answer:
        user = REQUESTERS[index % len(REQUESTERS)]
        key = f"crash-{index}"
        generation = self.lives.after(0)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            headers = {
                "Authorization": f"Bearer {generation.tokens[user]}",
                "Idempotency-Key": key,
            }
            url = f"{generation.record.broker_api_url}/v1/access-requests"
            try:
                answer = http.post(url, json={"reason": f"My balance, #{index}."}, headers=headers)
            except httpx.TransportError:
                generation = self.lives.again(generation)  # killed: wait for the restart
                continue
            if answer.status_code == 429 or answer.status_code >= 500:
                time.sleep(0.3)  # rate limited, or nothing issued: ask again, same key
                continue
            body = answer.json()
            credentials = body.get("credentials") or {}
            return Answer(
                key,
                user,
                body["request_id"],
                answer.status_code,
                body["status"],
                credentials.get("access_key_id"),
            )
        raise TimeoutError(f"request {index} got no answer")


# --- watching the broker's database ---------------------------------------------------


class BrokerFile:
    """The broker's SQLite file, read beside the running sandbox (WAL allows it)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / BROKER_DATABASE

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def last_sequence(self) -> int:
        with self._closing() as connection:
            row = connection.execute("SELECT coalesce(max(sequence), 0) FROM audit_records")
            return int(row.fetchone()[0])

    def events(self, request_id: str) -> list[str]:
        with self._closing() as connection:
            rows = connection.execute(
                "SELECT body FROM audit_records WHERE request_id = ? ORDER BY sequence",
                (request_id,),
            ).fetchall()
        return [AuditRecord.model_validate_json(body).event.value for (body,) in rows]

    def state(self, request_id: str) -> str | None:
        with self._closing() as connection:
            row = connection.execute(
                "SELECT state FROM requests WHERE request_id = ?", (request_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def received(self) -> list[str]:
        with self._closing() as connection:
            rows = connection.execute(
                "SELECT request_id FROM requests WHERE state = 'received'"
            ).fetchall()
        return [str(request_id) for (request_id,) in rows]

    def _closing(self) -> closing[sqlite3.Connection]:
        return closing(self.connect())


def wait_for(condition: Callable[[], bool], timeout: float = TRIGGER_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.001)
    return False


@dataclasses.dataclass
class Landed:
    """Where the kills landed, by request id."""

    reviewing: list[str] = dataclasses.field(default_factory=list)
    minted: list[str] = dataclasses.field(default_factory=list)
    kinds: list[str] = dataclasses.field(default_factory=list)


def kill_while_reviewing(lives: Lives, model: ScriptedModelServer, landed: Landed) -> None:
    seen = len(model.chat_requests)
    wait_for(lambda: len(model.chat_requests) > seen)
    time.sleep(0.05)  # every answer takes 150 ms or more: the model is still answering
    lives.kill()
    landed.reviewing += BrokerFile(lives.data_dir).received()


def kill_after_minting(lives: Lives, landed: Landed) -> None:
    broker_file = BrokerFile(lives.data_dir)
    after = broker_file.last_sequence()
    watcher = broker_file.connect()
    try:
        found: list[str] = []

        def minting() -> bool:
            rows = watcher.execute(
                "SELECT request_id, body FROM audit_records WHERE sequence > ?", (after,)
            ).fetchall()
            found.extend(r for r, body in rows if '"event":"minting"' in body)
            return bool(found)

        wait_for(minting)
        # The write lock, as a backup would take it: STS mints, the ISSUED record waits.
        watcher.execute("BEGIN IMMEDIATE")
        time.sleep(0.25)
        lives.kill()
        watcher.execute("ROLLBACK")
    finally:
        watcher.close()
    for request_id in found:
        if broker_file.state(request_id) == RequestState.RECEIVED.value:
            landed.minted.append(request_id)


def kill_at_random(lives: Lives, rng: random.Random) -> None:
    time.sleep(rng.uniform(0.05, 1.5))
    lives.kill()


# --- the test -------------------------------------------------------------------------


@pytest.fixture
def model() -> Iterator[ScriptedModelServer]:
    with run_model_server() as server:
        yield server


def sandbox_env(model: ScriptedModelServer) -> dict[str, str]:
    return {
        **os.environ,
        "AGENT_ZERO_LLM_PROVIDER": "openai-compatible",
        "AGENT_ZERO_LLM_MODEL": "scripted-model",
        "AGENT_ZERO_LLM_BASE_URL": model.base_url,
        "AGENT_ZERO_LLM_API_KEY": "sk-test-not-a-real-key",
        "AGENT_ZERO_LLM_TIMEOUT_SECONDS": "5",
    }


def test_kill_9_at_random_points_leaves_every_request_finished_and_audited(
    tmp_path: Path, model: ScriptedModelServer
) -> None:
    rng = random.Random(SEED)
    model.enqueue(*script(rng, 4 * REQUESTS))  # kills and retries consume extra answers
    logs = tmp_path / "logs"
    logs.mkdir()
    lives = Lives(tmp_path / "data", logs, sandbox_env(model))
    schedule = list(SCHEDULE)
    rng.shuffle(schedule)
    clients = Clients(lives)
    threads = [threading.Thread(target=clients.run, daemon=True) for _ in range(THREADS)]
    landed = Landed()
    try:
        lives.start()
        for thread in threads:
            thread.start()
        extra = EXTRA_MINTED_KILLS
        kills = 0
        while schedule:
            kind = schedule.pop(0)
            # Spread the kills across the requests.
            wait_for(lambda n=kills: clients.finished >= (n + 1) * REQUESTS // 8, timeout=60)
            if kind == "reviewing":
                kill_while_reviewing(lives, model, landed)
            elif kind == "minted":
                kill_after_minting(lives, landed)
            else:
                kill_at_random(lives, rng)
            landed.kinds.append(kind)
            kills += 1
            lives.start()
            if not schedule and not landed.minted and extra and clients.finished < REQUESTS:
                schedule.append("minted")
                extra -= 1
        for thread in threads:
            thread.join(timeout=180)
        generation = lives.after(0)
        assert not clients.failures, clients.failures
        assert len(clients.answers) == REQUESTS
        verified = httpx.get(
            f"{generation.record.broker_api_url}/v1/admin/audit/verify",
            headers={"Authorization": f"Bearer {generation.tokens[ADMIN]}"},
            timeout=30,
        ).json()
        assert verified == {"verified": True, "problems": []}
        revoked = revocations(generation.record)
    finally:
        lives.stop()
    assert landed.reviewing, f"no kill landed during a review ({landed.kinds})"
    assert landed.minted, f"no kill landed between minting and recording ({landed.kinds})"
    check_after_the_crashes(tmp_path / "data", clients.answers, landed, revoked)


def revocations(record: SandboxRecord) -> dict[str, set[str]]:
    """Session names in each target role's revocation policy, by role name."""
    iam = boto3.client(
        "iam",
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        aws_access_key_id=record.admin_credentials.access_key_id,
        aws_secret_access_key=record.admin_credentials.secret_access_key,
    )
    found: dict[str, set[str]] = {}
    for role_arn in record.roles.values():
        name = role_name_of(role_arn)
        try:
            document = iam.get_role_policy(RoleName=name, PolicyName=REVOCATION_POLICY)
        except iam.exceptions.NoSuchEntityException:
            continue
        found[name] = set(revoked_sessions(document["PolicyDocument"]))
    return found


def check_after_the_crashes(
    data_dir: Path, answers: list[Answer], landed: Landed, revoked: dict[str, set[str]]
) -> None:
    with SqliteDatabase(data_dir / BROKER_DATABASE) as database:
        audit = SqliteAuditLog(database)
        requests = {r.request_id: r for r in SqliteRequestStore(database).list()}
        assert audit.verify() == []
        trails: dict[str, list[AuditRecord]] = {}
        for entry in audit.records():
            trails.setdefault(entry.request_id or "", []).append(entry)
    # Nothing half-done: every request has a final status, or waits for a person.
    for record in requests.values():
        assert record.state in FINAL | {RequestState.PENDING}, record.request_id
        assert not is_interrupted(record, before=datetime.max.replace(tzinfo=UTC))
        assert_trail_fits(record, trails.get(record.request_id, []))
    # Every credential a client received was recorded as issued, with its access key id.
    issued = [answer for answer in answers if answer.access_key_id is not None]
    assert issued, "no request was approved"
    for answer in issued:
        record = requests[answer.request_id]
        assert record.state is RequestState.APPROVED
        assert record.session is not None
        assert record.session.access_key_id == answer.access_key_id
        events = [r.event for r in trails[answer.request_id]]
        for step in (AuditEvent.RECEIVED, AuditEvent.REVIEWED, AuditEvent.MINTING):
            assert step in events, (answer.request_id, step)
        [issue] = [r for r in trails[answer.request_id] if r.event is AuditEvent.ISSUED]
        assert issue.details["access_key_id"] == answer.access_key_id
    # Every session that may have been minted without being stored as issued is revoked.
    for request_id, trail in trails.items():
        minting = [r for r in trail if r.event is AuditEvent.MINTING]
        if not minting or requests[request_id].session is not None:
            continue
        assert requests[request_id].state is RequestState.FAILED, request_id
        role = role_name_of(str(minting[-1].details["role_arn"]))
        if trail[-1].event is not AuditEvent.MINT_FAILED:
            assert request_id in revoked.get(role, set()), request_id
    for request_id in landed.reviewing + landed.minted:
        assert requests[request_id].state is RequestState.FAILED
        assert trails[request_id][-1].event is AuditEvent.INTERRUPTED
    for request_id in landed.minted:
        assert trails[request_id][-1].details["stage"] == "after minting"
    # The clients heard what the records say (a retry after a kill hears the recovered state).
    for answer in answers:
        assert answer.status == requests[answer.request_id].state.value, answer.request_id


def assert_trail_fits(record: RequestRecord, trail: list[AuditRecord]) -> None:
    """The record's final state has the audit record that says so."""
    events = [r.event for r in trail]
    assert events[:1] == [AuditEvent.RECEIVED], record.request_id
    expected = {
        RequestState.APPROVED: {AuditEvent.ISSUED},
        RequestState.DENIED: {AuditEvent.DENIED},
        RequestState.PENDING: {AuditEvent.PENDING_APPROVAL},
        RequestState.FAILED: {AuditEvent.INTERRUPTED, AuditEvent.MINT_FAILED},
    }[record.state]
    assert expected & set(events), (record.request_id, record.state, events)
