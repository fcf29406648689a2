"""A Python client for the broker: ask in plain words, get a ready boto3 Session.

    from agent_zero.client import BrokerClient

    broker = BrokerClient(api_url, bearer_token=access_token)
    session = broker.session("Check my balance before paying rent", region="us-east-1")
    session.client("dynamodb").query(...)

Agents sign with SigV4 (their own key, service ``execute-api``) instead of a
bearer token, and may act for a signed-in person with ``on_behalf_of``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from agent_zero.domain.errors import (
    AgentZeroError,
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnavailableError,
)

_ERRORS: dict[int, type[AgentZeroError]] = {
    400: InvalidInputError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidInputError,
    429: RateLimitedError,
    503: UnavailableError,
}


_SEGMENT = re.compile(r"[A-Za-z0-9@+_.:-]{1,128}")


def _segment(value: str) -> str:
    """One path segment from an id: ids can come from a model or a user, so an id like
    ``../access-requests/x`` or ``a?b=1`` must not reach another route."""
    if not _SEGMENT.fullmatch(value) or value in (".", ".."):
        raise InvalidInputError("not a valid id")
    return quote(value, safe="")


class AccessDeniedError(PermissionDeniedError):
    """The broker denied the request; ``reasons`` says why."""

    code = "access_denied"

    def __init__(self, message: str, *, request_id: str, reasons: list[str]) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.reasons = reasons


class PendingApprovalError(AgentZeroError):
    """A person must approve first; poll ``get(request_id)`` later."""

    code = "pending_approval"
    http_status = 202

    def __init__(self, message: str, *, request_id: str) -> None:
        super().__init__(message)
        self.request_id = request_id


@dataclass(frozen=True)
class SigV4Key:
    """The agent's AWS credentials, used only to sign calls to the broker.

    A long-term key in the sandbox; on AWS the agent function's role session, whose
    ``session_token`` API Gateway's IAM authorization verifies along with the signature.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str = "us-east-1"
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AccessAnswer:
    """The broker's answer; ``credentials`` only on the response that minted them."""

    request_id: str
    status: str
    body: dict[str, Any] = field(repr=False)

    @property
    def credentials(self) -> dict[str, str] | None:
        """access_key_id, secret_access_key, session_token, expiration."""
        found = self.body.get("credentials")
        return dict(found) if isinstance(found, dict) else None

    @property
    def console_url(self) -> str | None:
        """A one-time console sign-in link (a secret), when one was asked for and allowed."""
        found = self.body.get("console_url")
        return str(found) if found else None

    @property
    def reasons(self) -> list[str]:
        """Why, for denials and pending requests."""
        return list(self.body.get("reasons") or [])

    @property
    def expires_at(self) -> datetime | None:
        """When the credentials stop working."""
        value = self.body.get("expires_at")
        return datetime.fromisoformat(value) if value else None


class BrokerClient:
    """Calls the broker API with a bearer token or a SigV4 signature."""

    def __init__(
        self,
        base_url: str,
        *,
        bearer_token: str | None = None,
        sigv4: SigV4Key | None = None,
        on_behalf_of: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = 60.0,
    ) -> None:
        if (bearer_token is None) == (sigv4 is None):
            raise InvalidInputError("give exactly one of bearer_token and sigv4")
        if on_behalf_of is not None and sigv4 is None:
            raise InvalidInputError("only an agent signing with SigV4 acts on behalf of someone")
        self._base = base_url.rstrip("/")
        self._bearer = bearer_token
        self._sigv4 = sigv4
        self._on_behalf_of = on_behalf_of
        self._http = http or httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> BrokerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request_access(
        self, reason: str, *, idempotency_key: str | None = None, console: bool = False
    ) -> AccessAnswer:
        """POST /v1/access-requests; denials and pending requests are answers, not errors.

        With ``console``, staff get a one-time console sign-in link as ``console_url``.
        """
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = json.dumps({"reason": reason, "console": console}).encode()
        return self._answer(self._send("POST", "/v1/access-requests", body, headers))

    def get(self, request_id: str) -> AccessAnswer:
        """GET /v1/access-requests/{id}: the requester collects approved credentials once."""
        path = f"/v1/access-requests/{_segment(request_id)}"
        return self._answer(self._send("GET", path, b"", {}))

    def status(self, request_id: str) -> dict[str, Any]:
        """GET /v1/access-requests/{id}/status: where a request stands; collects nothing."""
        path = f"/v1/access-requests/{_segment(request_id)}/status"
        return self._json(self._send("GET", path, b"", {}))

    def revoke(self, request_id: str) -> AccessAnswer:
        """POST /v1/grants/{id}/revoke."""
        path = f"/v1/grants/{_segment(request_id)}/revoke"
        return self._answer(self._send("POST", path, b"", {}))

    def me(self) -> dict[str, Any]:
        """GET /v1/me: who the broker takes the caller to be."""
        return self._json(self._send("GET", "/v1/me", b"", {}))

    def list_requests(self, *, status: str | None = None) -> list[dict[str, Any]]:
        """GET /v1/access-requests: the caller's requests (admins: everyone's), newest first."""
        path = "/v1/access-requests" + (f"?status={_segment(status)}" if status else "")
        return list(self._json(self._send("GET", path, b"", {}))["requests"])

    def approve(
        self, request_id: str, *, grants: list[dict[str, Any]], duration_seconds: int
    ) -> dict[str, Any]:
        """POST /v1/access-requests/{id}/approve with the approver's choice of grants."""
        body = json.dumps({"grants": grants, "duration_seconds": duration_seconds}).encode()
        path = f"/v1/access-requests/{_segment(request_id)}/approve"
        return self._json(self._send("POST", path, body, {}))

    def deny(self, request_id: str, *, reason: str) -> dict[str, Any]:
        """POST /v1/access-requests/{id}/deny, saying why."""
        body = json.dumps({"reason": reason}).encode()
        path = f"/v1/access-requests/{_segment(request_id)}/deny"
        return self._json(self._send("POST", path, body, {}))

    def principals(self) -> list[dict[str, Any]]:
        """GET /v1/admin/principals."""
        return list(self._json(self._send("GET", "/v1/admin/principals", b"", {}))["principals"])

    def audit(
        self, *, request_id: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """GET /v1/admin/audit: a page of the audit log, oldest first."""
        query = f"?offset={int(offset)}&limit={int(limit)}"
        if request_id:
            query += f"&request_id={_segment(request_id)}"
        return list(self._json(self._send("GET", "/v1/admin/audit" + query, b"", {}))["records"])

    def verify_audit(self) -> dict[str, Any]:
        """GET /v1/admin/audit/verify: whether the hash chain holds."""
        return self._json(self._send("GET", "/v1/admin/audit/verify", b"", {}))

    def try_policy(self, principal_id: str, text: str, *, reason: str) -> dict[str, Any]:
        """POST /v1/admin/policies/{id}/try: the reviewer and rules on a draft, nothing saved."""
        body = json.dumps({"text": text, "reason": reason}).encode()
        path = f"/v1/admin/policies/{_segment(principal_id)}/try"
        return self._json(self._send("POST", path, body, {}))

    def policy_history(self, principal_id: str) -> dict[str, Any]:
        """GET /v1/admin/policies/{id}: ``current`` and ``history`` (admins)."""
        path = f"/v1/admin/policies/{_segment(principal_id)}"
        return self._json(self._send("GET", path, b"", {}))

    def write_policy(
        self, principal_id: str, text: str, *, expected_version: int
    ) -> dict[str, Any]:
        """PUT /v1/admin/policies/{id}: a new version on top of ``expected_version``."""
        body = json.dumps({"text": text, "expected_version": expected_version}).encode()
        path = f"/v1/admin/policies/{_segment(principal_id)}"
        return self._json(self._send("PUT", path, body, {}))

    def session(self, reason: str, *, region: str, endpoint_url: str | None = None) -> Any:
        """A boto3 Session on freshly minted credentials, or AccessDenied/PendingApproval."""
        answer = self.request_access(reason)
        return self.session_from(answer, region=region)

    @staticmethod
    def session_from(answer: AccessAnswer, *, region: str) -> Any:
        """Turn an approved answer into a boto3 Session."""
        import boto3

        if answer.status == "denied":
            raise AccessDeniedError(
                "the broker denied the request",
                request_id=answer.request_id,
                reasons=answer.reasons,
            )
        credentials = answer.credentials
        if credentials is None:
            raise PendingApprovalError(
                "the request waits for a person's approval", request_id=answer.request_id
            )
        return boto3.Session(
            aws_access_key_id=credentials["access_key_id"],
            aws_secret_access_key=credentials["secret_access_key"],
            aws_session_token=credentials["session_token"],
            region_name=region,
        )

    def _send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        url = self._base + path
        prepared = {"Content-Type": "application/json", **headers} if body else dict(headers)
        if self._bearer is not None:
            prepared["Authorization"] = f"Bearer {self._bearer}"
        else:
            prepared = self._signed(method, url, body, prepared)
        try:
            return self._http.request(method, url, content=body, headers=prepared)
        except httpx.HTTPError as error:
            raise UnavailableError(
                f"the broker could not be reached ({type(error).__name__})"
            ) from None

    def _signed(
        self, method: str, url: str, body: bytes, headers: dict[str, str]
    ) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        assert self._sigv4 is not None
        if self._on_behalf_of is not None:
            headers["X-Agent-Zero-On-Behalf-Of"] = self._on_behalf_of
        headers["Host"] = urlsplit(url).netloc
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        key = self._sigv4
        SigV4Auth(
            Credentials(key.access_key_id, key.secret_access_key, key.session_token),
            "execute-api",
            key.region,
        ).add_auth(request)
        return dict(request.headers.items())

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict):
            return body
        message = body.get("message") if isinstance(body, dict) else None
        if response.status_code == 403:
            raise PermissionDeniedError(message or "forbidden")
        error = _ERRORS.get(response.status_code, AgentZeroError)
        raise error(message or f"the broker answered HTTP {response.status_code}")

    @staticmethod
    def _answer(response: httpx.Response) -> AccessAnswer:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code in (200, 202, 403) and "request_id" in body:
            return AccessAnswer(body["request_id"], body.get("status", ""), body)
        error = _ERRORS.get(response.status_code, AgentZeroError)
        message = body.get("message") if isinstance(body, dict) else None
        if response.status_code == 403:
            raise PermissionDeniedError(message or "forbidden")
        raise error(message or f"the broker answered HTTP {response.status_code}")
