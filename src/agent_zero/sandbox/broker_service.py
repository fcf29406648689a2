"""The broker API inside the sandbox: uvicorn on 127.0.0.1, wired to the running gateway."""

from __future__ import annotations

import hmac
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
import uvicorn
from botocore import UNSIGNED
from botocore.config import Config

from agent_zero.adapters.aws.data_plane import MintedDynamoDBFactory
from agent_zero.adapters.aws.directory import CognitoPasswordSignIn, MintedCognitoFactory
from agent_zero.adapters.in_process_broker import InProcessAdminDesk, InProcessBroker
from agent_zero.adapters.system import SystemClock
from agent_zero.agent.support import TurnDeps, TurnLimits
from agent_zero.broker.access import Broker
from agent_zero.broker.approvals import APPROVER_GROUP
from agent_zero.domain.errors import UnavailableError
from agent_zero.domain.principals import PrincipalKind
from agent_zero.review.llm import model_opener
from agent_zero.sandbox.demo_bank import DemoBank
from agent_zero.sandbox.moto_host import MotoHost
from agent_zero.sandbox.record import SandboxRecord
from agent_zero.settings import Settings
from agent_zero.web.agent_ws import AgentRuntime, add_agent_socket
from agent_zero.web.api import RateLimiter, create_app
from agent_zero.web.auth import (
    AgentKey,
    CognitoTokenVerifier,
    HttpJwksSource,
    RequestAuthenticator,
    SignedOutTokens,
    SigV4Authenticator,
)
from agent_zero.web.pages import WebOptions, add_pages
from agent_zero.web.session import (
    InMemoryRevokedSessions,
    RevokedSessions,
    SessionCodec,
    load_or_create_key,
)
from agent_zero.wiring import agent_model_config, agent_resources, sandbox_broker

LOOPBACK = "127.0.0.1"
DEFAULT_API_PORT = 8470


def agent_keys(moto: MotoHost, agents: dict[str, str]) -> Callable[[str], AgentKey | None]:
    """Look up an agent's signing key in the sandbox's IAM (what API Gateway does on AWS)."""

    def lookup(access_key_id: str) -> AgentKey | None:
        key = moto.access_key(access_key_id)
        if key is None or not key.active or key.user_name not in agents:
            return None
        return AgentKey(secret_access_key=key.secret_access_key, principal_id=agents[key.user_name])

    return lookup


def recorded_agent_key(record: SandboxRecord, agent_id: str) -> Callable[[str], AgentKey | None]:
    """The agent's key as sandbox.json records it (for a broker outside the sandbox process)."""
    key = record.agent_credentials

    def lookup(access_key_id: str) -> AgentKey | None:
        if not hmac.compare_digest(access_key_id, key.access_key_id):
            return None
        return AgentKey(secret_access_key=key.secret_access_key, principal_id=agent_id)

    return lookup


@dataclass
class BrokerApi:
    """The broker API served from a background thread."""

    server: uvicorn.Server
    listener: socket.socket
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.listener.getsockname()[1])

    @property
    def url(self) -> str:
        """Where clients reach it."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Serve, and wait until the socket accepts connections."""
        # uvicorn gets the socket bound here: a busy port is refused before any thread runs.
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.listener]},
            name="broker-api",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise UnavailableError(f"the broker API did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Finish requests in flight and stop."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.listener.close()


def _bind(port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it small responses wait ~40 ms for a
    # delayed ACK (uvicorn sets it only on sockets it creates itself).
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        listener.bind((LOOPBACK, port))
    except OSError:
        listener.close()
        raise UnavailableError(
            f"port {port} on {LOOPBACK} is already in use; choose another with --api-port"
        ) from None
    return listener


def agent_runtime(
    *, settings: Settings, record: SandboxRecord, bank: DemoBank, broker: Broker
) -> AgentRuntime:
    """The support agent in the sandbox: the configured model, the broker in-process."""
    config = agent_model_config(settings)
    open_model = None if config is None else model_opener(config)
    catalog = broker.catalogs.catalog()
    resources = agent_resources(catalog)
    data = MintedDynamoDBFactory(region=record.region, endpoint_url=record.aws_endpoint_url)

    directory = MintedCognitoFactory(
        region=record.region,
        user_pool_id=record.cognito.user_pool_id,
        endpoint_url=record.aws_endpoint_url,
    )

    def deps_for(username: str, _token: str) -> TurnDeps:
        user = broker.directory.get(username)
        is_admin = user is not None and user.enabled and APPROVER_GROUP in user.groups
        return TurnDeps(
            user_id=username,
            broker=InProcessBroker(broker, agent_id=bank.agent.id, user_id=username),
            data=data,
            resources=resources,
            owner_key=user.attribute("customer_key") if user else None,
            admin=InProcessAdminDesk(broker, admin_id=username, agent_id=bank.agent.id)
            if is_admin
            else None,
            directory=directory if is_admin else None,
        )

    limits = TurnLimits(seconds=settings.agent_timeout_seconds)
    return AgentRuntime(open_model=open_model, deps_for=deps_for, limits=limits)


WEB_SESSION_KEY_FILE = "web-session.key"


def web_options(
    settings: Settings,
    record: SandboxRecord,
    tokens: CognitoTokenVerifier,
    sessions: SessionCodec,
    *,
    revoked: RevokedSessions,
    limiter: RateLimiter,
) -> WebOptions:
    """The web app in the sandbox: sign-in against the sandbox's user pool, plain-HTTP
    loopback (so cookies cannot be Secure), and the demo logins shown on the login page."""
    public = boto3.client(
        "cognito-idp",
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        config=Config(signature_version=UNSIGNED),  # as a browser would: no AWS identity
    )
    return WebOptions(
        sign_in=CognitoPasswordSignIn(public, client_id=record.cognito.client_id),
        tokens=tokens,
        sessions=sessions,
        secure_cookies=settings.web_secure_cookies,
        model_configured=settings.llm_provider != "none",
        region=record.region,
        aws_endpoint_url=record.aws_endpoint_url,
        revoked=revoked,
        limiter=limiter,
        demo_logins=tuple((u.username, u.password, u.role) for u in record.users),
    )


def start_broker_api(
    *,
    settings: Settings,
    record: SandboxRecord,
    bank: DemoBank,
    port: int,
    moto: MotoHost | None = None,
    broker: Broker | None = None,
    limiter: RateLimiter | None = None,
) -> BrokerApi:
    """Build the broker against the sandbox (unless given one) and serve its API."""
    clock = SystemClock()
    broker = broker or sandbox_broker(settings)
    token_verifier = CognitoTokenVerifier(
        issuer=record.cognito.issuer,
        client_id=record.cognito.client_id,
        jwks=HttpJwksSource(record.cognito.jwks_url),
        clock=clock.now,
    )
    revoked = InMemoryRevokedSessions()  # one process serves the sandbox
    authenticator = RequestAuthenticator(
        # A token whose web session was signed out is refused here too, as on AWS.
        tokens=SignedOutTokens(token_verifier, revoked),
        signatures=SigV4Authenticator(
            secret_for=(
                agent_keys(moto, {bank.agent.iam_user_name: bank.agent.id})
                if moto is not None
                else recorded_agent_key(record, bank.agent.id)
            ),
            clock=clock.now,
            region=record.region,
        ),
    )
    # Bound first: the app must know its own address to refuse every other host name.
    listener = _bind(port)
    bound = listener.getsockname()[1]
    limiter = limiter or RateLimiter()
    app = create_app(
        broker,
        authenticator,
        limiter=limiter,
        allowed_hosts=frozenset({f"{LOOPBACK}:{bound}", f"localhost:{bound}"}),
    )
    sessions = SessionCodec(load_or_create_key(settings.data_dir / WEB_SESSION_KEY_FILE))

    def may_chat(username: str) -> bool:
        person = broker.directory.get(username)
        return person is not None and person.enabled and person.kind is PrincipalKind.HUMAN

    add_agent_socket(
        app,
        tokens=token_verifier,
        runtime=agent_runtime(settings=settings, record=record, bank=bank, broker=broker),
        sessions=sessions,
        revoked=revoked,
        may_chat=may_chat,
        limiter=limiter,
    )
    options = web_options(
        settings, record, token_verifier, sessions, revoked=revoked, limiter=limiter
    )
    add_pages(app, broker, options)
    config = uvicorn.Config(
        app, host=LOOPBACK, port=listener.getsockname()[1], log_level="warning", access_log=False
    )
    api = BrokerApi(uvicorn.Server(config), listener)
    api.start()
    return api
