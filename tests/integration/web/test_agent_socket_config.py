"""The agent socket without a model: a clear error, never a hang or a crash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from agent_zero.agent.support import TurnDeps
from agent_zero.domain.errors import AuthenticationError
from agent_zero.web.agent_ws import AgentRuntime, add_agent_socket
from agent_zero.web.session import InMemoryRevokedSessions, SessionCodec, WebSession


@dataclass(frozen=True)
class Verified:
    username: str


class Tokens:
    """'good-token' verifies; so does 'short-token', for its first ``lives`` checks."""

    def __init__(self, lives: int = 1) -> None:
        self.lives = lives

    def verify(self, token: str) -> Verified:
        if token == "short-token" and self.lives > 0:
            self.lives -= 1
            return Verified("alice")
        if token != "good-token":
            raise AuthenticationError("bad token")
        return Verified("alice")


def no_deps(_username: str, _token: str) -> TurnDeps:
    raise AssertionError("no turn may start without a model")


CODEC = SessionCodec(b"k" * 32)


def sealed(token: str) -> str:
    """A session cookie as the web app sets it after sign-in."""
    return CODEC.seal(
        WebSession.start(username="alice", access_token=token, expires_at=datetime.now(UTC))
    )


def app(tokens: Tokens | None = None) -> FastAPI:
    application = FastAPI()
    add_agent_socket(
        application,
        tokens=tokens or Tokens(),
        runtime=AgentRuntime(None, no_deps),
        sessions=CODEC,
    )
    return application


def test_without_a_model_each_message_gets_model_not_configured() -> None:
    with (
        TestClient(app()) as client,
        client.websocket_connect("/v1/agent/ws", subprotocols=["bearer", "good-token"]) as socket,
    ):
        socket.send_json({"type": "message", "id": "m-1", "text": "hello"})
        error = socket.receive_json()
        done = socket.receive_json()
    assert error["type"] == "error"
    assert error["code"] == "model_not_configured"
    assert "AGENT_ZERO_LLM_PROVIDER" in error["message"]
    assert done == {"type": "done", "id": "m-1"}


def test_a_token_in_the_query_string_is_ignored() -> None:
    with (
        TestClient(app()) as client,
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/v1/agent/ws?token=good-token"),
    ):
        pass  # refused before the socket opens


def test_the_session_cookie_authenticates_browsers() -> None:
    client = TestClient(app(), cookies={"agent_zero_session": sealed("good-token")})
    same_origin = {"origin": "http://testserver"}
    with client, client.websocket_connect("/v1/agent/ws", headers=same_origin) as socket:
        socket.send_json({"type": "message", "id": "m-2", "text": "hi"})
        assert socket.receive_json()["code"] == "model_not_configured"


@pytest.mark.parametrize("headers", [{"origin": "https://evil.example"}, {}])
def test_the_cookie_counts_only_from_the_apps_own_origin(headers: dict[str, str]) -> None:
    # A page on another site can make the browser open this socket with the cookie.
    client = TestClient(app(), cookies={"agent_zero_session": sealed("good-token")})
    with (
        client,
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/v1/agent/ws", headers=headers),
    ):
        pass


def test_a_token_that_expires_while_connected_ends_the_session() -> None:
    with (
        TestClient(app(Tokens(lives=2))) as client,
        client.websocket_connect("/v1/agent/ws", subprotocols=["bearer", "short-token"]) as socket,
    ):
        socket.send_json({"type": "message", "id": "m-1", "text": "hello"})
        assert socket.receive_json()["code"] == "model_not_configured"  # still valid
        socket.receive_json()  # done
        socket.send_json({"type": "message", "id": "m-2", "text": "again"})
        assert socket.receive_json() == {
            "type": "error",
            "id": "m-2",
            "code": "session_expired",
            "message": "Your session ended; sign in again.",
        }
        assert socket.receive_json() == {"type": "done", "id": "m-2"}
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4401


def test_a_raw_token_in_the_cookie_is_not_a_session() -> None:
    # Only a cookie the server sealed counts: a token pasted into the cookie is ignored.
    client = TestClient(app(), cookies={"agent_zero_session": "good-token"})
    with (
        client,
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/v1/agent/ws", headers={"origin": "http://testserver"}),
    ):
        pass


def test_a_disabled_person_or_a_signed_out_session_cannot_chat() -> None:
    allowed = {"alice": True}
    revoked = InMemoryRevokedSessions()
    application = FastAPI()
    add_agent_socket(
        application,
        tokens=Tokens(),
        runtime=AgentRuntime(None, no_deps),
        sessions=CODEC,
        revoked=revoked,
        may_chat=lambda username: allowed.get(username, False),
    )
    session = WebSession.start(
        username="alice", access_token="good-token", expires_at=datetime.now(UTC)
    )
    client = TestClient(application, cookies={"agent_zero_session": CODEC.seal(session)})
    origin = {"origin": "http://testserver"}
    with client:
        with client.websocket_connect("/v1/agent/ws", headers=origin) as socket:
            allowed["alice"] = False  # disabled while connected
            socket.send_json({"type": "message", "id": "m-1", "text": "hi"})
            assert socket.receive_json()["code"] == "session_expired"
        with (
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect("/v1/agent/ws", headers=origin),
        ):
            pass  # and cannot come back
        allowed["alice"] = True
        revoked.revoke(session.sid, datetime.now(UTC).replace(year=2100))
        with (
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect("/v1/agent/ws", headers=origin),
        ):
            pass  # a signed-out session's cookie no longer opens the chat
