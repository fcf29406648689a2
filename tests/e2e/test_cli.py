"""The real ``agent-zero`` command (a subprocess) against the sandbox: sign-in, requests in
each outcome, approvals, administration, the audit log, and boto3 using a profile whose
credentials come from ``agent-zero credential-process``."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError, CredentialRetrievalError
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from e2e.test_agent_socket import second_admin_token
from e2e.test_broker_api import Stack, approve
from e2e.test_broker_api import stack as stack  # the module-scoped stack fixture
from support.model_server import Structured

CUSTOMER, ANALYST, ADMIN = "alice.moreau", "tomas.lindqvist", "priya.raman"
PROGRAM = shutil.which("agent-zero", path=str(Path(sys.executable).parent)) or "agent-zero"


@pytest.fixture(autouse=True)
def fresh_script(stack: Stack) -> None:
    stack.model.reset()


class Cli:
    """Runs ``agent-zero`` with its own config dir and AWS config file."""

    def __init__(self, stack: Stack, home: Path) -> None:
        self.stack = stack
        self.home = home
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AGENT_ZERO_", "AWS_"))},
            "AGENT_ZERO_CONFIG_DIR": str(home / "config"),
            "AGENT_ZERO_DATA_DIR": str(stack.data_dir),
            "AGENT_ZERO_API_URL": stack.api.url,
            "AWS_CONFIG_FILE": str(home / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
            "COLUMNS": "200",
        }

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PROGRAM, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
            check=False,
        )

    def login(self, username: str) -> None:
        done = self(
            "login",
            "--username",
            username,
            "--password-stdin",
            stdin=self.stack.record.user(username).password + "\n",
        )
        assert done.returncode == 0, done.stderr


@pytest.fixture
def cli(stack: Stack, tmp_path: Path) -> Cli:
    return Cli(stack, tmp_path)


def exports(text: str) -> dict[str, str]:
    return dict(re.findall(r"export (AWS_[A-Z_]+)=(\S+)", text))


def own_rows(stack: Stack, credentials: dict[str, str], customer: str) -> object:
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=stack.record.aws_endpoint_url,
        region_name=stack.record.region,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
    )
    return dynamodb.query(
        TableName=stack.record.tables["account-balances"],
        KeyConditionExpression="customer_id = :c",
        ExpressionAttributeValues={":c": {"S": customer}},
    )["Items"]


def escalate() -> Structured:
    return Structured(
        {
            "decision": "escalate",
            "grants": [{"resource_key": "account-balances", "actions": ["dynamodb:Query"]}],
            "duration_seconds": 900,
            "risk": "medium",
            "rationale": "A person should look.",
        }
    )


def test_sign_in_keeps_tokens_private_and_whoami_names_the_user(cli: Cli) -> None:
    wrong = cli("login", "--username", CUSTOMER, "--password-stdin", stdin="nope\n")
    assert wrong.returncode == 2
    assert wrong.stderr.strip().count("\n") == 0  # one readable line
    assert "username or password is wrong" in wrong.stderr
    assert cli("whoami").returncode == 2  # not signed in
    cli.login(CUSTOMER)
    login_file = cli.home / "config" / "login.json"
    assert stat.S_IMODE(login_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(login_file.parent.stat().st_mode) == 0o700
    who = cli("whoami")
    assert who.returncode == 0, who.stderr
    assert CUSTOMER in who.stdout
    assert "c-1001" in who.stdout
    assert cli("logout").returncode == 0
    assert not login_file.exists()


def test_an_expired_login_is_refreshed_without_asking_again(cli: Cli) -> None:
    cli.login(CUSTOMER)
    login_file = cli.home / "config" / "login.json"
    stored = json.loads(login_file.read_text())
    stored["expires_at"] = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    stored["access_token"] = "expired"
    login_file.write_text(json.dumps(stored))
    who = cli("whoami")
    assert who.returncode == 0, who.stderr
    refreshed = json.loads(login_file.read_text())
    assert refreshed["access_token"] != "expired"
    assert datetime.fromisoformat(refreshed["expires_at"]) > datetime.now(UTC)


def test_an_approved_request_prints_exports_that_work(stack: Stack, cli: Cli) -> None:
    cli.login(CUSTOMER)
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    done = cli("request", "Check my balances before rent.")
    assert done.returncode == 0, done.stderr
    found = exports(done.stdout)
    assert found["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert found["AWS_ENDPOINT_URL"] == stack.record.aws_endpoint_url
    assert own_rows(stack, found, "c-1001")
    with pytest.raises(ClientError, match="AccessDenied"):
        own_rows(stack, found, "c-1002")


@pytest.mark.parametrize("output", ["json", "table"])
def test_other_formats(stack: Stack, cli: Cli, output: str) -> None:
    cli.login(CUSTOMER)
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    done = cli("request", "Check my balances.", "--format", output)
    assert done.returncode == 0, done.stderr
    if output == "json":
        body = json.loads(done.stdout)
        assert body["status"] == "approved"
        assert body["credentials"]["access_key_id"].startswith("ASIA")
    else:
        assert "account-balances" in done.stdout
        assert "dynamodb:Query" in done.stdout


def test_a_denied_request_exits_3_with_the_reasons(stack: Stack, cli: Cli) -> None:
    cli.login(CUSTOMER)
    stack.model.enqueue(
        Structured(
            {
                "decision": "deny",
                "grants": [],
                "duration_seconds": 900,
                "risk": "high",
                "rationale": "Another customer's data.",
            }
        )
    )
    done = cli("request", "Show me Ben's transactions.")
    assert done.returncode == 3
    assert "Another customer's data." in done.stderr
    assert done.stdout == ""


def test_pending_exits_4_and_wait_follows_it_to_approval(stack: Stack, cli: Cli) -> None:
    cli.login(CUSTOMER)
    stack.model.enqueue(escalate())
    pending = cli("request", "Balances for a mortgage form.")
    assert pending.returncode == 4
    assert "req-" in pending.stderr

    stack.model.enqueue(escalate())
    waiting = subprocess.Popen(
        [PROGRAM, "request", "Balances for my accountant.", "--wait", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )
    try:
        admin = httpx.Client(
            base_url=stack.api.url, headers={"Authorization": f"Bearer {stack.sign_in(ADMIN)}"}
        )
        with admin:
            request_id = None
            for _ in range(100):
                queue = admin.get("/v1/access-requests", params={"status": "pending"}).json()
                found = [
                    r["request_id"]
                    for r in queue["requests"]
                    if r["reason"] == "Balances for my accountant."
                ]
                if found:
                    request_id = found[0]
                    break
                subprocess.run(["sleep", "0.1"], check=True)
            assert request_id is not None
            grant = {"resource_key": "account-balances", "actions": ["dynamodb:Query"]}
            approved = admin.post(
                f"/v1/access-requests/{request_id}/approve",
                json={"grants": [grant], "duration_seconds": 900},
            )
            assert approved.status_code == 200
        stdout, stderr = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == 0, stderr
    assert own_rows(stack, exports(stdout), "c-1001")


def test_staff_get_a_console_link(stack: Stack, cli: Cli) -> None:
    cli.login(ANALYST)
    stack.model.enqueue(approve("operations-metrics", "dynamodb:GetItem"))
    done = cli("request", "Weekly fraud metrics.", "--console")
    assert done.returncode == 0, done.stderr
    link = re.search(r"Console sign-in: (\S+)", done.stderr)
    assert link
    assert httpx.get(link.group(1), follow_redirects=True).status_code == 200


def test_a_profile_serves_boto3_through_credential_process_until_revoked(
    stack: Stack, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.login(CUSTOMER)
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    reason = "Balances for the household budget."
    done = cli("request", reason, "--profile", "budget", "--format", "json")
    assert done.returncode == 0, done.stderr
    config = (cli.home / "aws-config").read_text()
    assert "[profile budget]" in config
    assert "credential-process --reason" in config
    for name, value in cli.env.items():
        monkeypatch.setenv(name, value)

    def balances() -> object:
        session = boto3.Session(profile_name="budget")
        return session.client("dynamodb").query(
            TableName=stack.record.tables["account-balances"],
            KeyConditionExpression="customer_id = :c",
            ExpressionAttributeValues={":c": {"S": "c-1001"}},
        )["Items"]

    assert balances()  # from the cache: no second request
    printed = json.loads(cli("credential-process", "--reason", reason).stdout)
    assert printed["Version"] == 1
    assert printed["AccessKeyId"].startswith("ASIA")
    assert "Expiration" in printed
    assert len(stack.model.chat_requests) == 1  # one review, however often boto3 asks

    request_id = json.loads(done.stdout)["request_id"]
    assert request_id in cli("grants").stdout  # listed as active
    revoked = cli("revoke", request_id)
    assert revoked.returncode == 0, revoked.stderr
    again = cli("credential-process", "--reason", reason)
    assert again.returncode == 3
    assert "revoked; not asking again" in again.stderr
    assert len(stack.model.chat_requests) == 1  # and no new request was made
    with pytest.raises(CredentialRetrievalError):
        boto3.Session(profile_name="budget").get_credentials().get_frozen_credentials()


def test_credential_process_by_request_id_collects_an_approval_once(stack: Stack, cli: Cli) -> None:
    cli.login(CUSTOMER)
    stack.model.enqueue(escalate())
    pending = cli("request", "Balances for the bank's mortgage team.")
    request_id = re.search(r"req-[A-Za-z0-9-]+", pending.stderr).group(0)  # type: ignore[union-attr]
    assert cli("credential-process", "--request-id", request_id).returncode == 4
    cli.login(ADMIN)
    approved = cli("approve", request_id)  # the reviewer's proposal, by default
    assert approved.returncode == 0, approved.stderr
    cli.login(CUSTOMER)
    first = cli("credential-process", "--request-id", request_id)
    assert first.returncode == 0, first.stderr
    second = cli("credential-process", "--request-id", request_id)
    assert json.loads(second.stdout)["AccessKeyId"] == json.loads(first.stdout)["AccessKeyId"]


def test_admin_commands(stack: Stack, cli: Cli) -> None:
    second = second_admin_token(stack)
    cli.login(ADMIN)
    principals = cli("principals")
    assert principals.returncode == 0, principals.stderr
    assert "alice.moreau" in principals.stdout
    current = cli("policy", "get", "ben.okafor")
    assert current.returncode == 0, current.stderr
    assert "version" in current.stderr
    assert cli("policy", "set", "ben.okafor", "--text", "x").returncode == 3  # no grant yet

    stack.model.enqueue(approve("policy-store", "broker:WritePolicy"))
    asked = cli("request", "Ben asked for narrower access.")
    assert asked.returncode == 4
    request_id = re.search(r"req-[A-Za-z0-9-]+", asked.stderr).group(0)  # type: ignore[union-attr]
    grant = {"resource_key": "policy-store", "actions": ["broker:WritePolicy"]}
    assert (
        httpx.post(
            f"{stack.api.url}/v1/access-requests/{request_id}/approve",
            json={"grants": [grant], "duration_seconds": 900},
            headers={"Authorization": f"Bearer {second}"},
        ).status_code
        == 200
    )
    draft = cli.home / "ben.txt"
    draft.write_text("Ben may read his own balances; nothing else.")
    saved = cli("policy", "set", "ben.okafor", "--file", str(draft))
    assert saved.returncode == 0, saved.stderr
    history = cli("policy", "history", "ben.okafor")
    assert "Ben may read his own balances" in history.stdout

    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    tried = cli("policy", "try", "alice.moreau", "--text", "Balances only.", "--reason", "Bal?")
    assert tried.returncode == 0, tried.stderr
    assert "would approve" in tried.stdout

    log = cli("log", "--request-id", request_id)
    assert log.returncode == 0, log.stderr
    assert "policy_changed" in log.stdout
    verified = cli("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "verifies" in verified.stdout


def test_approvals_approve_and_deny_from_the_terminal(stack: Stack, cli: Cli) -> None:
    cli.login(CUSTOMER)
    stack.model.enqueue(escalate())
    pending = cli("request", "Balances for a loan.")
    request_id = re.search(r"req-[A-Za-z0-9-]+", pending.stderr).group(0)  # type: ignore[union-attr]
    cli.login(ANALYST)
    assert cli("approvals").returncode == 0  # analysts see nothing to decide…
    assert cli("deny", request_id, "--reason", "no").returncode == 3  # …and cannot decide
    cli.login(ADMIN)
    listed = cli("approvals")
    assert request_id in listed.stdout
    assert cli("approve", request_id, "--grant", "bad").returncode == 2
    denied = cli("deny", request_id, "--reason", "Ask the loan officer instead.")
    assert denied.returncode == 0, denied.stderr


def test_usage_and_outage_exit_codes(stack: Stack, cli: Cli) -> None:
    assert cli("request").returncode == 2  # no reason
    assert cli("credential-process").returncode == 2  # neither option
    assert cli("request", "x", "--format", "yaml").returncode == 2
    cli.login(CUSTOMER)
    cli.env["AGENT_ZERO_API_URL"] = "http://127.0.0.1:9"  # nothing listens
    down = cli("whoami")
    assert down.returncode in (2, 5)
    assert "Traceback" not in down.stderr
    cli.env["AGENT_ZERO_API_URL"] = stack.api.url
    login_file = cli.home / "config" / "login.json"
    stored = json.loads(login_file.read_text())
    stored["api_url"] = "http://127.0.0.1:9"
    login_file.write_text(json.dumps(stored))
    cli.env["AGENT_ZERO_API_URL"] = "http://127.0.0.1:9"
    unavailable = cli("whoami")
    assert unavailable.returncode == 5, unavailable.stderr
    assert "could not be reached" in unavailable.stderr


def test_every_command_has_help_with_an_example(cli: Cli) -> None:
    import typer.main

    from agent_zero.cli.app import app

    group = typer.main.get_command(app)
    commands: list[list[str]] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            commands += [[name, sub] for sub in subcommands]
        elif name != "up":  # `up` forwards --help to the sandbox's own parser
            commands.append([name])
    listed = {" ".join(command) for command in commands}
    assert {"request", "credential-process", "policy try", "audit verify", "mcp"} <= listed
    for command in commands:
        shown = cli(*command, "--help")
        assert shown.returncode == 0, command
        assert "Example" in shown.stdout, command
    assert "usage: agent-zero up" in cli("up", "--help").stdout


def test_log_follow_prints_new_records_as_they_come(stack: Stack, cli: Cli) -> None:
    cli.login(ADMIN)
    follower = subprocess.Popen(
        [PROGRAM, "log", "--follow", "--limit", "500"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli.env,
    )
    try:
        stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
        customer = Cli(stack, cli.home / "customer")
        customer.login(CUSTOMER)
        asked = customer("request", "Balances, followed live.", "--format", "json")
        request_id = json.loads(asked.stdout)["request_id"]
        assert follower.stdout is not None
        seen = ""
        for _ in range(400):  # the follower polls every 2 s; new lines arrive by themselves
            line = follower.stdout.readline()
            seen += line
            if request_id in line and "issued" in line:
                break
        assert request_id in seen
        assert "issued" in seen
    finally:
        follower.kill()
        follower.communicate()


def test_agent_zero_mcp_serves_stdio_as_the_signed_in_user(stack: Stack, cli: Cli) -> None:
    cli.login(CUSTOMER)
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    params = StdioServerParameters(command=PROGRAM, args=["mcp"], env=cli.env, cwd=cli.home)

    async def session() -> tuple[dict[str, Any], dict[str, Any]]:
        with (cli.home / "mcp-stderr.txt").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                asked = await client.call_tool(
                    "request_aws_access", {"reason": "My balances before paying rent."}
                )
                outcome = json.loads(asked.content[0].text)  # type: ignore[union-attr]
                rows = await client.call_tool(
                    "run_dynamodb_operation",
                    {
                        "handle": outcome["handle"],
                        "resource": "account-balances",
                        "operation": "query",
                    },
                )
                return outcome, json.loads(rows.content[0].text)  # type: ignore[union-attr]

    outcome, rows = asyncio.run(session())
    assert outcome["status"] == "approved"
    assert {row["customer_id"] for row in rows["items"]} == {"c-1001"}  # Alice's, as signed in
    login = json.loads((cli.home / "config" / "login.json").read_text())
    assert login["access_token"] not in (cli.home / "mcp-stderr.txt").read_text()


def test_agent_zero_mcp_without_a_login_says_so(cli: Cli) -> None:
    done = cli("mcp")
    assert done.returncode == 2
    assert "agent-zero login" in done.stderr


def pending_with_reason(stack: Stack, reason: str) -> list[str]:
    with stack.client_for(ADMIN) as admin:
        return [r["request_id"] for r in admin.list_requests() if r["reason"] == reason]


def test_credential_process_never_files_a_second_request_while_one_waits_or_was_denied(
    stack: Stack, cli: Cli
) -> None:
    cli.login(CUSTOMER)
    reason = "Balances for the mortgage adviser."
    stack.model.enqueue(escalate())
    first = cli("credential-process", "--reason", reason)
    assert first.returncode == 4, first.stderr
    again = cli("credential-process", "--reason", reason)  # boto3 asks again and again
    assert again.returncode == 4
    assert "still waits for a person's approval" in again.stderr
    filed = pending_with_reason(stack, reason)
    assert len(filed) == 1
    assert len(stack.model.chat_requests) == 1

    cli.login(ADMIN)
    assert cli("deny", filed[0], "--reason", "Ask your adviser to request it.").returncode == 0
    cli.login(CUSTOMER)
    denied = cli("credential-process", "--reason", reason)
    assert denied.returncode == 3
    assert "was denied" in denied.stderr
    assert pending_with_reason(stack, reason) == filed  # still the one request
    assert len(stack.model.chat_requests) == 1


def test_cached_credentials_are_only_ever_handed_to_the_user_who_asked(
    stack: Stack, cli: Cli
) -> None:
    reason = "Balances before paying rent."
    cli.login(CUSTOMER)
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    alices = json.loads(cli("credential-process", "--reason", reason).stdout)

    cli.login("ben.okafor")  # same machine, same reason, another person
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    done = cli("credential-process", "--reason", reason)
    assert done.returncode == 0, done.stderr
    bens = json.loads(done.stdout)
    assert bens["AccessKeyId"] != alices["AccessKeyId"]
    assert len(stack.model.chat_requests) == 2  # Ben's own request, not Alice's cache
    session = {
        "AWS_ACCESS_KEY_ID": bens["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": bens["SecretAccessKey"],
        "AWS_SESSION_TOKEN": bens["SessionToken"],
    }
    assert own_rows(stack, session, "c-1002")
    with pytest.raises(ClientError):
        own_rows(stack, session, "c-1001")


def test_text_from_other_people_prints_as_written(stack: Stack, cli: Cli) -> None:
    # Rich markup in a reason must neither crash an approver's terminal nor style or hide
    # part of what the requester wrote.
    reason = "Balances [/x] for [bold red]my[/bold red] loan :smile:"
    cli.login(CUSTOMER)
    stack.model.enqueue(escalate())
    assert cli("request", reason).returncode == 4
    cli.login(ADMIN)
    listed = cli("approvals")
    assert listed.returncode == 0, listed.stderr
    assert reason in listed.stdout
