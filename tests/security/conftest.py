"""The attacker suite's world: one seeded sandbox, broker API and scripted model per worker.

The stack is the one ``e2e.test_broker_api`` builds (sandbox behind the IAM gateway,
Cognito, the broker API, the scripted OpenAI-compatible reviewer model), but session-
scoped: every module of this suite shares it, so each xdist worker starts one, not one
per module. Cases leave it as they found it: the model's script is reset per test, users
and pools they create have names of their own, and a moved gateway clock is put back.

The summary table and the over-grant check live in ``security.ledger`` (a plugin that
``tests/conftest.py`` loads, so that the xdist controller runs it too).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from agent_zero.web.api import RateLimiter
from e2e.test_broker_api import Stack, running_stack
from security.ledger import Ledger
from security.probe import Prober
from security.signing import sigv4_headers
from security.verdicts import Expected, Verdict, Who, settle
from support.model_server import Reply

ACCESS_REQUESTS = "/v1/access-requests"
LEGIT_REASON = "Which card payments did I make this month?"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """What ``e2e.test_broker_api.stack`` builds, once per worker."""
    # Hundreds of requests per principal; the limiter has its own tests.
    limiter = RateLimiter(per_minute=100_000, burst=10_000)
    with running_stack(tmp_path_factory.mktemp("security") / "data", limiter=limiter) as built:
        yield built


def raw_headers(headers: Mapping[str, str | bytes]) -> dict[bytes, bytes]:
    """Headers as bytes, so a test can send a value no client would encode (latin-1 as is)."""
    return {
        name.encode(): value if isinstance(value, bytes) else value.encode("latin-1")
        for name, value in headers.items()
    }


@dataclass
class World:
    """The stack and what every case needs from it: HTTP, tokens, the prober, the ledger."""

    stack: Stack
    http: httpx.Client
    prober: Prober
    ledger: Ledger
    _tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def api(self) -> str:
        """The broker API's base URL."""
        return self.stack.api.url

    def tokens(self, username: str, *, client_id: str | None = None) -> dict[str, str]:
        """AccessToken, IdToken and RefreshToken of a demo user (cached per client)."""
        cache = f"{username}/{client_id}"
        if cache not in self._tokens:
            public = boto3.client(
                "cognito-idp",
                endpoint_url=self.stack.record.aws_endpoint_url,
                region_name=self.stack.record.region,
                config=Config(signature_version=UNSIGNED),
            )
            try:
                answer = public.initiate_auth(
                    ClientId=client_id or self.stack.record.cognito.client_id,
                    AuthFlow="USER_PASSWORD_AUTH",
                    AuthParameters={
                        "USERNAME": username,
                        "PASSWORD": self.stack.record.user(username).password,
                    },
                )
            finally:
                public.close()
            self._tokens[cache] = dict(answer["AuthenticationResult"])
        return self._tokens[cache]

    def token(self, username: str) -> str:
        """The user's access token."""
        return self.tokens(username)["AccessToken"]

    def bearer(self, username: str) -> dict[str, str]:
        """Authorization header with the user's access token."""
        return {"Authorization": f"Bearer {self.token(username)}"}

    def script(self, *replies: Reply) -> None:
        """The reviewer model answers these, in order, and nothing else."""
        self.stack.model.reset()
        self.stack.model.enqueue(*replies)

    def request_access(
        self, headers: Mapping[str, str | bytes], reason: str = LEGIT_REASON, **body: Any
    ) -> httpx.Response:
        """POST /v1/access-requests with a JSON body of ``reason`` and ``body``."""
        content = json.dumps({"reason": reason, **body}).encode()
        return self.http.post(
            self.api + ACCESS_REQUESTS,
            content=content,
            headers=raw_headers({"Content-Type": "application/json", **headers}),
        )

    def agent_headers(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        on_behalf_of: str | None,
        **signing: Any,
    ) -> dict[str, str]:
        """The support agent's SigV4 headers (execute-api), forwarding ``on_behalf_of``."""
        key = self.stack.record.agent_credentials
        headers = {"Content-Type": "application/json"} if body else {}
        if on_behalf_of is not None:
            headers["X-Agent-Zero-On-Behalf-Of"] = on_behalf_of
        headers.update(signing.pop("headers", {}))
        options: dict[str, Any] = {
            "key_id": key.access_key_id,
            "secret": key.secret_access_key,
            "region": self.stack.record.region,
            "service": "execute-api",
            **signing,
        }
        return sigv4_headers(method, self.api + path, body=body, headers=headers, **options)

    def settle(
        self, category: str, case: str, response: httpx.Response, expected: Expected, who: Who
    ) -> Verdict:
        """Probe, record and compare one case (see ``security.verdicts.settle``)."""
        return settle(
            ledger=self.ledger,
            prober=self.prober,
            category=category,
            case=case,
            response=response,
            expected=expected,
            who=who,
        )


@pytest.fixture(scope="session")
def shared_world(stack: Stack, ledger: Ledger) -> Iterator[World]:
    with httpx.Client(timeout=30) as http:
        yield World(stack, http, Prober(stack.record), ledger)


@pytest.fixture
def world(shared_world: World) -> World:
    """The shared world with an empty model script."""
    shared_world.stack.model.reset()
    return shared_world
