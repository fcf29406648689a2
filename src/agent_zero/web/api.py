"""The broker's HTTP API (FastAPI): access requests, approvals, revocation.

Identity comes from the authenticator (a verified Cognito token or SigV4
signature), never from the body; a body that names resources, actions, a user
or a staff flag is refused by its schema. Errors are ``{"error", "message"}``
with stable codes; nothing a client sees carries a stack trace or a secret.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_zero.broker.access import AccessCommand, AccessResult, Broker, request_access
from agent_zero.broker.administration import (
    audit_page,
    policy_history,
    put_principal,
    require_admin,
    verify_audit,
    write_policy,
)
from agent_zero.broker.approvals import (
    APPROVER_GROUP,
    approve_request,
    collect_credentials,
    deny_request,
    revoke_request,
)
from agent_zero.broker.trial import try_policy
from agent_zero.domain.catalog import Catalog
from agent_zero.domain.errors import (
    AgentZeroError,
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from agent_zero.domain.outcomes import OutcomeStatus
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.proposals import Grant
from agent_zero.domain.requests import MAX_REASON_CHARS, RequestRecord, RequestState
from agent_zero.logs import DECISION_EVENT
from agent_zero.sandbox.sigv4 import HttpRequest

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
NOT_JSON = "the request body is not valid JSON"
_FRAMEWORK_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# PrincipalId's pattern (domain.principals), ASCII only: \w and str.isalnum take any script.
_PRINCIPAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}", re.ASCII)


class CallerIdentity(Protocol):
    """A verified caller: the principal it acts as, and the agent acting for it, if any."""

    @property
    def principal_id(self) -> str: ...

    @property
    def acting_agent_id(self) -> str | None: ...

    @property
    def method(self) -> str: ...


class Authenticator(Protocol):
    """Verifies a request's bearer token or signature (raises AuthenticationError)."""

    def authenticate(self, request: HttpRequest) -> CallerIdentity:
        """The verified identity behind ``request``."""
        ...


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccessRequestBody(_Body):
    """All a caller may say: why, and whether a console link is wanted."""

    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS)]
    console: bool = False


class GrantBody(_Body):
    """One grant, the same shape everywhere grants appear."""

    resource_key: Annotated[str, Field(min_length=1, max_length=128)]
    actions: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]], Field(min_length=1)
    ]


class ApproveBody(_Body):
    """An approver's choice."""

    grants: Annotated[list[GrantBody], Field(min_length=1, max_length=20)]
    duration_seconds: int


class DenyBody(_Body):
    """Why an approver says no."""

    reason: Annotated[str, Field(min_length=1, max_length=2_000)]


class TrialBody(_Body):
    """A draft policy and a sample reason to run it on."""

    text: Annotated[str, Field(min_length=1, max_length=8_000)]
    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS)]


class PolicyBody(_Body):
    """A new policy version; ``expected_version`` is the version it replaces (0 for none)."""

    text: Annotated[str, Field(min_length=1, max_length=8_000)]
    expected_version: Annotated[int, Field(ge=0)]


class PrincipalBody(_Body):
    """A principal as an admin writes it (identity comes from the path)."""

    kind: PrincipalKind
    display_name: Annotated[str, Field(min_length=1, max_length=200)]
    groups: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True


class RateLimiter:
    """A token bucket per principal: ``rate`` requests per minute, bursts up to ``burst``."""

    def __init__(self, *, per_minute: int = 30, burst: int = 10) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, principal_id: str) -> None:
        """Spend one token, or raise RateLimitedError."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(principal_id, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens < 1:
                raise RateLimitedError("too many requests; wait a little and try again")
            self._buckets[principal_id] = (tokens - 1, now)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def record_view(record: RequestRecord) -> dict[str, Any]:
    """A request as its requester or an approver may see it (never credentials)."""
    outcome = record.outcome
    return {
        "request_id": record.request_id,
        "status": record.state.value,
        "principal_id": record.request.principal_id,
        "acting_agent_id": record.request.acting_agent_id,
        "reason": record.request.reason,
        "received_at": _iso(record.request.received_at),
        "grants": [g.model_dump() for g in outcome.grants] if outcome else [],
        "duration_seconds": outcome.duration_seconds if outcome else None,
        "expires_at": _iso(outcome.expires_at) if outcome else None,
        "reasons": list(outcome.reasons) if outcome else [],
        "violations": [v.model_dump(mode="json") for v in outcome.violations] if outcome else [],
        "policy_version": record.policy_version,
        "decided_by": record.decided_by,
        "revoked_at": _iso(record.revoked_at),
    }


def _log_decision(result: AccessResult) -> None:
    # Ids and the outcome only: never the reason, a grant's rationale or credentials.
    record = result.record
    logger.info(
        "access decision",
        extra={
            "event": DECISION_EVENT,
            "outcome": record.state.value,
            "request_id": record.request_id,
            "principal_id": record.request.principal_id,
            "acting_agent_id": record.request.acting_agent_id,
            "minted": result.credentials is not None,
        },
    )


def result_response(result: AccessResult, catalog: Catalog | None = None) -> JSONResponse:
    """200 with credentials, 202 pending, 403 denied, as the API promises.

    With credentials come the granted resources' ARNs and partition keys (already in the
    session policy), so a client can address exactly what it was given.
    """
    body = record_view(result.record)
    status = result.outcome.status if result.outcome else None
    if result.credentials is not None and catalog is not None and result.outcome is not None:
        body["resources"] = _granted_resources(result.outcome.grants, catalog)
    if result.credentials is not None:
        credentials = result.credentials
        body["credentials"] = {
            "access_key_id": credentials.access_key_id,
            "secret_access_key": credentials.secret_access_key.get_secret_value(),
            "session_token": credentials.session_token.get_secret_value(),
            "expiration": credentials.expiration.isoformat(),
        }
        body["session_policy"] = result.session_policy
        if result.console_url:
            body["console_url"] = result.console_url
    if status is OutcomeStatus.DENIED:
        return JSONResponse(body, status_code=403, headers={"Cache-Control": "no-store"})
    if status is OutcomeStatus.PENDING or result.record.state is RequestState.RECEIVED:
        return JSONResponse(body, status_code=202, headers={"Cache-Control": "no-store"})
    return JSONResponse(body, status_code=200, headers={"Cache-Control": "no-store"})


def _granted_resources(grants: Sequence[Grant], catalog: Catalog) -> list[dict[str, Any]]:
    found = []
    for grant in grants:
        entry = catalog.get(grant.resource_key)
        if entry is None or not entry.is_aws:
            continue
        found.append(
            {
                "resource_key": entry.key,
                "arn": entry.arn,
                "partition_key": entry.row_scope.partition_key if entry.row_scope else None,
            }
        )
    return found


class BoundedBodies:
    """Refuses declared bodies over the limit before anything reads them (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = _error(413, "too_large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            await too_large(scope, receive, send)
            return
        # Read the body here, counting: a chunked body declares no length, and the app
        # must never buffer more than the limit. It is then replayed to the app once.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > MAX_BODY_BYTES:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class TrustedHosts:
    """Answers only requests addressed to one of this service's own names (pure ASGI).

    A page on another site can point its own hostname at 127.0.0.1 (DNS rebinding) and
    then talk to the sandbox as a same-origin page would: its requests carry its own
    name in ``Host``. Refusing unknown names closes that door, for HTTP and WebSockets.
    """

    def __init__(self, app: ASGIApp, *, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = frozenset(host.lower() for host in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").lower()
        if host in self.allowed:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _error(400, "unknown_host", "this service does not answer to that host name")(
            scope, receive, send
        )


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def create_app(
    broker: Broker,
    authenticator: Authenticator,
    *,
    limiter: RateLimiter | None = None,
    allowed_hosts: frozenset[str] | None = None,
) -> FastAPI:
    """The API over one broker; everything it needs comes in here."""
    # The OpenAPI document is served at /openapi.json; no Swagger UI, which would load
    # its script from a CDN onto this origin.
    app = FastAPI(title="Agent Zero broker API", version="1", docs_url=None, redoc_url=None)
    rate = limiter or RateLimiter()

    @app.exception_handler(AgentZeroError)
    async def agent_zero_error(_request: Request, error: AgentZeroError) -> JSONResponse:
        return _error(error.http_status, error.code, error.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_request: Request, error: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in error.errors()):
            return _error(400, "invalid_input", NOT_JSON)
        fields = sorted({".".join(str(p) for p in e["loc"][1:]) for e in error.errors()})
        return _error(400, "invalid_input", f"the request body is not accepted: {fields}")

    @app.exception_handler(StarletteHTTPException)
    async def refused_by_the_framework(
        _request: Request, error: StarletteHTTPException
    ) -> JSONResponse:
        # FastAPI's own refusals (a body it cannot decode, an unknown route or method) in
        # the API's shape, not {"detail": ...}.
        if error.status_code == 400:
            return _error(400, "invalid_input", NOT_JSON)
        code = _FRAMEWORK_CODES.get(error.status_code, "invalid_input")
        answer = _error(error.status_code, code, str(error.detail))
        answer.headers.update(error.headers or {})
        return answer

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, _error_value: Exception) -> JSONResponse:
        return _error(500, "internal_error", "the broker failed; nothing was issued")

    app.add_middleware(BoundedBodies)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHosts, allowed=allowed_hosts)  # outermost: checked first

    async def caller(request: Request) -> CallerIdentity:
        body = await request.body()
        headers: dict[str, str] = {}
        for raw_name, raw_value in request.headers.raw:
            name = raw_name.decode("latin-1").lower()
            if name in headers:
                # A second Authorization (or on-behalf-of) header must not go unseen.
                raise AuthenticationError(f"the {name} header may appear only once")
            headers[name] = raw_value.decode("latin-1")
        raw = HttpRequest(
            request.method,
            # Mangum (Lambda) leaves raw_path unset: the decoded path is what API Gateway saw.
            (request.scope.get("raw_path") or request.scope["path"].encode()).decode("latin-1")
            or "/",
            request.scope.get("query_string", b"").decode("latin-1"),
            headers,
            body,
        )
        try:
            identity = authenticator.authenticate(raw)
        except AuthenticationError:
            raise
        except AgentZeroError:
            raise
        except Exception:  # an authenticator bug must not let anyone in
            raise AuthenticationError("the request could not be authenticated") from None
        # A pool may hold user names (any Unicode, spaces) that no principal can have: such a
        # caller is nobody here, refused now rather than failing deep in a use case.
        if not _PRINCIPAL_ID.fullmatch(identity.principal_id):
            raise AuthenticationError("the verified user name cannot be a principal of the broker")
        return identity

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/me")
    async def me(request: Request) -> JSONResponse:
        identity = await caller(request)
        principal = broker.directory.get(identity.principal_id)
        if principal is None or not principal.enabled:
            raise NotFoundError("you are not in the broker's directory")
        return JSONResponse(
            {
                "principal_id": principal.id,
                "display_name": principal.display_name,
                "kind": principal.kind.value,
                "groups": sorted(principal.groups),
                "customer_key": principal.attribute("customer_key"),
                "acting_agent_id": identity.acting_agent_id,
                "verified_by": identity.method,
            }
        )

    @app.post("/v1/access-requests")
    async def create_request(request: Request, body: AccessRequestBody) -> JSONResponse:
        identity = await caller(request)
        rate.take(identity.principal_id)
        client_id = request.headers.get("idempotency-key")
        if client_id is not None and not IDEMPOTENCY_KEY.fullmatch(client_id):
            raise InvalidInputError("Idempotency-Key is 1-128 characters of A-Z a-z 0-9 . _ : -")
        command = AccessCommand(
            principal_id=identity.principal_id,
            reason=body.reason,
            acting_agent_id=identity.acting_agent_id,
            client_request_id=client_id,
            console=body.console,
            verified_by=identity.method,
        )
        result = await _in_thread(request_access, broker, command)
        _log_decision(result)
        return result_response(result, broker.catalogs.catalog())

    @app.get("/v1/access-requests/{request_id}")
    async def get_request(request: Request, request_id: str) -> JSONResponse:
        identity = await caller(request)
        record = broker.requests.get(request_id)
        if record is None:
            raise NotFoundError(f"there is no request {request_id}")
        if record.request.principal_id == identity.principal_id:
            # The requester collects credentials a person approved, once.
            result = await _in_thread(
                collect_credentials,
                broker,
                request_id,
                principal_id=identity.principal_id,
                acting_agent_id=identity.acting_agent_id,
            )
            return result_response(result, broker.catalogs.catalog())
        if identity.acting_agent_id is not None or not _is_admin(broker, identity.principal_id):
            # An agent acting for an admin does not get the admin's view of others' requests.
            raise NotFoundError(f"there is no request {request_id}")
        return JSONResponse(record_view(record))

    @app.get("/v1/access-requests/{request_id}/status")
    async def request_status(request: Request, request_id: str) -> JSONResponse:
        # Where a request stands, with no side effect (GET on the request itself collects
        # approved credentials): for the requester through the same channel, or an admin.
        identity = await caller(request)
        record = broker.requests.get(request_id)
        own = record is not None and (
            record.request.principal_id == identity.principal_id
            and record.request.acting_agent_id == identity.acting_agent_id
        )
        admin = identity.acting_agent_id is None and _is_admin(broker, identity.principal_id)
        if record is None or not (own or admin):
            raise NotFoundError(f"there is no request {request_id}")
        return JSONResponse(record_view(record), headers={"Cache-Control": "no-store"})

    @app.get("/v1/access-requests")
    async def list_requests(request: Request, status: str | None = None) -> JSONResponse:
        identity = await caller(request)
        try:
            state = RequestState(status) if status else None
        except ValueError:
            raise InvalidInputError(
                f"status must be one of {[s.value for s in RequestState]}"
            ) from None
        everyone = _is_admin(broker, identity.principal_id)
        records = broker.requests.list(
            state=state, principal_id=None if everyone else identity.principal_id
        )
        return JSONResponse({"requests": [record_view(r) for r in records[:200]]})

    @app.post("/v1/access-requests/{request_id}/approve")
    async def approve(request: Request, request_id: str, body: ApproveBody) -> JSONResponse:
        identity = await caller(request)
        grants = tuple(
            Grant(resource_key=g.resource_key, actions=tuple(g.actions)) for g in body.grants
        )
        record = await _in_thread(
            approve_request,
            broker,
            request_id,
            approver_id=_person(identity),
            grants=grants,
            duration_seconds=body.duration_seconds,
        )
        return JSONResponse(record_view(record))

    @app.post("/v1/access-requests/{request_id}/deny")
    async def deny(request: Request, request_id: str, body: DenyBody) -> JSONResponse:
        identity = await caller(request)
        record = await _in_thread(
            deny_request, broker, request_id, approver_id=_person(identity), reason=body.reason
        )
        return JSONResponse(record_view(record))

    @app.post("/v1/grants/{request_id}/revoke")
    async def revoke(request: Request, request_id: str) -> JSONResponse:
        identity = await caller(request)
        if identity.acting_agent_id is not None:
            # An agent acting for an admin does not get the admin's power over others' grants.
            held = broker.requests.get(request_id)
            if held is None or held.request.principal_id != identity.principal_id:
                raise NotFoundError(f"there is no request {request_id}")
        record = await _in_thread(revoke_request, broker, request_id, by=identity.principal_id)
        return JSONResponse(record_view(record))

    @app.get("/v1/admin/principals")
    async def list_principals(request: Request) -> JSONResponse:
        identity = await caller(request)
        require_admin(broker, _person(identity))
        principals = broker.directory.list()
        return JSONResponse({"principals": [p.model_dump(mode="json") for p in principals]})

    @app.put("/v1/admin/principals/{principal_id}")
    async def change_principal(
        request: Request, principal_id: str, body: PrincipalBody
    ) -> JSONResponse:
        identity = await caller(request)
        try:
            principal = Principal(id=principal_id, **body.model_dump())
        except ValueError as error:
            raise InvalidInputError(f"the principal is not valid: {error}") from None
        written = await _in_thread(
            put_principal, broker, actor_id=_person(identity), principal=principal
        )
        return JSONResponse(written.model_dump(mode="json"))

    @app.get("/v1/admin/policies/{principal_id}")
    async def read_policy(request: Request, principal_id: str) -> JSONResponse:
        identity = await caller(request)
        history = await _in_thread(
            policy_history,
            broker,
            actor_id=identity.principal_id,
            principal_id=principal_id,
            acting_agent_id=identity.acting_agent_id,
        )
        return JSONResponse(
            {
                "principal_id": principal_id,
                "current": history[-1].model_dump(mode="json") if history else None,
                "history": [p.model_dump(mode="json") for p in history],
            }
        )

    @app.put("/v1/admin/policies/{principal_id}")
    async def change_policy(request: Request, principal_id: str, body: PolicyBody) -> JSONResponse:
        identity = await caller(request)
        # An agent may act for an admin here, but only under a grant it requested for them.
        policy = await _in_thread(
            write_policy,
            broker,
            actor_id=identity.principal_id,
            principal_id=principal_id,
            text=body.text,
            expected_version=body.expected_version,
            acting_agent_id=identity.acting_agent_id,
        )
        return JSONResponse(policy.model_dump(mode="json"))

    @app.post("/v1/admin/policies/{principal_id}/try")
    async def try_draft(request: Request, principal_id: str, body: TrialBody) -> JSONResponse:
        identity = await caller(request)
        actor = _person(identity)
        require_admin(broker, actor)
        rate.take(actor)  # each try costs a review
        trial = await _in_thread(
            try_policy,
            broker,
            actor_id=actor,
            principal_id=principal_id,
            policy_text=body.text,
            reason=body.reason,
        )
        proposal = trial.proposal
        return JSONResponse(
            {
                "outcome": trial.outcome,
                "explanation": trial.explanation,
                "grants": [g.model_dump() for g in proposal.grants] if proposal else [],
                "risk": proposal.risk.value if proposal else None,
                "duration_seconds": proposal.duration_seconds if proposal else None,
                "violations": list(trial.violations),
                "session_policy": trial.session_policy,
            }
        )

    @app.get("/v1/admin/catalog")
    async def read_catalog(request: Request) -> JSONResponse:
        identity = await caller(request)
        require_admin(broker, _person(identity))
        return JSONResponse(broker.catalogs.catalog().model_dump(mode="json"))

    @app.get("/v1/admin/audit")
    async def read_audit(
        request: Request, request_id: str | None = None, offset: int = 0, limit: int = 100
    ) -> JSONResponse:
        identity = await caller(request)
        page = audit_page(
            broker,
            actor_id=_person(identity),
            request_id=request_id,
            offset=offset,
            limit=limit,
        )
        return JSONResponse({"records": [r.model_dump(mode="json") for r in page]})

    @app.get("/v1/admin/audit/verify")
    async def check_audit(request: Request) -> JSONResponse:
        identity = await caller(request)
        problems = await _in_thread(verify_audit, broker, actor_id=_person(identity))
        return JSONResponse({"verified": not problems, "problems": problems})

    return app


def _person(identity: CallerIdentity) -> str:
    """The principal, when a person acts directly: decisions and administration are people's."""
    if identity.acting_agent_id is not None:
        raise PermissionDeniedError(
            "an agent acting for someone cannot approve, deny or administer; a person decides"
        )
    return identity.principal_id


def _is_admin(broker: Broker, principal_id: str) -> bool:
    principal = broker.directory.get(principal_id)
    return principal is not None and principal.enabled and APPROVER_GROUP in principal.groups


async def _in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    # The use cases are synchronous (stores, STS, the reviewer block); keep the loop free.
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args, **kwargs)
