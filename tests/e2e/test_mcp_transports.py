"""The MCP server over its two transports against the running sandbox stack.

stdio: ``python -m agent_zero.mcp`` as a subprocess, driven by the SDK's stdio client.
Streamable HTTP: the server on a free loopback port (uvicorn in a thread), each request
carrying a Cognito access token that the server verifies as the broker API does.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
import httpx2
import pytest
import uvicorn
from botocore import UNSIGNED
from botocore.config import Config
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from agent_zero.mcp.server import CognitoAccessTokens, build_server, http_app
from agent_zero.sandbox.record import write_record
from e2e.test_broker_api import Stack, approve
from e2e.test_broker_api import stack as stack  # the module-scoped stack fixture

ALICE, BEN = "alice.moreau", "ben.okafor"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}


@pytest.fixture(autouse=True)
def fresh_script(stack: Stack) -> None:
    stack.model.reset()


def text_of(result: CallToolResult) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    content = result.structured_content
    assert isinstance(content, dict)
    return content


# --- stdio -------------------------------------------------------------------------------


@pytest.fixture
def data_dir(stack: Stack, tmp_path: Path) -> Path:
    """A data dir whose sandbox record names the running broker API (the stack's does not)."""
    directory = tmp_path / "data"
    directory.mkdir()
    write_record(directory, stack.record.model_copy(update={"broker_api_url": stack.api.url}))
    return directory


def module_command(data_dir: Path, *extra: str) -> list[str]:
    return ["-m", "agent_zero.mcp", "--transport", "stdio", "--data-dir", str(data_dir), *extra]


def test_stdio_acts_as_the_user_whose_token_it_was_given(
    stack: Stack, data_dir: Path, tmp_path: Path
) -> None:
    token = stack.sign_in(ALICE)
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    params = StdioServerParameters(
        command=sys.executable,
        args=module_command(data_dir),
        env={"AGENT_ZERO_ACCESS_TOKEN": token},
        cwd=tmp_path,
    )
    errors = tmp_path / "stderr.txt"

    async def session() -> tuple[list[str], dict[str, Any], dict[str, Any]]:
        with errors.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                tools = [tool.name for tool in (await client.list_tools()).tools]
                asked = await client.call_tool(
                    "request_aws_access", {"reason": "My balances before paying rent."}
                )
                outcome = ok(asked)
                rows = await client.call_tool(
                    "run_dynamodb_operation",
                    {
                        "handle": outcome["handle"],
                        "resource": "account-balances",
                        "operation": "query",
                    },
                )
                return tools, outcome, ok(rows)

    tools, outcome, rows = asyncio.run(session())
    assert set(tools) == {
        "request_aws_access",
        "check_access_request",
        "list_my_grants",
        "run_dynamodb_operation",
    }
    assert outcome["status"] == "approved"
    assert outcome["credentials"] is None
    assert {row["customer_id"] for row in rows["items"]} == {"c-1001"}
    assert token not in errors.read_text()


@pytest.mark.parametrize(
    ("env", "use_record", "message"),
    [
        ({}, True, "set AGENT_ZERO_ACCESS_TOKEN"),
        ({"AGENT_ZERO_ACCESS_TOKEN": "x"}, False, "no sandbox record in"),
    ],
)
def test_stdio_refuses_to_start_with_one_clear_line(
    data_dir: Path, tmp_path: Path, env: dict[str, str], use_record: bool, message: str
) -> None:
    directory = data_dir if use_record else tmp_path / "empty"
    finished = subprocess.run(
        [sys.executable, *module_command(directory)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 2
    assert finished.stdout == ""  # stdout belongs to the protocol
    assert finished.stderr.count("\n") == 1
    assert message in finished.stderr


# --- streamable HTTP ---------------------------------------------------------------------


@contextmanager
def serving_http(stack: Stack) -> Iterator[str]:
    """The HTTP server on a free loopback port; yields the MCP endpoint's URL."""
    cognito = stack.record.cognito
    server = build_server(
        api_url=stack.api.url,
        region=stack.record.region,
        aws_endpoint_url=stack.record.aws_endpoint_url,
        hand_out_credentials=False,
        token_verifier=CognitoAccessTokens.of_pool(
            issuer=cognito.issuer, client_id=cognito.client_id, jwks_url=cognito.jwks_url
        ),
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    web = uvicorn.Server(uvicorn.Config(http_app(server), log_level="warning"))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not web.started:
            assert thread.is_alive(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        web.should_exit = True
        thread.join(timeout=10)
        listener.close()


@pytest.fixture(scope="module")
def mcp_url(stack: Stack) -> Iterator[str]:
    with serving_http(stack) as url:
        yield url


def call_as(url: str, token: str, *calls: tuple[str, dict[str, Any]]) -> list[CallToolResult]:
    async def go() -> list[CallToolResult]:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return [await client.call_tool(name, arguments) for name, arguments in calls]

    return asyncio.run(go())


def test_http_with_an_access_token_acts_as_that_user(stack: Stack, mcp_url: str) -> None:
    token = stack.sign_in(ALICE)
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    (asked,) = call_as(mcp_url, token, ("request_aws_access", {"reason": "My balances."}))
    outcome = ok(asked)
    assert outcome["status"] == "approved"
    assert "session_token" not in asked.model_dump_json()
    handle = outcome["handle"]
    query = {"handle": handle, "resource": "account-balances", "operation": "query"}

    # A second connection with the same user's token: the held credentials are the user's.
    rows, grants = call_as(
        mcp_url, token, ("run_dynamodb_operation", query), ("list_my_grants", {})
    )
    assert {row["customer_id"] for row in ok(rows)["items"]} == {"c-1001"}
    assert handle in [item["handle"] for item in ok(grants)["active"]]

    # Ben's verified token on the same server cannot use Alice's handle.
    (theirs,) = call_as(mcp_url, stack.sign_in(BEN), ("run_dynamodb_operation", query))
    assert theirs.is_error
    assert "No access is held" in text_of(theirs)


def id_token(stack: Stack, username: str) -> str:
    public = boto3.client(
        "cognito-idp",
        endpoint_url=stack.record.aws_endpoint_url,
        region_name=stack.record.region,
        config=Config(signature_version=UNSIGNED),
    )
    answer = public.initiate_auth(
        ClientId=stack.record.cognito.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": stack.record.user(username).password},
    )
    return str(answer["AuthenticationResult"]["IdToken"])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_module_serves_http_on_loopback_with_the_records_user_pool(
    stack: Stack, data_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    command = [sys.executable, "-m", "agent_zero.mcp", "--transport", "http"]
    command += ["--port", str(port), "--data-dir", str(data_dir)]
    with (tmp_path / "stderr.txt").open("w") as errlog:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errlog)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 30
        while True:
            try:
                with httpx.Client(timeout=5) as http:
                    refused = http.post(url, json=INITIALIZE)
                break
            except httpx.ConnectError:
                assert process.poll() is None, "the server exited"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert refused.status_code == 401
        (grants,) = call_as(url, stack.sign_in(BEN), ("list_my_grants", {}))
        assert set(ok(grants)) == {"active", "waiting", "past"}
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.parametrize("credential", ["missing", "garbage", "forged", "id-token", "basic"])
def test_http_refuses_requests_without_a_valid_access_token(
    stack: Stack, mcp_url: str, credential: str
) -> None:
    headers = {"Accept": "application/json, text/event-stream"}
    if credential == "garbage":
        headers["Authorization"] = "Bearer not-a-token"
    elif credential == "forged":
        token = stack.sign_in(ALICE)
        headers["Authorization"] = (
            f"Bearer {token[:-6]}{'A' * 6 if token[-6:] != 'A' * 6 else 'B' * 6}"
        )
    elif credential == "id-token":
        headers["Authorization"] = f"Bearer {id_token(stack, ALICE)}"
    elif credential == "basic":
        headers["Authorization"] = "Basic YWxpY2U6cGFzc3dvcmQ="
    with httpx.Client(timeout=10) as http:
        answer = http.post(mcp_url, json=INITIALIZE, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["error"] == "invalid_token"
