"""The AWS Lambda entry points under attack: each function built from Settings as the stack
deploys it, against the sandbox, driven with API Gateway's event shapes by someone who
should get nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agent_zero.domain.errors import AuthenticationError
from agent_zero.lambdas import agent_socket, broker_api
from agent_zero.settings import Settings
from agent_zero.wiring import StaticSecrets
from e2e.test_agent_lambdas import event, new_connection_id, posted
from e2e.test_aws_lambdas import (
    BEN,
    REST_URL,
    Deployment,
    agent_client,
    csrf_of,
    sign_in,
    web_client,
)
from e2e.test_aws_lambdas import broker_function as broker_function
from e2e.test_aws_lambdas import deployment as deployment
from e2e.test_aws_lambdas import fresh_script as fresh_script
from e2e.test_aws_lambdas import lambda_service as lambda_service
from e2e.test_aws_lambdas import main_thread_loop as main_thread_loop
from e2e.test_aws_lambdas import web_function as web_function
from e2e.test_broker_api import Stack
from e2e.test_broker_api import stack as stack  # the module-scoped stack fixture
from support.api_gateway import RestApiIamTransport


@pytest.fixture
def socket_routes(deployment: Deployment, lambda_service: tuple[Any, list[Any]]) -> Any:
    """The WebSocket route function as the stack configures it (no model, no broker URL)."""
    client, _invocations = lambda_service
    routes_settings: Settings = deployment.settings.model_copy(
        update={"broker_api_url": None, "llm_provider": "none", "llm_api_key_secret_arn": None}
    )
    return agent_socket.build_handlers(
        routes_settings,
        deployment.agent_session,
        secrets=StaticSecrets({}),
        lambda_client=client,
    )


@pytest.fixture
def signed_in_chat(stack: Stack, web_function: Any, deployment: Deployment) -> Iterator[Any]:
    """Ben signed in to the web function, on the chat page."""
    with web_client(deployment, web_function) as client:
        sign_in(stack, client, BEN)
        yield client


def test_signing_out_ends_the_chat_token_on_every_function(
    stack: Stack,
    deployment: Deployment,
    signed_in_chat: httpx.Client,
    socket_routes: Any,
    broker_function: broker_api.Handler,
    lambda_service: tuple[Any, list[Any]],
    main_thread_loop: asyncio.AbstractEventLoop,
) -> None:
    # On AWS the chat page hands the session's access token to its script for the WebSocket
    # API. Signing out must end that token too, not only the cookie: else a copy (another
    # tab, a script that read it) keeps chatting and calling the API as Ben for an hour.
    _client, invocations = lambda_service
    client = signed_in_chat
    csrf = csrf_of(client.get("/chat").text)
    token = client.post("/chat/socket-token", data={"csrf": csrf}).json()["token"]
    protocol = {"Sec-WebSocket-Protocol": f"bearer, {token}"}
    open_connection = new_connection_id()
    opened = agent_socket.route(socket_routes, event("$connect", open_connection, headers=protocol))
    assert opened["statusCode"] == 200

    assert client.post("/logout", data={"csrf": csrf}).status_code == 303

    later = agent_socket.route(
        socket_routes, event("$connect", new_connection_id(), headers=protocol)
    )
    assert later["statusCode"] == 401
    body = json.dumps({"type": "message", "id": "m-1", "text": "My balance?"})
    agent_socket.route(socket_routes, event("message", open_connection, body=body))
    asyncio.set_event_loop(main_thread_loop)  # the route function's asyncio.run unset it
    frames = posted(stack, open_connection)
    assert [f.get("code") for f in frames if f["type"] == "error"] == ["session_expired"]
    assert invocations == []  # no turn started
    bearer = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 401
    # The agent worker forwarding it on behalf of Ben: the broker API refuses it too.
    with (
        agent_client(deployment, broker_function, token) as agent,
        pytest.raises(AuthenticationError, match="signed out"),
    ):
        agent.me()
    assert stack.model.chat_requests == []


@pytest.mark.parametrize(
    "caller",
    [
        "arn:aws:sts::{account}:assumed-role/agent-zero-broker/someone",  # any other IAM role
        "arn:aws:sts::{account}:assumed-role/agent-zero-agent/agent-worker",  # the agent itself
        "",  # no IAM identity at all
    ],
)
def test_the_rest_api_serves_no_bearer_token_whoever_signed(
    stack: Stack, deployment: Deployment, broker_function: broker_api.Handler, caller: str
) -> None:
    # The REST API is the agent's: only sessions of its role, with the user's token in the
    # signed on-behalf-of header. A bearer token skipped that check entirely: any caller API
    # Gateway let through became the token's user, and the agent could act for a user with
    # no trace of itself in the record.
    account = str(deployment.settings.account_id)
    transport = RestApiIamTransport(
        broker_function, caller_arn=caller.format(account=account), account_id=account
    )
    token = stack.sign_in(BEN)
    with httpx.Client(transport=transport, base_url=REST_URL) as http:
        me = http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        asked = http.post(
            "/v1/access-requests",
            json={"reason": "My support tickets."},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert (me.status_code, asked.status_code) == (401, 401)
    assert "agent" in me.json()["message"]
    assert stack.model.chat_requests == []
