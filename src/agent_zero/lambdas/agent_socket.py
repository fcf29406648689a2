"""The support agent behind API Gateway's WebSocket API.

``$connect`` verifies the user's access token (a ``bearer, <token>``
subprotocol, as locally) and remembers the connection; ``message`` validates
the frame and hands the turn to an asynchronous worker (a turn outlives API
Gateway's 29-second integration limit); the worker runs the same ``run_turn``
as the local WebSocket with a frame sink that posts through the management
API; ``$disconnect`` forgets the connection, and a turn whose client is gone
stops at its next frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from pydantic import SecretStr, ValidationError

from agent_zero.agent.connections import (
    Connection,
    ConnectionGoneError,
    ConnectionPoster,
    ConnectionStore,
)
from agent_zero.agent.frames import Done, Error, ServerFrame, UserMessage
from agent_zero.agent.support import build_agent, run_turn
from agent_zero.domain.errors import AgentZeroError, RateLimitedError, UnavailableError
from agent_zero.logs import configure_logging
from agent_zero.settings import Settings
from agent_zero.web.agent_ws import BEARER_PROTOCOL, AgentRuntime, TokenVerifier
from agent_zero.web.api import RateLimiter

logger = logging.getLogger(__name__)

STALE_MARGIN_SECONDS = 30  # beyond a turn's own bound before its mark counts as abandoned

Event = dict[str, Any]
Response = dict[str, Any]


class ConnectionSink:
    """The frame-sink port over a poster, for one connection."""

    def __init__(self, poster: ConnectionPoster, connection_id: str) -> None:
        self._poster = poster
        self._connection = connection_id

    async def send(self, frame: ServerFrame) -> None:
        """Post one frame off the event loop (boto3 blocks)."""
        data = frame.model_dump_json().encode()
        await asyncio.to_thread(self._poster.post, self._connection, data)


@dataclass(frozen=True, slots=True)
class AgentSocketHandlers:
    """The three routes and the worker; everything comes in from wiring."""

    tokens: TokenVerifier
    connections: ConnectionStore
    runtime: AgentRuntime
    poster: ConnectionPoster
    start_worker: Callable[[dict[str, Any]], None]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Turns per person, as the sandbox's socket bounds them: a person may open many
    # connections, and each turn costs model calls. Per instance, like the web function's;
    # the WebSocket stage's throttling bounds the whole.
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def connect(self, event: Event) -> Response:
        """$connect: only a verified user gets a connection."""
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
        if len(offered) != 2 or offered[0] != BEARER_PROTOCOL:
            return {"statusCode": 401}
        try:
            verified = self.tokens.verify(offered[1])
        except AgentZeroError:
            return {"statusCode": 401}
        self.connections.put(
            Connection(
                connection_id=str(event["requestContext"]["connectionId"]),
                username=str(verified.username),
                access_token=SecretStr(offered[1]),
                expires_at=verified.expires_at,
            )
        )
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": BEARER_PROTOCOL}}

    def disconnect(self, event: Event) -> Response:
        """$disconnect: forget the connection; a running turn stops at its next frame."""
        self.connections.remove(str(event["requestContext"]["connectionId"]))
        return {"statusCode": 200}

    def message(self, event: Event) -> Response:
        """message: validate, re-check the token, then run the turn asynchronously."""
        connection_id = str(event["requestContext"]["connectionId"])
        connection = self.connections.get(connection_id)
        if connection is None:
            return {"statusCode": 403}
        sink = ConnectionSink(self.poster, connection_id)
        try:
            message = UserMessage.model_validate_json(event.get("body") or "")
        except ValidationError:
            frame = Error(id="-", code="invalid_message", message="Send {type, id, text}.")
            asyncio.run(sink.send(frame))
            return {"statusCode": 200}
        try:
            # A connection outlives the token it opened with; each turn needs a live one.
            verified = self.tokens.verify(connection.access_token.get_secret_value())
        except AgentZeroError:
            frame = Error(
                id=message.id, code="session_expired", message="Your session ended; sign in again."
            )
            asyncio.run(_send_then_done(sink, frame, message.id))
            return {"statusCode": 200}
        try:
            self.limiter.take(f"chat:{verified.username}")
        except RateLimitedError as error:
            frame = Error(id=message.id, code=error.code, message=error.message)
            asyncio.run(_send_then_done(sink, frame, message.id))
            return {"statusCode": 200}
        now = self.clock()
        # A turn that ran past its bound (a crashed worker) no longer holds the connection.
        stale_before = now - timedelta(seconds=self.runtime.limits.seconds + STALE_MARGIN_SECONDS)
        if not self.connections.begin_turn(
            connection_id, message.id, now=now, stale_before=stale_before
        ):
            asyncio.run(
                sink.send(Error(id=message.id, code="busy", message="One message at a time."))
            )
            return {"statusCode": 200}
        try:
            self.start_worker({"connection_id": connection_id, "message": message.model_dump()})
        except Exception:
            self.connections.end_turn(connection_id, message.id)
            raise
        return {"statusCode": 200}

    def work(self, payload: dict[str, Any]) -> None:
        """The asynchronous worker: one turn, frames posted as they come.

        It never raises: an asynchronous invocation that fails is retried, and a retried
        turn would repeat its tool calls. Failures are logged by type, never by content.
        """
        connection_id = str(payload.get("connection_id", ""))
        try:
            message = UserMessage.model_validate(payload.get("message"))
        except ValidationError:
            logger.warning("agent worker: a payload that is not a message was dropped")
            return
        try:
            self._run(connection_id, message)
        except ConnectionGoneError:
            self.connections.remove(connection_id)  # nobody is listening any more
        except AgentZeroError as error:
            logger.warning("agent turn %s: %s", message.id, error.code)
        except Exception as error:
            logger.error("agent turn %s failed: %s", message.id, type(error).__name__)
        finally:
            with contextlib.suppress(Exception):
                self.connections.end_turn(connection_id, message.id)

    def _run(self, connection_id: str, message: UserMessage) -> None:
        connection = self.connections.get(connection_id)
        if connection is None:
            return  # the client left before the turn started
        sink = ConnectionSink(self.poster, connection_id)
        if self.runtime.open_model is None:
            frame = Error(
                id=message.id,
                code="model_not_configured",
                message="No model is configured: set AGENT_ZERO_LLM_PROVIDER.",
            )
            asyncio.run(_send_then_done(sink, frame, message.id))
            return
        token = connection.access_token.get_secret_value()
        deps = self.runtime.deps_for(connection.username, token)
        asyncio.run(
            run_turn(
                build_agent(),
                message_id=message.id,
                text=message.text,
                deps=deps,
                sink=sink,
                open_model=self.runtime.open_model,
                limits=self.runtime.limits,
            )
        )


async def _send_then_done(sink: ConnectionSink, frame: Error, message_id: str) -> None:
    await sink.send(frame)
    await sink.send(Done(id=message_id))


def route(handlers: AgentSocketHandlers, event: Event) -> Response:
    """Dispatch one API Gateway WebSocket event by its route key."""
    key = (event.get("requestContext") or {}).get("routeKey")
    if key == "$connect":
        return handlers.connect(event)
    if key == "$disconnect":
        return handlers.disconnect(event)
    if key in ("message", "$default"):
        return handlers.message(event)
    return {"statusCode": 400, "body": json.dumps({"error": "unknown_route"})}


# --- the deployed functions: everything built once per cold start from Settings ----------


def agent_runtime_on_aws(settings: Settings, session: boto3.Session) -> AgentRuntime:
    """Turns as the worker runs them: the broker over its IAM-authorized API, as the agent.

    The agent signs with its function role's session; the user's token rides along in the
    signed on-behalf-of header. Who the user is (their own partition key, whether they
    administer) comes from the broker's ``GET /v1/me``, never from the message.
    """
    from agent_zero.adapters.aws.data_plane import MintedDynamoDBFactory
    from agent_zero.adapters.aws.directory import MintedCognitoFactory
    from agent_zero.adapters.broker_api import BrokerApiAccess, BrokerApiAdminDesk
    from agent_zero.agent.support import TurnDeps, TurnLimits
    from agent_zero.broker.approvals import APPROVER_GROUP
    from agent_zero.client import BrokerClient, SigV4Key
    from agent_zero.review.llm import model_opener
    from agent_zero.wiring import agent_model_config, agent_resources, aws_catalog

    # Only the worker runs turns; the route function builds this for the turn bound alone.
    api_url = settings.broker_api_url
    config = agent_model_config(settings)
    open_model = None if config is None else model_opener(config)
    resources = agent_resources(aws_catalog(settings))
    data = MintedDynamoDBFactory(region=settings.region, endpoint_url=settings.aws_endpoint_url)
    directory = MintedCognitoFactory(
        region=settings.region,
        user_pool_id=str(settings.cognito_user_pool_id),
        endpoint_url=settings.aws_endpoint_url,
    )

    def agent_key() -> SigV4Key:
        # Read per turn: the role's session is renewed by Lambda between invocations.
        credentials = session.get_credentials()
        if credentials is None:
            raise UnavailableError("the agent function has no AWS credentials")
        frozen = credentials.get_frozen_credentials()
        return SigV4Key(frozen.access_key, frozen.secret_key, settings.region, frozen.token)

    def deps_for(username: str, token: str) -> TurnDeps:
        if not api_url:
            raise UnavailableError("AGENT_ZERO_BROKER_API_URL is not set")
        key = agent_key()
        with BrokerClient(api_url, sigv4=key, on_behalf_of=token) as broker:
            me = broker.me()
        if me.get("principal_id") != username:
            raise UnavailableError("the broker names another user for this connection")
        is_admin = APPROVER_GROUP in me.get("groups", [])
        return TurnDeps(
            user_id=username,
            broker=BrokerApiAccess(api_url=api_url, agent_key=key, user_access_token=token),
            data=data,
            resources=resources,
            owner_key=me.get("customer_key"),
            admin=BrokerApiAdminDesk(api_url=api_url, agent_key=key, admin_access_token=token)
            if is_admin
            else None,
            directory=directory if is_admin else None,
        )

    return AgentRuntime(
        open_model=open_model,
        deps_for=deps_for,
        limits=TurnLimits(seconds=settings.agent_timeout_seconds),
    )


def build_handlers(
    settings: Settings,
    session: boto3.Session,
    *,
    secrets: Any | None = None,
    lambda_client: Any | None = None,
) -> AgentSocketHandlers:
    """The routes and the worker for one function instance."""
    from agent_zero.adapters.aws.connections import ManagementApiPoster
    from agent_zero.adapters.dynamodb.connections import DynamoDBConnectionStore
    from agent_zero.web.auth import SignedOutTokens
    from agent_zero.wiring import cognito_token_verifier, signed_out_sessions, with_secrets

    endpoint = settings.aws_endpoint_url
    settings = with_secrets(
        settings, secrets or session.client("secretsmanager", endpoint_url=endpoint)
    )
    if not settings.websocket_management_url:
        raise ValueError("AGENT_ZERO_WEBSOCKET_MANAGEMENT_URL is not set")
    invoker = lambda_client or session.client("lambda", endpoint_url=endpoint)
    worker_function = settings.agent_worker_function

    def start_worker(payload: dict[str, Any]) -> None:
        if not worker_function:
            raise UnavailableError("AGENT_ZERO_AGENT_WORKER_FUNCTION is not set")
        # "Event": asynchronous, so the turn outlives API Gateway's 29-second limit. The
        # stack sets zero retries on the worker: a repeated turn would repeat tool calls.
        invoker.invoke(
            FunctionName=worker_function, InvocationType="Event", Payload=json.dumps(payload)
        )

    return AgentSocketHandlers(
        # The page's script offers its web session's token: signing out ends the chat too,
        # at $connect and at every turn of a connection already open.
        tokens=SignedOutTokens(
            cognito_token_verifier(settings), signed_out_sessions(settings, session)
        ),
        connections=DynamoDBConnectionStore(
            client=session.client("dynamodb", endpoint_url=settings.aws_endpoint_url),
            table=settings.connections_table,
        ),
        runtime=agent_runtime_on_aws(settings, session),
        poster=ManagementApiPoster(
            session.client(
                "apigatewaymanagementapi", endpoint_url=settings.websocket_management_url
            )
        ),
        start_worker=start_worker,
    )


@functools.cache
def _cold_start() -> AgentSocketHandlers:
    settings = Settings()
    configure_logging(settings.log_format)
    return build_handlers(settings, boto3.Session(region_name=settings.region))


def handler(event: Event, context: Any) -> Response:
    """The WebSocket routes' entry point (``agent_zero.lambdas.agent_socket.handler``)."""
    return route(_cold_start(), event)


def worker(event: dict[str, Any], context: Any) -> None:
    """The asynchronous worker's entry point (``agent_zero.lambdas.agent_socket.worker``)."""
    _cold_start().work(event)
