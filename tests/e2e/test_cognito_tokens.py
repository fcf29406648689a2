"""Real Cognito tokens from the seeded sandbox, verified as the broker's HTTP API verifies them.

The sandbox's moto signs the tokens and serves the pool's JWKS over the gateway;
``CognitoTokenVerifier`` fetches that JWKS with ``HttpJwksSource`` and checks what
moto really put in the tokens against ``sandbox.json``. The JWKS fetcher's caching,
rate limit and failures are checked against a small HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from joserfc import jwt
from joserfc.jwk import RSAKey

from agent_zero.domain.errors import AuthenticationError, UnavailableError
from agent_zero.sandbox.demo_bank import DemoBank, demo_bank
from agent_zero.sandbox.record import SandboxRecord
from agent_zero.sandbox.seed import Endpoint, seed_demo_bank
from agent_zero.sandbox.sigv4 import HttpRequest
from agent_zero.web.auth import (
    AgentKey,
    CognitoTokenVerifier,
    HttpJwksSource,
    RequestAuthenticator,
    SigV4Authenticator,
    VerifiedIdentity,
)
from e2e.conftest import RunningSandbox, start_sandbox

MOTO_TOKEN_LIFETIME = timedelta(seconds=3600)


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningSandbox, SandboxRecord, DemoBank]]:
    running = start_sandbox(tmp_path_factory.mktemp("tokens") / "sandbox")
    bank = demo_bank()
    root = running.sandbox.root
    endpoint = Endpoint(running.endpoint, bank.region, root.access_key_id, root.secret_access_key)
    record = seed_demo_bank(endpoint, bank, previous=None, progress=lambda _message: None)
    try:
        yield running, record, bank
    finally:
        running.sandbox.stop()


@pytest.fixture(scope="module")
def record(seeded: tuple[RunningSandbox, SandboxRecord, DemoBank]) -> SandboxRecord:
    return seeded[1]


def sign_in(
    record: SandboxRecord, username: str, *, client_id: str | None = None
) -> dict[str, Any]:
    """Tokens for a demo user, as the web app's unsigned public client gets them."""
    public = boto3.client(
        "cognito-idp",
        endpoint_url=record.aws_endpoint_url,
        region_name=record.region,
        config=Config(signature_version=UNSIGNED),
    )
    answer = public.initiate_auth(
        ClientId=client_id or record.cognito.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": record.user(username).password},
    )
    return dict(answer["AuthenticationResult"])


def verifier_for(record: SandboxRecord, *, offset: timedelta = timedelta()) -> CognitoTokenVerifier:
    return CognitoTokenVerifier(
        issuer=record.cognito.issuer,
        client_id=record.cognito.client_id,
        jwks=HttpJwksSource(record.cognito.jwks_url),
        clock=lambda: datetime.now(UTC) + offset,
    )


def unverified_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(decoded, dict)
    return decoded


def refused(verifier: CognitoTokenVerifier, token: str) -> str:
    with pytest.raises(AuthenticationError) as caught:
        verifier.verify(token)
    assert token not in caught.value.message
    return caught.value.message


# --- what moto issues, verified ------------------------------------------------------------------


def test_a_real_access_token_verifies(record: SandboxRecord) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    tokens = sign_in(record, "alice.moreau")
    verified = verifier_for(record).verify(tokens["AccessToken"])
    assert verified.username == "alice.moreau"
    assert verified.groups == frozenset(record.user("alice.moreau").groups)
    assert before + MOTO_TOKEN_LIFETIME <= verified.expires_at
    assert verified.expires_at <= datetime.now(UTC) + MOTO_TOKEN_LIFETIME


def test_moto_issues_the_issuer_that_sandbox_json_records(record: SandboxRecord) -> None:
    claims = unverified_claims(sign_in(record, "priya.raman")["AccessToken"])
    assert claims["iss"] == record.cognito.issuer
    assert record.cognito.issuer == (
        f"https://cognito-idp.{record.region}.amazonaws.com/{record.cognito.user_pool_id}"
    )
    # The claims the verifier relies on, as moto 5.2 writes them.
    assert claims["token_use"] == "access"
    assert claims["client_id"] == record.cognito.client_id
    assert claims["username"] == "priya.raman"
    assert sorted(claims["cognito:groups"]) == sorted(record.user("priya.raman").groups)
    assert claims["exp"] - claims["iat"] == MOTO_TOKEN_LIFETIME.total_seconds()
    assert "aud" not in claims


def test_the_id_token_is_refused(record: SandboxRecord) -> None:
    tokens = sign_in(record, "alice.moreau")
    assert unverified_claims(tokens["IdToken"])["token_use"] == "id"
    assert "not an access token" in refused(verifier_for(record), tokens["IdToken"])


def test_a_token_past_its_expiry_is_refused(record: SandboxRecord) -> None:
    token = sign_in(record, "ben.okafor")["AccessToken"]
    assert verifier_for(record, offset=MOTO_TOKEN_LIFETIME - timedelta(minutes=1)).verify(token)
    late = verifier_for(record, offset=MOTO_TOKEN_LIFETIME + timedelta(seconds=31))
    assert "expired" in refused(late, token)


def test_a_tampered_real_token_is_refused(record: SandboxRecord) -> None:
    token = sign_in(record, "alice.moreau")["AccessToken"]
    head, _body, signature = token.split(".")
    claims = unverified_claims(token) | {"username": "priya.raman"}
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert "signature" in refused(verifier_for(record), f"{head}.{forged_body}.{signature}")


def test_a_token_for_another_client_of_the_same_pool_is_refused(
    seeded: tuple[RunningSandbox, SandboxRecord, DemoBank], record: SandboxRecord
) -> None:
    running = seeded[0]
    other = running.client("cognito-idp").create_user_pool_client(
        UserPoolId=record.cognito.user_pool_id,
        ClientName="not-the-broker",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    token = sign_in(record, "alice.moreau", client_id=other)["AccessToken"]
    assert "another client" in refused(verifier_for(record), token)


def test_the_sandbox_agent_acts_for_a_signed_in_user(
    seeded: tuple[RunningSandbox, SandboxRecord, DemoBank], record: SandboxRecord
) -> None:
    bank = seeded[2]
    agent_key = record.agent_credentials
    keys = {agent_key.access_key_id: AgentKey(agent_key.secret_access_key, bank.agent.id)}
    authenticator = RequestAuthenticator(
        tokens=verifier_for(record),
        signatures=SigV4Authenticator(
            secret_for=keys.get, clock=lambda: datetime.now(UTC), region=record.region
        ),
    )
    user_token = sign_in(record, "alice.moreau")["AccessToken"]
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8000/v1/access-requests",
        headers={"Content-Type": "application/json", "X-Agent-Zero-On-Behalf-Of": user_token},
        data=b'{"reason": "the customer asks why a payment failed"}',
    )
    credentials = Credentials(agent_key.access_key_id, agent_key.secret_access_key)
    SigV4Auth(credentials, "execute-api", record.region).add_auth(request)
    prepared = request.prepare()
    headers = {name: str(value) for name, value in prepared.headers.items()}
    headers["Host"] = urlsplit(prepared.url).netloc
    body = prepared.body if isinstance(prepared.body, bytes) else b""
    raw = HttpRequest("POST", "/v1/access-requests", "", headers, body)
    assert authenticator.authenticate(raw) == VerifiedIdentity(
        "alice.moreau",
        "sigv4",
        acting_agent_id=bank.agent.id,
        groups=frozenset(record.user("alice.moreau").groups),
    )


# --- HttpJwksSource against a small JWKS server ---------------------------------------------------


@dataclass
class JwksServer:
    """An HTTP server on 127.0.0.1 that answers every GET with ``status`` and ``body``."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hits: int = 0
    url: str = ""

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        self.hits += 1
        time.sleep(self.delay)
        handler.send_response(self.status)
        for name, value in self.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        handler.wfile.write(self.body)


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer(body=json.dumps({"keys": []}).encode())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with contextlib.suppress(OSError):  # the client gave up (the timeout test)
                state.answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/pool/.well-known/jwks.json"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Monotonic:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_the_jwks_is_fetched_once_and_refreshed_at_most_once_a_minute(
    jwks_server: JwksServer,
) -> None:
    clock = Monotonic()
    source = HttpJwksSource(jwks_server.url, monotonic=clock)
    assert source.keys() == {"keys": []}
    source.keys()
    source.keys(refresh=True)
    assert jwks_server.hits == 1
    clock.now += 59
    source.keys(refresh=True)
    assert jwks_server.hits == 1
    clock.now += 1
    source.keys(refresh=True)
    assert jwks_server.hits == 2


def test_unknown_kids_cost_one_fetch_a_minute(jwks_server: JwksServer) -> None:
    signing_key = RSAKey.generate_key(2048, parameters={"kid": "rotated-in"})
    now = datetime.now(UTC)
    token = jwt.encode(
        {"alg": "RS256", "kid": "rotated-in"},
        {
            "iss": "https://issuer.example",
            "client_id": "client",
            "token_use": "access",
            "username": "alice",
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + 600,
        },
        signing_key,
    )
    clock = Monotonic()
    verifier = CognitoTokenVerifier(
        issuer="https://issuer.example",
        client_id="client",
        jwks=HttpJwksSource(jwks_server.url, monotonic=clock),
        clock=lambda: now,
    )
    for _ in range(5):
        assert "unknown key" in refused(verifier, token)
    assert jwks_server.hits == 1  # a refresh right after the first fetch would learn nothing
    jwks_server.body = json.dumps({"keys": [signing_key.as_dict(private=False)]}).encode()
    clock.now += 30
    assert "unknown key" in refused(verifier, token)
    assert jwks_server.hits == 1
    clock.now += 30
    assert verifier.verify(token).username == "alice"
    assert verifier.verify(token).username == "alice"
    assert jwks_server.hits == 2


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (500, b"oops", {}),
        (404, b"", {}),
        (302, b"", {"Location": "http://127.0.0.1:1/elsewhere.json"}),
        (200, b"<html>not json</html>", {}),
        (200, b'{"keys": {}}', {}),
        (200, b"[]", {}),
        (200, b"NaN", {}),
    ],
)
def test_a_jwks_that_cannot_be_had_is_unavailable(
    jwks_server: JwksServer, status: int, body: bytes, headers: dict[str, str]
) -> None:
    jwks_server.status, jwks_server.body, jwks_server.headers = status, body, headers
    with pytest.raises(UnavailableError, match="JWKS"):
        HttpJwksSource(jwks_server.url).keys()


def test_a_slow_jwks_times_out(jwks_server: JwksServer) -> None:
    jwks_server.delay = 1.0
    with pytest.raises(UnavailableError):
        HttpJwksSource(jwks_server.url, timeout_seconds=0.2).keys()


def test_a_closed_port_is_unavailable() -> None:
    with pytest.raises(UnavailableError):
        HttpJwksSource("http://127.0.0.1:1/jwks.json").keys()


def test_a_failed_refresh_keeps_the_rate_limit(jwks_server: JwksServer) -> None:
    clock = Monotonic()
    source = HttpJwksSource(jwks_server.url, monotonic=clock)
    source.keys()
    jwks_server.status = 503
    clock.now += 60
    with pytest.raises(UnavailableError):
        source.keys(refresh=True)
    assert source.keys(refresh=True) == {"keys": []}  # the cache, without asking again
    assert source.keys() == {"keys": []}
    assert jwks_server.hits == 2
