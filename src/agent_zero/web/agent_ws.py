"""``GET /v1/agent/ws``: the support agent over a WebSocket, one user per connection.

The user's Cognito access token comes from the web session cookie or, for
non-browser clients, the ``Sec-WebSocket-Protocol`` header as ``bearer,
<token>`` (never the query string, which ends up in logs). Each message starts
one turn; a disconnect cancels the turn in flight. Frames follow
``agent_zero.agent.frames``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from agent_zero.agent.frames import Done, Error, ServerFrame, UserMessage
from agent_zero.agent.support import ModelOpener, TurnDeps, TurnLimits, build_agent, run_turn
from agent_zero.domain.errors import AgentZeroError, RateLimitedError
from agent_zero.web.api import RateLimiter
from agent_zero.web.session import SESSION_COOKIE, RevokedSessions, SessionCodec

BEARER_PROTOCOL = "bearer"
CLOSE_UNAUTHENTICATED = 4401


class TokenVerifier(Protocol):
    """Verifies a user's access token and names the user."""

    def verify(self, token: str) -> Any:
        """An object with ``username`` and ``expires_at``; raises AuthenticationError."""
        ...


@dataclass(frozen=True, slots=True)
class AgentRuntime:
    """What turns need beyond the connection: the model and per-user dependencies."""

    open_model: ModelOpener | None  # None: no model configured
    deps_for: Callable[[str, str], TurnDeps]  # (username, access token) → the turn's deps
    limits: TurnLimits = field(default_factory=TurnLimits)


class _SocketSink:
    def __init__(self, socket: WebSocket) -> None:
        self._socket = socket

    async def send(self, frame: ServerFrame) -> None:
        await self._socket.send_text(frame.model_dump_json())


def _token(
    socket: WebSocket, sessions: SessionCodec | None
) -> tuple[str | None, str | None, str | None]:
    """The token, the subprotocol to answer with, and the web session's id (cookie only)."""
    offered = [p.strip() for p in socket.headers.get("sec-websocket-protocol", "").split(",")]
    if len(offered) == 2 and offered[0] == BEARER_PROTOCOL and offered[1]:
        return offered[1], BEARER_PROTOCOL, None
    session = sessions.open(socket.cookies.get(SESSION_COOKIE)) if sessions else None
    if session is None:
        return None, None, None
    return session.access_token.get_secret_value(), None, session.sid


def _same_origin(socket: WebSocket) -> bool:
    # Browsers send the cookie on a cross-site WebSocket too (no CORS for WebSockets): a
    # page elsewhere could chat as the victim. Cookie sign-in counts only from this origin.
    origin = socket.headers.get("origin")
    host = socket.headers.get("host")
    if not origin or not host:
        return False
    return urlsplit(origin).netloc == host


def add_agent_socket(
    app: FastAPI,
    *,
    tokens: TokenVerifier,
    runtime: AgentRuntime,
    sessions: SessionCodec | None = None,
    revoked: RevokedSessions | None = None,
    may_chat: Callable[[str], bool] | None = None,
    limiter: RateLimiter | None = None,
) -> None:
    """Mount the agent's WebSocket on the app.

    ``may_chat`` says whether a verified user may still use the chat (enabled, a person);
    ``revoked`` holds web sessions signed out early; ``limiter`` bounds turns per user.
    """
    agent = build_agent()

    def still_allowed(token: str | None, sid: str | None) -> str | None:
        """The username while token, person and session all hold; None otherwise."""
        if sid is not None and revoked is not None and revoked.is_revoked(sid):
            return None
        try:
            username = str(tokens.verify(token or "").username)
        except AgentZeroError:
            return None
        if may_chat is not None and not may_chat(username):
            return None
        return username

    @app.websocket("/v1/agent/ws")
    async def agent_socket(socket: WebSocket) -> None:
        token, subprotocol, sid = _token(socket, sessions)
        if subprotocol is None and not _same_origin(socket):
            await socket.close(code=CLOSE_UNAUTHENTICATED)
            return
        username = still_allowed(token, sid)
        if username is None:
            await socket.close(code=CLOSE_UNAUTHENTICATED)
            return
        await socket.accept(subprotocol=subprotocol)
        sink = _SocketSink(socket)
        running: asyncio.Task[None] | None = None
        try:
            while True:
                raw = await socket.receive_text()
                try:
                    message = UserMessage.model_validate_json(raw)
                except ValidationError:
                    await sink.send(
                        Error(id="-", code="invalid_message", message="Send {type, id, text}.")
                    )
                    continue
                # A connection outlives its token, its session and the person's access:
                # each turn needs all three alive.
                if still_allowed(token, sid) is None:
                    await sink.send(
                        Error(
                            id=message.id,
                            code="session_expired",
                            message="Your session ended; sign in again.",
                        )
                    )
                    await sink.send(Done(id=message.id))
                    await socket.close(code=CLOSE_UNAUTHENTICATED)
                    return
                if runtime.open_model is None:
                    await sink.send(
                        Error(
                            id=message.id,
                            code="model_not_configured",
                            message="No model is configured: set AGENT_ZERO_LLM_PROVIDER.",
                        )
                    )
                    await sink.send(Done(id=message.id))
                    continue
                if running is not None and not running.done():
                    await sink.send(
                        Error(id=message.id, code="busy", message="One message at a time.")
                    )
                    continue
                if limiter is not None:
                    try:
                        limiter.take(f"chat:{username}")
                    except RateLimitedError as error:
                        await sink.send(
                            Error(id=message.id, code=error.code, message=error.message)
                        )
                        await sink.send(Done(id=message.id))
                        continue
                deps = runtime.deps_for(username, token or "")
                running = asyncio.create_task(
                    run_turn(
                        agent,
                        message_id=message.id,
                        text=message.text,
                        deps=deps,
                        sink=sink,
                        open_model=runtime.open_model,
                        limits=runtime.limits,
                    )
                )
        except WebSocketDisconnect:
            pass
        finally:
            if running is not None and not running.done():
                running.cancel()  # nobody is listening: stop spending tokens and access
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await running
