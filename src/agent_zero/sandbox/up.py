"""``agent-zero up``: the whole sandbox on this machine, until Ctrl-C."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from agent_zero.broker.access import Broker
from agent_zero.broker.recovery import RecoveryReport, recover_interrupted
from agent_zero.domain.errors import AgentZeroError
from agent_zero.sandbox.broker_service import DEFAULT_API_PORT, start_broker_api
from agent_zero.sandbox.demo_bank import demo_bank
from agent_zero.sandbox.persistence import SnapshottedRevoker
from agent_zero.sandbox.record import SandboxRecord, read_record, record_path, write_record
from agent_zero.sandbox.runtime import DEFAULT_GATEWAY_PORT, DEFAULT_REGION, Sandbox
from agent_zero.sandbox.seed import Endpoint, seed_demo_bank
from agent_zero.settings import Settings
from agent_zero.wiring import sandbox_broker

DEFAULT_DATA_DIR = Path(".agent-zero")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """The options of ``agent-zero up``."""
    parser = argparse.ArgumentParser(
        prog="agent-zero up",
        description="Start the local sandbox: AWS emulated by moto behind the IAM gateway, "
        "seeded with the demo bank.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where state, sandbox.json and snapshots live (default: .agent-zero/)",
    )
    parser.add_argument(
        "--gateway-port",
        type=int,
        default=DEFAULT_GATEWAY_PORT,
        help=f"AWS endpoint port on 127.0.0.1 (default: {DEFAULT_GATEWAY_PORT}; 0 picks one)",
    )
    parser.add_argument(
        "--api-port",
        type=int,
        default=DEFAULT_API_PORT,
        help=f"broker API port on 127.0.0.1 (default: {DEFAULT_API_PORT}; 0 picks one)",
    )
    parser.add_argument(
        "--reset", action="store_true", help="delete the data directory and start from scratch"
    )
    return parser.parse_args(list(argv))


class _Steps:
    """Progress lines: what is happening and how long each step took."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.perf_counter()
        self.current: str | None = None
        self.step_started = self.started

    def __call__(self, message: str) -> None:
        self.finish()
        self.current = message
        self.step_started = time.perf_counter()
        self.out.write(f"  … {message}\n")
        self.out.flush()

    def finish(self) -> None:
        if self.current is not None:
            elapsed = (time.perf_counter() - self.step_started) * 1000
            self.out.write(f"  ✓ {self.current} ({elapsed:.0f} ms)\n")
            self.current = None


def summary(record: SandboxRecord, data_dir: Path) -> str:
    """The table printed once the sandbox is up."""
    lines = [
        "",
        "Agent Zero sandbox is up (no AWS account, nothing leaves this machine).",
        "",
        f"  AWS endpoint      {record.aws_endpoint_url}   (region {record.region}, "
        f"account {record.account_id})",
        f"  health            {record.aws_endpoint_url}/healthz",
        f"  web app           {record.web_url or 'not started'}   (sign in with a demo login)",
        f"  broker API        {record.broker_api_url or 'not started'}   (API: /openapi.json)",
        f"  details           {record_path(data_dir)}  (mode 0600: keys and passwords)",
        "",
        "  demo logins (Cognito user pool " + record.cognito.user_pool_id + "):",
    ]
    width = max(len(user.username) for user in record.users)
    for user in record.users:
        key = f"  customer {user.customer_key}" if user.customer_key else ""
        lines.append(f"    {user.username:<{width}}  {user.password}  {user.role}{key}")
    lines += [
        "",
        "  AWS CLI as the sandbox admin:",
        f"    AWS_ACCESS_KEY_ID={record.admin_credentials.access_key_id} "
        "AWS_SECRET_ACCESS_KEY=<admin secret in sandbox.json> \\",
        f"    aws --endpoint-url {record.aws_endpoint_url} dynamodb list-tables",
        "",
        "Press Ctrl-C to stop; state is kept in the data directory.",
        "",
    ]
    return "\n".join(lines)


def recovered_broker(settings: Settings, sandbox: Sandbox) -> tuple[Broker, RecoveryReport]:
    """The sandbox's broker, with every request a crash left unfinished failed (and any
    session it may have minted revoked) before the API serves anyone.

    The data directory is locked, so every request stored before the API starts belongs
    to a process that is gone, whatever the clock said when it was received.
    """
    broker = sandbox_broker(settings)
    if sandbox.snapshotter is not None:
        revoker = SnapshottedRevoker(broker.revoker, sandbox.snapshotter)
        broker = dataclasses.replace(broker, revoker=revoker)
    return broker, recover_interrupted(broker, before=datetime.max.replace(tzinfo=UTC))


def recovery_summary(report: RecoveryReport) -> str:
    """What recovery did, in a line or two under its step."""
    lines = [
        f"    {len(report.failed)} interrupted request(s) failed, "
        f"{len(report.revoked)} session(s) that may have been minted revoked\n"
    ]
    if report.unresolved:
        lines.append(
            f"    {len(report.unresolved)} could not be recovered now (a revocation or a "
            "store failed); the next start tries again\n"
        )
    return "".join(lines)


def run(argv: Sequence[str], *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Start, print where everything is, wait for Ctrl-C or SIGTERM, stop cleanly."""
    options = parse_arguments(argv)
    data_dir: Path = options.data_dir
    steps = _Steps(out)
    out.write(f"Starting the Agent Zero sandbox in {data_dir}/\n")
    sandbox = Sandbox(data_dir, gateway_port=options.gateway_port, region=DEFAULT_REGION)
    stop = threading.Event()
    try:
        sandbox.start(steps, reset=options.reset)
        previous = read_record(data_dir)
        bank = demo_bank(account_id=sandbox.account_id, region=sandbox.region)
        root = sandbox.root
        endpoint = Endpoint(
            sandbox.endpoint_url, sandbox.region, root.access_key_id, root.secret_access_key
        )
        record = seed_demo_bank(endpoint, bank, previous=previous, progress=steps)
        write_record(data_dir, record)  # the broker's wiring reads it
        settings = Settings(data_dir=data_dir, region=sandbox.region)
        steps("recovering requests a crash interrupted")
        broker, recovered = recovered_broker(settings, sandbox)
        steps.finish()
        if recovered.failed or recovered.unresolved:
            out.write(recovery_summary(recovered))
        steps("starting the broker API")
        api = start_broker_api(
            settings=settings,
            record=record,
            bank=bank,
            moto=sandbox.moto,
            port=options.api_port,
            broker=broker,
        )
        record = record.model_copy(update={"broker_api_url": api.url, "web_url": api.url})
        steps("writing sandbox.json")
        write_record(data_dir, record)
        steps.finish()
    except AgentZeroError as error:
        err.write(f"\nagent-zero up: {error.message}\n")
        sandbox.stop()
        return 1
    except Exception as error:  # stop cleanly, say what broke, keep the state
        err.write(f"\nagent-zero up: starting failed ({type(error).__name__}: {error})\n")
        sandbox.stop()
        return 1
    out.write(summary(record, data_dir))
    out.flush()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    stop.wait()
    out.write("Stopping: finishing requests in flight and saving state…\n")
    api.stop()
    sandbox.stop()
    out.write("Stopped. Run `agent-zero up` again to continue where you left off.\n")
    return 0
