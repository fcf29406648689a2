"""Security review of the AWS entry points' pure parts, with in-memory fakes of their ports:
each test is an attack that worked before its fix, a failure that must refuse, or (at the
end) an attack checked and found to fail, kept so."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from mangum import Mangum

from agent_zero.agent.connections import InMemoryConnectionStore, InMemoryPoster
from agent_zero.agent.support import TurnLimits
from agent_zero.domain.errors import AuthenticationError, UnavailableError
from agent_zero.lambdas.agent_socket import AgentSocketHandlers, route
from agent_zero.lambdas.broker_api import with_verified_caller
from agent_zero.sandbox.sigv4 import HttpRequest
from agent_zero.web.agent_ws import AgentRuntime
from agent_zero.web.auth import (
    VERIFIED_CALLER_HEADER,
    NoSignatures,
    RequestAuthenticator,
    SignedOutTokens,
    VerifiedToken,
)
from agent_zero.web.session import InMemoryRevokedSessions, token_session_id
from support.api_gateway import HttpApiTransport

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TOKEN = "header.payload.signature"  # what the fake verifier below accepts


class FakeTokens:
    """Accepts one token, for one user."""

    def verify(self, token: str) -> VerifiedToken:
        if token != TOKEN:
            raise AuthenticationError("the access token signature is invalid")
        return VerifiedToken(
            username="ben.okafor", groups=frozenset(), expires_at=NOW + timedelta(hours=1)
        )


class UnreachableSignOuts:
    """The sign-outs table, unreachable (DynamoDB throttling, a missing grant)."""

    def revoke(self, sid: str, until: datetime) -> None:
        raise UnavailableError("DynamoDB PutItem failed (ProvisionedThroughputExceeded)")

    def is_revoked(self, sid: str) -> bool:
        raise UnavailableError("DynamoDB GetItem failed (ProvisionedThroughputExceeded)")


def bearer(token: str) -> HttpRequest:
    return HttpRequest("GET", "/v1/me", "", {"authorization": f"Bearer {token}"}, b"")


# --- sign-out ends the token, wherever it is offered ------------------------------------------


def test_a_signed_out_token_is_refused_and_a_live_one_accepted() -> None:
    signed_out = InMemoryRevokedSessions(clock=lambda: NOW)
    tokens = SignedOutTokens(FakeTokens(), signed_out)
    assert tokens.verify(TOKEN).username == "ben.okafor"
    signed_out.revoke(token_session_id(TOKEN), NOW + timedelta(hours=1))
    with pytest.raises(AuthenticationError, match="signed out"):
        tokens.verify(TOKEN)
    with pytest.raises(AuthenticationError, match="signed out"):
        RequestAuthenticator(tokens=tokens, signatures=NoSignatures()).authenticate(bearer(TOKEN))


def test_the_sign_out_record_never_holds_the_token_itself() -> None:
    key = token_session_id(TOKEN)
    assert TOKEN not in key
    assert key == token_session_id(TOKEN) != token_session_id(TOKEN + "x")


def test_an_unreachable_sign_out_table_refuses_the_token() -> None:
    tokens = SignedOutTokens(FakeTokens(), UnreachableSignOuts())
    with pytest.raises(UnavailableError):
        tokens.verify(TOKEN)
    with pytest.raises(UnavailableError):
        RequestAuthenticator(tokens=tokens, signatures=NoSignatures()).authenticate(bearer(TOKEN))


def socket_handlers(tokens: Any, started: list[dict[str, Any]]) -> AgentSocketHandlers:
    def deps_for(_username: str, _token: str) -> Any:
        raise AssertionError("no turn may run")

    return AgentSocketHandlers(
        tokens=tokens,
        connections=InMemoryConnectionStore(),
        runtime=AgentRuntime(open_model=None, deps_for=deps_for, limits=TurnLimits()),
        poster=InMemoryPoster(),
        start_worker=started.append,
        clock=lambda: NOW,
    )


def socket_event(route_key: str, connection_id: str, **extra: Any) -> dict[str, Any]:
    return {"requestContext": {"routeKey": route_key, "connectionId": connection_id}, **extra}


def test_the_chat_refuses_to_connect_when_sign_outs_cannot_be_read() -> None:
    started: list[dict[str, Any]] = []
    handlers = socket_handlers(SignedOutTokens(FakeTokens(), UnreachableSignOuts()), started)
    headers = {"Sec-WebSocket-Protocol": f"bearer, {TOKEN}"}
    answer = route(handlers, socket_event("$connect", "c-1", headers=headers))
    assert answer["statusCode"] == 401
    assert handlers.connections.get("c-1") is None


def test_a_connection_open_before_the_sign_out_starts_no_more_turns() -> None:
    started: list[dict[str, Any]] = []
    signed_out = InMemoryRevokedSessions(clock=lambda: NOW)
    handlers = socket_handlers(SignedOutTokens(FakeTokens(), signed_out), started)
    headers = {"Sec-WebSocket-Protocol": f"bearer, {TOKEN}"}
    assert route(handlers, socket_event("$connect", "c-1", headers=headers))["statusCode"] == 200
    signed_out.revoke(token_session_id(TOKEN), NOW + timedelta(hours=1))
    body = json.dumps({"type": "message", "id": "m-1", "text": "My balance?"})
    assert route(handlers, socket_event("message", "c-1", body=body)) == {"statusCode": 200}
    assert started == []
    poster = handlers.poster
    assert isinstance(poster, InMemoryPoster)
    frames = [json.loads(f) for f in poster.posted["c-1"]]
    assert [f["type"] for f in frames] == ["error", "done"]
    assert frames[0]["code"] == "session_expired"


# --- the REST API is the agent's alone -------------------------------------------------------


def test_where_only_agents_are_served_a_valid_bearer_token_is_refused() -> None:
    agents_only = RequestAuthenticator(
        tokens=FakeTokens(), signatures=NoSignatures(), bearer_tokens=False
    )
    with pytest.raises(AuthenticationError, match="only the broker's agents"):
        agents_only.authenticate(bearer(TOKEN))
    people = RequestAuthenticator(tokens=FakeTokens(), signatures=NoSignatures())
    assert people.authenticate(bearer(TOKEN)).principal_id == "ben.okafor"


# --- agent-zero aws seed against a hostile pre-existing account -------------------------------


def test_seed_refuses_a_demo_account_someone_else_created_before_it() -> None:
    # Someone who can create users in the pool (a helpdesk session of the directory role)
    # made "priya.raman" first, with the demo's email, which is public and which any user
    # may also set on their own account. Seeding used to take it for the demo's, leave its
    # password alone, and create the admin principal that account then signs in as.
    from agent_zero.cli.aws.plan import Inventory, plan_seed
    from agent_zero.sandbox.demo_bank import demo_bank

    bank = demo_bank()
    admin = next(u for u in bank.users if "admin" in u.cognito_groups)
    found = Inventory(users={admin.username: admin.email}, principals={})
    plan = plan_seed(bank, found)
    assert any(admin.username in problem for problem in plan.problems), plan.problems


# --- the chat's turns cost model calls: bounded per person, as in the sandbox -----------------


def test_one_person_cannot_start_turns_without_bound_across_connections() -> None:
    # Each turn is a worker invocation and model calls. "One message at a time" holds per
    # connection, and a person may open as many connections as they like: without a
    # per-person budget (the sandbox's socket has one) they ran up the model bill at will.
    started: list[dict[str, Any]] = []
    handlers = socket_handlers(FakeTokens(), started)
    headers = {"Sec-WebSocket-Protocol": f"bearer, {TOKEN}"}
    refused = 0
    for n in range(40):
        connection = f"c-{n}"
        assert (
            route(handlers, socket_event("$connect", connection, headers=headers))["statusCode"]
            == 200
        )
        body = json.dumps({"type": "message", "id": f"m-{n}", "text": "Hello?"})
        route(handlers, socket_event("message", connection, body=body))
        poster = handlers.poster
        assert isinstance(poster, InMemoryPoster)
        codes = [json.loads(f).get("code") for f in poster.posted.get(connection, [])]
        refused += codes == ["rate_limited", None]
    assert len(started) < 40
    assert len(started) + refused == 40


# --- logs: a failure's text never reaches CloudWatch ----------------------------------------


@pytest.fixture
def json_logging() -> Iterator[io.StringIO]:
    """What ``configure_logging`` writes on AWS, collected here instead of on stderr."""
    import asyncio

    from agent_zero.logs import configure_logging

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    configure_logging("json")
    written = io.StringIO()
    (handler,) = logging.getLogger("agent_zero").handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    try:
        yield written
    finally:
        for name in ("agent_zero", "mangum"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
            logger.setLevel(logging.NOTSET)
        asyncio.set_event_loop(None)
        loop.close()


class LambdaRootHandler(logging.Handler):
    """Stands for the handler Lambda's runtime puts on the root logger: it prints records,
    tracebacks included, to CloudWatch."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter().format(record))


def test_an_unexpected_failure_is_logged_by_type_only(json_logging: io.StringIO) -> None:
    # The app answers 500 and Starlette re-raises; Mangum then logged the traceback, message
    # and all, through Lambda's root handler: past the JSON formatter that keeps exception
    # text (a token, a reason) out of CloudWatch.
    app = FastAPI()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("token=eyJ-not-for-logs")

    lambda_root = LambdaRootHandler()
    logging.getLogger().addHandler(lambda_root)
    try:
        handler = Mangum(app, lifespan="off")
        transport = HttpApiTransport(handler, account_id="123456789012")
        with httpx.Client(transport=transport, base_url="https://api.example") as client:
            assert client.get("/boom").status_code == 500
    finally:
        logging.getLogger().removeHandler(lambda_root)
    written = json_logging.getvalue()
    assert "eyJ-not-for-logs" not in "\n".join(lambda_root.lines) + written
    [line] = [json.loads(text) for text in written.splitlines() if text.strip()]
    assert (line["logger"], line["error_type"]) == ("mangum.http", "RuntimeError")


# --- header smuggling through Mangum: checked sound, kept so --------------------------------

AGENT_SESSION = "arn:aws:sts::123456789012:assumed-role/agent-zero-agent/turn-1"
MALLORY = "arn:aws:sts::123456789012:assumed-role/mallory/x"


@pytest.fixture
def echo_caller() -> Iterator[Any]:
    """The broker API's event rewrite and Mangum over an app that says which caller header
    it received, as the authenticator reads them (every copy, lower-cased)."""
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = FastAPI()

    @app.get("/v1/me")
    def me(request: Request) -> list[str]:
        return [
            value.decode()
            for name, value in request.headers.raw
            if name.decode("latin-1").lower() == VERIFIED_CALLER_HEADER
        ]

    asgi = Mangum(app, lifespan="off")

    def seen(event: dict[str, Any]) -> list[str]:
        answer = asgi(with_verified_caller(event), None)
        assert answer["statusCode"] == 200, answer
        found: list[str] = json.loads(answer["body"])
        return found

    try:
        yield seen
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def rest_event(
    headers: dict[str, str], multi: dict[str, list[str]], caller: str | None
) -> dict[str, Any]:
    return {
        "resource": "/{proxy+}",
        "path": "/v1/me",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": multi,
        "requestContext": {"identity": {"userArn": caller} if caller else {}},
        "body": None,
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    ("headers", "multi"),
    [
        ({"X-AGENT-ZERO-VERIFIED-CALLER-ARN": AGENT_SESSION}, {}),
        ({}, {"X-Agent-Zero-Verified-Caller-Arn": [AGENT_SESSION, AGENT_SESSION]}),
        (  # the same name, cased differently, in both maps
            {"x-agent-zero-verified-caller-arn": AGENT_SESSION},
            {"X-Agent-Zero-Verified-Caller-ARN": [f"{AGENT_SESSION}, {AGENT_SESSION}"]},
        ),
    ],
)
def test_a_clients_copy_of_the_trusted_header_never_reaches_the_app(
    echo_caller: Any, headers: dict[str, str], multi: dict[str, list[str]]
) -> None:
    assert echo_caller(rest_event(headers, multi, MALLORY)) == [MALLORY]
    assert echo_caller(rest_event(headers, multi, None)) == []


def test_an_http_api_event_at_the_rest_function_carries_no_verified_caller(
    echo_caller: Any,
) -> None:
    # Payload 2.0 names an IAM caller elsewhere (authorizer.iam); it is never trusted here.
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/v1/me",
        "rawQueryString": "",
        "headers": {"x-agent-zero-verified-caller-arn": AGENT_SESSION},
        "requestContext": {
            "http": {"method": "GET", "path": "/v1/me", "sourceIp": "203.0.113.9"},
            "authorizer": {"iam": {"userArn": AGENT_SESSION}},
        },
        "isBase64Encoded": False,
    }
    assert echo_caller(event) == []


# --- a sign-out that half-failed can be finished ------------------------------------------------


class SecondWriteFails(InMemoryRevokedSessions):
    """Sign-outs whose second write fails once (DynamoDB throttled between the two)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def revoke(self, sid: str, until: datetime) -> None:
        self.writes += 1
        if self.writes == 2:
            raise UnavailableError("DynamoDB PutItem failed (ThrottlingException)")
        super().revoke(sid, until)


def test_a_sign_out_interrupted_halfway_ends_the_token_when_tried_again(
    customer: Any,
) -> None:
    # Had the cookie's session been ended first and the token's write failed, the retry
    # found nobody signed in and left the token (which the chat's script holds) alive.
    import re

    from fastapi.testclient import TestClient

    from agent_zero.adapters.memory import ScriptedReviewer
    from agent_zero.web.api import RateLimiter
    from agent_zero.web.pages import WebOptions, add_pages
    from agent_zero.web.session import SessionCodec
    from support.broker_world import APPROVE_READ, World

    class SignIn:
        def sign_in(self, username: str, password: str) -> str:
            return TOKEN

    signed_out = SecondWriteFails()
    app = FastAPI()
    add_pages(
        app,
        World([customer], ScriptedReviewer(APPROVE_READ)).broker,
        WebOptions(
            sign_in=SignIn(),
            tokens=SignedInAs(customer.id),
            sessions=SessionCodec(b"s" * 32),
            secure_cookies=True,
            model_configured=True,
            region="us-east-1",
            aws_endpoint_url=None,
            revoked=signed_out,
            limiter=RateLimiter(),
            agent_socket_url="wss://socket.example/prod",
        ),
    )
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        login = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
        form = {"csrf": csrf, "next": "/", "username": customer.id, "password": "pw"}
        assert client.post("/login", data=form).status_code == 303
        chat = client.get("/chat").text
        csrf = re.search(r'data-csrf="([^"]+)"', chat).group(1)  # type: ignore[union-attr]
        assert client.post("/logout", data={"csrf": csrf}).status_code == 503
        assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    assert signed_out.is_revoked(token_session_id(TOKEN))


class SignedInAs:
    """Verifies the one token, as ``username``."""

    def __init__(self, username: str) -> None:
        self._username = username

    def verify(self, token: str) -> VerifiedToken:
        if token != TOKEN:
            raise AuthenticationError("the access token signature is invalid")
        return VerifiedToken(
            username=self._username,
            groups=frozenset(),
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
