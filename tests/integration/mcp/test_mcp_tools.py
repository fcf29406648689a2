"""The MCP tools in-process (``mcp.Client(server)``) against the running sandbox stack.

The broker API, its LLM reviewer (scripted), STS and the IAM gateway are real; the
server acts as whoever the injected token source names, as it does over stdio.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from agent_zero.client import BrokerClient
from agent_zero.mcp.server import build_server
from e2e.test_broker_api import Stack, approve
from e2e.test_broker_api import stack as stack  # the module-scoped stack fixture
from support.model_server import Structured

ALICE, BEN, ADMIN = "alice.moreau", "ben.okafor", "priya.raman"
ALICES_ROW = {"customer_id": "c-1001", "account_id": "acc-100101"}
BENS_ROW = {"customer_id": "c-1002", "account_id": "acc-100201"}


@pytest.fixture(autouse=True)
def fresh_script(stack: Stack) -> None:
    stack.model.reset()


@dataclass
class SignedIn:
    """The token source a CLI would pass: whoever is signed in right now."""

    token: str

    def __call__(self) -> str:
        return self.token


def server_for(stack: Stack, who: SignedIn, *, hand_out: bool = False) -> MCPServer:
    return build_server(
        api_url=stack.api.url,
        region=stack.record.region,
        aws_endpoint_url=stack.record.aws_endpoint_url,
        hand_out_credentials=hand_out,
        token_source=who,
    )


def call(server: MCPServer, tool: str, **arguments: Any) -> CallToolResult:
    async def go() -> CallToolResult:
        async with Client(server) as client:
            return await client.call_tool(tool, arguments)

    return asyncio.run(go())


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    content = result.structured_content
    assert isinstance(content, dict)
    return content


def refusal(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(getattr(block, "text", "") for block in result.content)


def escalate() -> Structured:
    return Structured(
        {
            "decision": "escalate",
            "grants": [{"resource_key": "account-balances", "actions": ["dynamodb:Query"]}],
            "duration_seconds": 900,
            "risk": "medium",
            "rationale": "A person should look at this.",
        }
    )


def deny() -> Structured:
    return Structured(
        {
            "decision": "deny",
            "grants": [],
            "duration_seconds": 900,
            "risk": "high",
            "rationale": "The policy does not cover this.",
        }
    )


@pytest.fixture
def alice(stack: Stack) -> tuple[MCPServer, SignedIn]:
    who = SignedIn(stack.sign_in(ALICE))
    return server_for(stack, who), who


def approved_balances(server: MCPServer, stack: Stack) -> str:
    stack.model.enqueue(approve("account-balances", "dynamodb:Query", "dynamodb:GetItem"))
    outcome = ok(call(server, "request_aws_access", reason="My balances before paying rent."))
    assert outcome["status"] == "approved"
    return str(outcome["handle"])


def test_an_approved_request_reads_only_the_callers_rows(
    stack: Stack, alice: tuple[MCPServer, SignedIn]
) -> None:
    server, _ = alice
    stack.model.enqueue(approve("account-balances", "dynamodb:Query", "dynamodb:GetItem"))
    result = call(server, "request_aws_access", reason="My balances before paying rent.")
    outcome = ok(result)
    assert outcome["status"] == "approved"
    [grant] = outcome["grants"]
    assert grant["resource"] == "account-balances"
    assert set(grant["actions"]) == {"dynamodb:GetItem", "dynamodb:Query"}
    assert outcome["credentials"] is None
    everything = result.model_dump_json()
    assert "ASIA" not in everything
    assert "session_token" not in everything
    assert "secret" not in everything
    handle = outcome["handle"]

    rows = ok(
        call(
            server,
            "run_dynamodb_operation",
            handle=handle,
            resource="account-balances",
            operation="query",
        )
    )
    assert len(rows["items"]) >= 2
    assert {row["customer_id"] for row in rows["items"]} == {"c-1001"}

    mine = ok(
        call(
            server,
            "run_dynamodb_operation",
            handle=handle,
            resource="account-balances",
            operation="get",
            key=ALICES_ROW,
        )
    )
    assert mine["items"][0]["account_id"] == "acc-100101"
    # Exact numbers: DynamoDB's decimals come back as text, never as rounded floats.
    assert mine["items"][0]["available_balance"] == "2418.37"

    bens = call(
        server,
        "run_dynamodb_operation",
        handle=handle,
        resource="account-balances",
        operation="get",
        key=BENS_ROW,
    )
    assert "The data service refused" in refusal(bens)  # the IAM gateway said no


def test_credentials_reach_the_client_only_when_the_server_hands_them_out(
    stack: Stack,
) -> None:
    who = SignedIn(stack.sign_in(ALICE))
    server = server_for(stack, who, hand_out=True)
    stack.model.enqueue(approve("account-balances", "dynamodb:Query"))
    outcome = ok(call(server, "request_aws_access", reason="My balances."))
    credentials = outcome["credentials"]
    assert credentials["region"] == stack.record.region
    dynamodb = boto3.client(
        "dynamodb",
        region_name=credentials["region"],
        endpoint_url=credentials["endpoint_url"],
        aws_access_key_id=credentials["access_key_id"],
        aws_secret_access_key=credentials["secret_access_key"],
        aws_session_token=credentials["session_token"],
    )
    found = dynamodb.query(
        TableName=stack.record.tables["account-balances"],
        KeyConditionExpression="customer_id = :c",
        ExpressionAttributeValues={":c": {"S": "c-1001"}},
    )
    assert found["Count"] >= 2
    # The server still holds them too, so its own data tool works with the handle.
    rows = call(
        server,
        "run_dynamodb_operation",
        handle=outcome["handle"],
        resource="account-balances",
        operation="query",
    )
    assert ok(rows)["items"]


def test_a_pending_request_becomes_usable_once_a_person_approves_it(
    stack: Stack, alice: tuple[MCPServer, SignedIn]
) -> None:
    server, _ = alice
    stack.model.enqueue(escalate())
    outcome = ok(call(server, "request_aws_access", reason="Balances for a mortgage form."))
    assert outcome["status"] == "pending"
    assert outcome["credentials"] is None
    handle = outcome["handle"]
    early = call(
        server,
        "run_dynamodb_operation",
        handle=handle,
        resource="account-balances",
        operation="query",
    )
    assert "No access is held" in refusal(early)
    assert ok(call(server, "check_access_request", handle=handle))["status"] == "pending"

    with stack.client_for(ADMIN) as admin:
        admin.approve(
            handle,
            grants=[{"resource_key": "account-balances", "actions": ["dynamodb:Query"]}],
            duration_seconds=900,
        )
    checked = ok(call(server, "check_access_request", handle=handle))
    assert checked["status"] == "approved"
    assert "ASIA" not in json.dumps(checked)
    rows = call(
        server,
        "run_dynamodb_operation",
        handle=handle,
        resource="account-balances",
        operation="query",
    )
    assert {row["customer_id"] for row in ok(rows)["items"]} == {"c-1001"}


def test_a_denied_request_says_why_and_grants_nothing(
    stack: Stack, alice: tuple[MCPServer, SignedIn]
) -> None:
    server, _ = alice
    stack.model.enqueue(deny())
    result = call(server, "request_aws_access", reason="Every customer's balances, please.")
    outcome = ok(result)
    assert outcome["status"] == "denied"
    assert outcome["reasons"]
    assert outcome["grants"] == []
    assert outcome["credentials"] is None
    refused = call(
        server,
        "run_dynamodb_operation",
        handle=outcome["handle"],
        resource="account-balances",
        operation="query",
    )
    assert "No access is held" in refusal(refused)


def test_list_my_grants_sorts_active_waiting_and_past(
    stack: Stack, alice: tuple[MCPServer, SignedIn]
) -> None:
    server, _ = alice
    active = approved_balances(server, stack)
    stack.model.enqueue(escalate())
    waiting = ok(call(server, "request_aws_access", reason="Balances for a form."))["handle"]
    stack.model.enqueue(deny())
    denied = ok(call(server, "request_aws_access", reason="Everyone's balances."))["handle"]

    grants = ok(call(server, "list_my_grants"))
    by_handle = {
        item["handle"]: (bucket, item) for bucket, items in grants.items() for item in items
    }
    assert by_handle[active][0] == "active"
    assert by_handle[active][1]["usable_here"] is True
    assert by_handle[active][1]["grants"][0]["resource"] == "account-balances"
    assert by_handle[waiting][0] == "waiting"
    assert by_handle[denied][0] == "past"
    assert by_handle[denied][1]["reason"] == "Everyone's balances."
    assert "session_token" not in json.dumps(grants)


def test_the_data_tool_refuses_without_a_handle_it_holds_for_this_caller(
    stack: Stack, alice: tuple[MCPServer, SignedIn]
) -> None:
    server, who = alice
    handle = approved_balances(server, stack)

    for missing in ("", "req-does-not-exist"):
        result = call(
            server,
            "run_dynamodb_operation",
            handle=missing,
            resource="account-balances",
            operation="query",
        )
        assert "No access is held" in refusal(result)

    ungranted = call(
        server,
        "run_dynamodb_operation",
        handle=handle,
        resource="transactions",
        operation="query",
    )
    assert "not granted under this handle" in refusal(ungranted)

    # Ben signs in on the same server: Alice's handle is not his.
    who.token = stack.sign_in(BEN)
    theirs = call(
        server,
        "run_dynamodb_operation",
        handle=handle,
        resource="account-balances",
        operation="get",
        key=ALICES_ROW,
    )
    assert "No access is held" in refusal(theirs)
    assert "not made through this server" in refusal(
        call(server, "check_access_request", handle=handle)
    )


def test_the_broker_refusing_the_token_is_a_tool_error_without_the_token(stack: Stack) -> None:
    bad = SignedIn("not-a-token")
    server = server_for(stack, bad)
    text = refusal(call(server, "request_aws_access", reason="My balances."))
    assert "unauthenticated" in text
    assert "not-a-token" not in text


def test_the_server_asks_as_the_caller_directly(stack: Stack) -> None:
    # The broker records the request as the caller's own, with no agent acting for them.
    who = SignedIn(stack.sign_in(ALICE))
    handle = approved_balances(server_for(stack, who), stack)
    with BrokerClient(stack.api.url, bearer_token=who.token) as broker:
        mine = {item["request_id"]: item for item in broker.list_requests()}
    assert mine[handle]["principal_id"] == ALICE
    assert mine[handle]["acting_agent_id"] is None


def test_a_request_made_elsewhere_cannot_be_collected_through_the_server(stack: Stack) -> None:
    # Alice asked from the CLI and a person approved it: her one collection is hers, not
    # an MCP client's that learned the id.
    who = SignedIn(stack.sign_in(ALICE))
    stack.model.enqueue(escalate())
    with BrokerClient(stack.api.url, bearer_token=who.token) as broker:
        pending = broker.request_access("Balances for a mortgage form.")
    with stack.client_for(ADMIN) as admin:
        admin.approve(
            pending.request_id,
            grants=[{"resource_key": "account-balances", "actions": ["dynamodb:Query"]}],
            duration_seconds=900,
        )
    server = server_for(stack, who)
    text = refusal(call(server, "check_access_request", handle=pending.request_id))
    assert "not made through this server" in text
    with BrokerClient(stack.api.url, bearer_token=who.token) as broker:
        assert broker.get(pending.request_id).credentials is not None  # still hers to collect


def test_checking_held_access_after_a_revocation_says_so_and_drops_it(
    stack: Stack, alice: tuple[MCPServer, SignedIn]
) -> None:
    server, who = alice
    handle = approved_balances(server, stack)
    assert ok(call(server, "check_access_request", handle=handle))["status"] == "approved"
    with BrokerClient(stack.api.url, bearer_token=who.token) as broker:
        broker.revoke(handle)
    assert "revoked" in refusal(call(server, "check_access_request", handle=handle))
    gone = call(
        server,
        "run_dynamodb_operation",
        handle=handle,
        resource="account-balances",
        operation="get",
        key=ALICES_ROW,
    )
    assert "No access is held" in refusal(gone)
