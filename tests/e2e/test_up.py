"""``agent-zero up`` as a person runs it: a separate process, stopped with Ctrl-C or killed."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from agent_zero.sandbox.record import SandboxRecord, read_record

UP_TIMEOUT = 60


class UpProcess:
    """One ``agent-zero up`` child process and what it printed."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agent_zero", "up", "--data-dir", str(data_dir), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def wait_until_up(self) -> SandboxRecord:
        assert self.process.stdout is not None
        deadline = time.monotonic() + UP_TIMEOUT
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if line.startswith("Press Ctrl-C"):
                record = read_record(self.data_dir)
                assert record is not None
                return record
        _, errors = self.process.communicate(timeout=10)
        raise AssertionError(f"the sandbox did not come up:\n{''.join(self.lines)}\n{errors}")

    def interrupt(self) -> str:
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=30)
        assert self.process.returncode == 0
        return out

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no handler runs, nothing is flushed
        self.process.wait(timeout=10)

    def stop_quietly(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def processes() -> Iterator[list[UpProcess]]:
    started: list[UpProcess] = []
    yield started
    for process in started:
        process.stop_quietly()


def up(processes: list[UpProcess], data_dir: Path, *extra: str) -> tuple[UpProcess, SandboxRecord]:
    process = UpProcess(data_dir, "--gateway-port", "0", *extra)
    processes.append(process)
    return process, process.wait_until_up()


def admin(record: SandboxRecord, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        aws_access_key_id=record.admin_credentials.access_key_id,
        aws_secret_access_key=record.admin_credentials.secret_access_key,
    )


def ticket(record: SandboxRecord, ticket_id: str) -> dict[str, Any] | None:
    found = admin(record, "dynamodb").get_item(
        TableName=record.tables["support-tickets"],
        Key={"customer_id": {"S": "c-1001"}, "ticket_id": {"S": ticket_id}},
    )
    return found.get("Item")


def write_ticket(record: SandboxRecord, ticket_id: str) -> None:
    admin(record, "dynamodb").put_item(
        TableName=record.tables["support-tickets"],
        Item={
            "customer_id": {"S": "c-1001"},
            "ticket_id": {"S": ticket_id},
            "subject": {"S": "Card declined abroad"},
        },
    )


def sign_in(record: SandboxRecord, username: str) -> dict[str, Any]:
    public = boto3.client(
        "cognito-idp",
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        config=Config(signature_version=UNSIGNED),
    )
    user = record.user(username)
    answer = public.initiate_auth(
        ClientId=record.cognito.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": user.password},
    )
    return dict(answer["AuthenticationResult"])


def test_up_seeds_the_demo_bank_and_writes_a_private_record(
    tmp_path: Path, processes: list[UpProcess]
) -> None:
    process, record = up(processes, tmp_path / "data")
    mode = stat.S_IMODE(os.stat(tmp_path / "data" / "sandbox.json").st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "data").st_mode) == 0o700
    printed = "".join(process.lines)
    assert record.aws_endpoint_url in printed
    for user in record.users:
        assert user.username in printed
    assert record.admin_credentials.secret_access_key not in printed  # only the record has it
    groups = {user.role: set(user.groups) for user in record.users}
    assert groups["admin"] == {"admin", "employee"}
    assert groups["customer"] == {"customer"}
    keys = {user.customer_key for user in record.users if "customer" in user.groups}
    assert len(keys) == 2
    assert None not in keys
    tables = admin(record, "dynamodb").list_tables()["TableNames"]
    assert sorted(tables) == sorted(record.tables.values())
    assert set(record.roles) >= {"agent-zero-broker", "agent-zero-target-customer-data"}
    tokens = sign_in(record, "alice.moreau")
    assert tokens["IdToken"].count(".") == 2
    # The agent's own key has no AWS permissions at all: zero standing access.
    agent = boto3.client(
        "dynamodb",
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        aws_access_key_id=record.agent_credentials.access_key_id,
        aws_secret_access_key=record.agent_credentials.secret_access_key,
    )
    with pytest.raises(agent.exceptions.ClientError) as raised:
        agent.get_item(
            TableName=record.tables["account-balances"],
            Key={"customer_id": {"S": "c-1001"}, "account_id": {"S": "x"}},
        )
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"


def test_state_survives_a_clean_stop_and_a_kill(tmp_path: Path, processes: list[UpProcess]) -> None:
    data_dir = tmp_path / "data"
    first, record = up(processes, data_dir)
    write_ticket(record, "t-clean-stop")  # acknowledged just before Ctrl-C: must survive
    output = first.interrupt()
    assert "Stopped." in output

    second, again = up(processes, data_dir)
    assert ticket(again, "t-clean-stop") is not None
    # Logins and keys are the same across restarts; the seed did not clobber anything.
    assert again.users == record.users
    assert again.admin_credentials == record.admin_credentials
    write_ticket(again, "t-before-kill")
    time.sleep(1.5)  # a crash may lose at most the last snapshot interval of writes
    second.kill()

    _, after_kill = up(processes, data_dir)
    assert ticket(after_kill, "t-before-kill") is not None
    assert ticket(after_kill, "t-clean-stop") is not None
    assert sign_in(after_kill, "ben.okafor")["AccessToken"]


def test_up_refuses_a_busy_port_and_a_busy_data_dir(
    tmp_path: Path, processes: list[UpProcess]
) -> None:
    _, record = up(processes, tmp_path / "one")
    port = record.aws_endpoint_url.rsplit(":", 1)[1]
    busy_port = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent_zero",
            "up",
            "--data-dir",
            str(tmp_path / "two"),
            "--gateway-port",
            port,
        ],
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT,
        check=False,
    )
    assert busy_port.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in busy_port.stderr
    busy_dir = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent_zero",
            "up",
            "--data-dir",
            str(tmp_path / "one"),
            "--gateway-port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT,
        check=False,
    )
    assert busy_dir.returncode == 1
    assert "another sandbox is already running" in busy_dir.stderr
    reset_while_running = subprocess.run(
        [sys.executable, "-m", "agent_zero", "up", "--data-dir", str(tmp_path / "one"),
         "--gateway-port", "0", "--reset"],
        capture_output=True, text=True, timeout=UP_TIMEOUT, check=False,
    )  # fmt: skip
    assert reset_while_running.returncode == 1
    assert "another sandbox is already running" in reset_while_running.stderr
    assert (tmp_path / "one" / "sandbox.json").exists()  # the running sandbox kept its state


def test_reset_starts_from_scratch(tmp_path: Path, processes: list[UpProcess]) -> None:
    first, record = up(processes, tmp_path / "data")
    write_ticket(record, "t-to-forget")
    first.interrupt()
    _, fresh = up(processes, tmp_path / "data", "--reset")
    assert ticket(fresh, "t-to-forget") is None
    assert fresh.admin_credentials != record.admin_credentials
