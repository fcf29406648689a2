"""The web app: server-rendered pages over the same broker as the API.

Identity comes only from the sealed session cookie, whose Cognito access token is
verified on every request; the broker's directory then says who the person is and
which groups they are in. Every form carries the session's CSRF token, every POST
must come from this origin, and pages that show credentials are never cached.

Who sees what: customers chat, request access and see their grants; employees
too, and approvals when they are approvers (the admins group); admins see
everything. Anything else answers 403.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from agent_zero.broker.access import AccessCommand, AccessResult, Broker, request_access
from agent_zero.broker.administration import (
    POLICY_STORE,
    PRINCIPAL_DIRECTORY,
    WRITE_POLICY,
    WRITE_PRINCIPAL,
    active_grant,
    policy_history,
    put_principal,
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
from agent_zero.broker.explain import what_it_allows
from agent_zero.broker.session_policy import compile_session_policy
from agent_zero.broker.trial import try_policy
from agent_zero.domain.audit import AuditEvent
from agent_zero.domain.errors import (
    AgentZeroError,
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.proposals import Grant
from agent_zero.domain.requests import RequestRecord, RequestState
from agent_zero.web.api import RateLimiter
from agent_zero.web.charts import (
    OUTCOME_COLORS,
    RISK_COLORS,
    format_duration,
    horizontal_bars,
    stacked_bars,
)
from agent_zero.web.dashboard import dashboard_numbers, outcome_of
from agent_zero.web.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    RevokedSessions,
    SessionCodec,
    WebSession,
    new_token,
    same_token,
    token_session_id,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
CUSTOMERS = "customers"
EMPLOYEES = "employees"
PAGE_SIZE = 25
DURATIONS = (900, 1800, 3600)
LOGIN_COOKIE_SECONDS = 900
STATIC_DIR = Path(__file__).parent / "static"


def _security_headers(socket_url: str | None) -> dict[str, str]:
    """The pages' headers; the chat's WebSocket API's origin joins connect-src when set."""
    if socket_url is None:
        return SECURITY_HEADERS
    parts = urlsplit(socket_url)
    if parts.scheme != "wss" or not parts.netloc:
        raise ValueError("the agent socket URL must be wss://")
    policy = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "connect-src 'self'", f"connect-src 'self' wss://{parts.netloc}"
    )
    return {**SECURITY_HEADERS, "Content-Security-Policy": policy}


SECURITY_HEADERS = {
    # No inline script or style anywhere: an injected tag does nothing.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class PasswordSignIn(Protocol):
    """Username and password in, the user's Cognito access token out."""

    def sign_in(self, username: str, password: str) -> str:
        """The access token; AuthenticationError when the credentials are wrong."""
        ...


class TokenVerifier(Protocol):
    """Verifies an access token: an object with ``username`` and ``expires_at``."""

    def verify(self, token: str) -> Any:
        """The verified claims; raises AuthenticationError."""
        ...


@dataclass(frozen=True, slots=True)
class WebOptions:
    """What the pages need beyond the broker; built once in wiring."""

    sign_in: PasswordSignIn
    tokens: TokenVerifier
    sessions: SessionCodec
    secure_cookies: bool  # False only for the sandbox's plain-HTTP loopback
    model_configured: bool
    region: str
    aws_endpoint_url: str | None  # the sandbox's gateway; None on AWS
    revoked: RevokedSessions  # sessions signed out before their tokens expired
    limiter: RateLimiter  # shared with the API: the same budget per person
    demo_logins: tuple[tuple[str, str, str], ...] = ()  # (username, password, role): sandbox
    # AWS: the chat's WebSocket API (wss://...); None: this app's own /v1/agent/ws.
    agent_socket_url: str | None = None


@dataclass(frozen=True, slots=True)
class WebUser:
    """The signed-in person."""

    principal: Principal
    session: WebSession

    @property
    def id(self) -> str:
        """The principal's id (the Cognito username)."""
        return self.principal.id

    @property
    def is_admin(self) -> bool:
        """Admins see everything, approvals included."""
        return APPROVER_GROUP in self.principal.groups

    @property
    def is_approver(self) -> bool:
        """Approvers are the admins group."""
        return self.is_admin

    @property
    def is_staff(self) -> bool:
        """Employees (and admins) may ask for a console sign-in link."""
        return EMPLOYEES in self.principal.groups or self.is_admin


class _SignInRequiredError(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


class _ForbiddenError(Exception):
    pass


def add_pages(app: FastAPI, broker: Broker, options: WebOptions) -> None:
    """Mount the pages and their static files on the app."""
    templates = Environment(
        loader=PackageLoader("agent_zero.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters["when"] = _when
    templates.filters["duration"] = format_duration
    templates.globals["grant_until"] = _grant_until
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def render(
        request: Request,
        name: str,
        user: WebUser | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        context.setdefault("agent_socket_url", options.agent_socket_url)
        body = templates.get_template(name).render(
            user=user,
            path=request.url.path,
            csrf=user.session.csrf if user else context.pop("login_csrf", ""),
            model_configured=options.model_configured,
            **context,
        )
        return HTMLResponse(body, status_code=status, headers=page_headers)

    page_headers = _security_headers(options.agent_socket_url)

    def current_user(request: Request) -> WebUser | None:
        session = options.sessions.open(request.cookies.get(SESSION_COOKIE))
        if session is None or options.revoked.is_revoked(session.sid):
            return None
        try:
            verified = options.tokens.verify(session.access_token.get_secret_value())
        except AgentZeroError:
            return None
        if str(verified.username) != session.username:
            return None
        principal = broker.directory.get(session.username)
        if principal is None or not principal.enabled or principal.kind is not PrincipalKind.HUMAN:
            return None
        return WebUser(principal, session)

    def signed_in(request: Request) -> WebUser:
        user = current_user(request)
        if user is None:
            expired = "&expired=1" if request.cookies.get(SESSION_COOKIE) else ""
            raise _SignInRequiredError(f"/login?next={quote(request.url.path)}{expired}")
        return user

    async def posted(request: Request) -> tuple[WebUser, Mapping[str, str]]:
        """A signed-in user's form post from this origin with the session's CSRF token."""
        _require_same_origin(request)
        user = signed_in(request)
        form = await _form(request)
        if not same_token(user.session.csrf, form.get("csrf")):
            raise PermissionDeniedError("the form expired or came from elsewhere; reload the page")
        return user, form

    async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # The use cases block on stores and STS: keep them off the event loop.
        return await asyncio.to_thread(function, *args, **kwargs)

    def page(
        handler: Callable[..., Awaitable[Response]],
    ) -> Callable[..., Awaitable[Response]]:
        """Turns redirects, 403s and broker errors into pages."""

        async def run(request: Request, **kwargs: Any) -> Response:
            try:
                return await handler(request, **kwargs)
            except _SignInRequiredError as redirect:
                return RedirectResponse(redirect.location, status_code=303)
            except _ForbiddenError:
                return render(
                    request,
                    "error.html",
                    current_user(request),
                    403,
                    title="Not for you",
                    message="This page is not available to your account.",
                )
            except AgentZeroError as error:
                return render(
                    request,
                    "error.html",
                    current_user(request),
                    error.http_status,
                    title="That did not work",
                    message=error.message,
                )
            except Exception as error:  # a page, never a trace: details go to the log only
                logger.error("page %s failed: %s", request.url.path, type(error).__name__)
                return render(
                    request,
                    "error.html",
                    None,
                    500,
                    title="Something went wrong",
                    message="Try again in a moment; if it keeps failing, tell an administrator.",
                )

        run.__name__ = handler.__name__
        run.__signature__ = _signature_of(handler)  # type: ignore[attr-defined]
        return run

    # --- sign-in --------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        user = current_user(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse("/dashboard" if user.is_admin else "/chat", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/", expired: int = 0) -> Response:
        token = new_token()
        response = render(
            request,
            "login.html",
            None,
            login_csrf=token,
            next=_safe_next(next),
            expired=bool(expired),
            demo_logins=options.demo_logins,
            error=None,
        )
        _set_login_cookie(response, token, options.secure_cookies)
        return response

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        _require_same_origin(request)
        form = await _form(request)
        expected = request.cookies.get(LOGIN_COOKIE) or ""
        target = _safe_next(form.get("next", "/"))
        if not expected or not same_token(expected, form.get("csrf")):
            return _login_again(request, render, options, target, "The form expired; try again.")
        username = form.get("username", "").strip()
        password = form.get("password", "")
        try:
            options.limiter.take(f"login:{username.lower()}")  # slows password guessing
        except RateLimitedError as error:
            return _login_again(request, render, options, target, error.message, status=429)
        if not username or not password:
            return _login_again(
                request, render, options, target, "Enter your username and password."
            )
        try:
            token = await in_thread(options.sign_in.sign_in, username, password)
            verified = options.tokens.verify(token)
        except AuthenticationError as error:
            message = error.message[:1].upper() + error.message[1:] + "."
            return _login_again(request, render, options, target, message, status=401)
        except AgentZeroError:
            return _login_again(
                request, render, options, target, "Sign-in is unavailable right now.", status=503
            )
        session = WebSession.start(
            username=str(verified.username), access_token=token, expires_at=verified.expires_at
        )
        response = RedirectResponse(target if target != "/" else "/", status_code=303)
        max_age = max(0, int((verified.expires_at - datetime.now(UTC)).total_seconds()))
        response.set_cookie(
            SESSION_COOKIE,
            options.sessions.seal(session),
            max_age=max_age,
            httponly=True,
            secure=options.secure_cookies,
            samesite="strict",
            path="/",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @app.post("/logout")
    @page
    async def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        if current_user(request) is None:
            return response  # nothing to end; the stale cookie goes all the same
        user, _form_fields = await posted(request)
        # The cookie is the session: a copy kept elsewhere must stop working now too, and
        # so must its token, which the chat's script holds on AWS. The token goes first: if
        # the second write fails, the session still stands and signing out again finishes.
        token = user.session.access_token.get_secret_value()
        options.revoked.revoke(token_session_id(token), user.session.expires_at)
        options.revoked.revoke(user.session.sid, user.session.expires_at)
        return response

    # --- chat -----------------------------------------------------------------------

    @app.get("/chat", response_class=HTMLResponse)
    @page
    async def chat(request: Request) -> Response:
        user = signed_in(request)
        return render(request, "chat.html", user, title="Support chat")

    @app.post("/chat/socket-token")
    async def socket_token(request: Request) -> Response:
        # Only where the chat runs on another origin's WebSocket API (API Gateway), which
        # cannot read the cookie: the page's own script gets the token it offers there.
        if options.agent_socket_url is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        try:
            user, _ = await posted(request)
        except (_SignInRequiredError, AgentZeroError):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        token = user.session.access_token.get_secret_value()
        return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})

    # --- request access -------------------------------------------------------------

    @app.get("/access", response_class=HTMLResponse)
    @page
    async def access_form(request: Request) -> Response:
        user = signed_in(request)
        return render(request, "access.html", user, title="Request access", idempotency=new_token())

    @app.post("/access", response_class=HTMLResponse)
    @page
    async def access_submit(request: Request) -> Response:
        user, form = await posted(request)
        options.limiter.take(user.id)  # each request costs a review
        command = AccessCommand(
            principal_id=user.id,
            reason=form.get("reason", ""),
            console=user.is_staff and form.get("console") == "on",
            verified_by="cognito",
            client_request_id=_idempotency(form.get("idempotency")),
        )
        result = await in_thread(request_access, broker, command)
        return render_result(request, user, result)

    def render_result(request: Request, user: WebUser, result: AccessResult) -> HTMLResponse:
        record = result.record
        exports = None
        if result.credentials is not None:
            credentials = result.credentials
            exports = _exports(
                credentials.access_key_id,
                credentials.secret_access_key.get_secret_value(),
                credentials.session_token.get_secret_value(),
                options.region,
                options.aws_endpoint_url,
            )
        return render(
            request,
            "access_result.html",
            user,
            title="Your request",
            record=record,
            exports=exports,
            expires_at=result.credentials.expiration if result.credentials else None,
            console_url=result.console_url,
            outcome=outcome_of(record),
            reasons=_reasons_for_requester(record),
        )

    @app.get("/access/{request_id}", response_class=HTMLResponse)
    @page
    async def access_status(request: Request, request_id: str) -> Response:
        user = signed_in(request)
        record = _own_record(broker, user, request_id)
        return render(
            request,
            "access_status.html",
            user,
            title="Your request",
            record=record,
            outcome=outcome_of(record),
            reasons=_reasons_for_requester(record),
            collectable=_collectable(record),
        )

    @app.get("/access/{request_id}/status")
    async def access_status_json(request: Request, request_id: str) -> Response:
        user = current_user(request)
        if user is None:
            return JSONResponse({"error": "unauthenticated"}, status_code=401)
        try:
            record = _own_record(broker, user, request_id)
        except NotFoundError:
            return JSONResponse({"error": "not_found"}, status_code=404)
        body = {"status": outcome_of(record), "collectable": _collectable(record)}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.post("/access/{request_id}/collect", response_class=HTMLResponse)
    @page
    async def access_collect(request: Request, request_id: str) -> Response:
        user, _form_fields = await posted(request)
        _own_record(broker, user, request_id)
        result = await in_thread(collect_credentials, broker, request_id, principal_id=user.id)
        return render_result(request, user, result)

    # --- my grants ------------------------------------------------------------------

    @app.get("/grants", response_class=HTMLResponse)
    @page
    async def grants(request: Request) -> Response:
        user = signed_in(request)
        records = list(broker.requests.list(principal_id=user.id))  # the agent's too
        now = datetime.now(UTC)
        active = [r for r in records if _is_active(r, now)]
        past = [r for r in records if not _is_active(r, now)][:50]
        return render(request, "grants.html", user, title="My grants", active=active, past=past)

    @app.post("/grants/{request_id}/revoke")
    @page
    async def revoke(request: Request, request_id: str) -> Response:
        user, _form_fields = await posted(request)
        await in_thread(revoke_request, broker, request_id, by=user.id)
        back = "/grants" if _owns(broker, user, request_id) else f"/admin/log/{request_id}"
        return RedirectResponse(back, status_code=303)

    # --- approvals ------------------------------------------------------------------

    @app.get("/approvals", response_class=HTMLResponse)
    @page
    async def approvals(request: Request) -> Response:
        user = _approver(signed_in(request))
        pending = [
            r
            for r in broker.requests.list(state=RequestState.PENDING)
            if r.request.principal_id != user.id
        ]
        return render(request, "approvals.html", user, title="Approvals", pending=pending)

    @app.get("/approvals/{request_id}", response_class=HTMLResponse)
    @page
    async def approval(request: Request, request_id: str) -> Response:
        user = _approver(signed_in(request))
        record = _record(broker, request_id)
        policy = broker.policies.current(record.request.principal_id)
        catalog = broker.catalogs.catalog()
        proposed = {
            (g.resource_key, action)
            for g in (record.proposal.grants if record.proposal else ())
            for action in g.actions
        }
        choices = [
            (entry.key, action, (entry.key, action) in proposed)
            for entry in sorted(catalog.entries, key=lambda e: e.key)
            for action in sorted(entry.allowed_actions)
            if (entry.key, action) in proposed or entry.key in {k for k, _ in proposed}
        ]
        return render(
            request,
            "approval.html",
            user,
            title="Decide a request",
            record=record,
            policy=policy,
            choices=choices,
            durations=DURATIONS,
            own=record.request.principal_id == user.id,
        )

    @app.post("/approvals/{request_id}/approve")
    @page
    async def approve(request: Request, request_id: str) -> Response:
        user, form = await posted(request)
        _approver(user)
        chosen = _chosen_grants(await _form_list(request, "grant"))
        duration = _int(form.get("duration_seconds"), default=900)
        await in_thread(
            approve_request,
            broker,
            request_id,
            approver_id=user.id,
            grants=chosen,
            duration_seconds=duration,
        )
        return RedirectResponse("/approvals", status_code=303)

    @app.post("/approvals/{request_id}/deny")
    @page
    async def deny(request: Request, request_id: str) -> Response:
        user, form = await posted(request)
        _approver(user)
        reason = form.get("reason", "").strip()
        if not reason:
            raise InvalidInputError("say why the request is denied")
        await in_thread(deny_request, broker, request_id, approver_id=user.id, reason=reason)
        return RedirectResponse("/approvals", status_code=303)

    # --- admin: principals ------------------------------------------------------------

    def write_grant(user: WebUser, resource_key: str, action: str) -> RequestRecord | None:
        return active_grant(
            broker, user.id, resource_key=resource_key, action=action, now=broker.clock.now()
        )

    @app.get("/admin", response_class=HTMLResponse)
    @page
    async def admin_home(request: Request) -> Response:
        _admin(signed_in(request))
        return RedirectResponse("/admin/principals", status_code=303)

    @app.get("/admin/principals", response_class=HTMLResponse)
    @page
    async def principals(request: Request) -> Response:
        user = _admin(signed_in(request))
        editing_id = request.query_params.get("edit")
        editing = broker.directory.get(editing_id) if editing_id else None
        if editing_id and editing is None:
            raise NotFoundError(f"there is no principal {editing_id}")
        return render(
            request,
            "admin_principals.html",
            user,
            title="Principals",
            principals=broker.directory.list(),
            grant=write_grant(user, PRINCIPAL_DIRECTORY, WRITE_PRINCIPAL),
            groups=sorted({g for p in broker.directory.list() for g in p.groups}),
            editing=editing,
        )

    @app.post("/admin/principals")
    @page
    async def save_principal(request: Request) -> Response:
        user, form = await posted(request)
        _admin(user)
        principal_id = form.get("id", "").strip()
        existing = broker.directory.get(principal_id)
        groups = frozenset(await _form_list(request, "groups"))
        attributes = dict(existing.attributes) if existing else {}
        customer_key = form.get("customer_key", "").strip()
        if customer_key:
            attributes["customer_key"] = customer_key
        else:
            attributes.pop("customer_key", None)  # the form shows the key: empty removes it
        try:
            principal = Principal(
                id=principal_id,
                kind=existing.kind if existing else PrincipalKind(form.get("kind", "human")),
                display_name=form.get("display_name", "").strip() or principal_id,
                groups=groups,
                attributes=attributes,
                enabled=form.get("enabled") == "on",
            )
        except ValueError as error:
            raise InvalidInputError(f"the principal is not valid: {_first_error(error)}") from None
        await in_thread(put_principal, broker, actor_id=user.id, principal=principal)
        return RedirectResponse("/admin/principals", status_code=303)

    @app.post("/admin/grants")
    @page
    async def ask_write_grant(request: Request) -> Response:
        user, form = await posted(request)
        _admin(user)
        resource = form.get("resource", "")
        if resource not in (PRINCIPAL_DIRECTORY, POLICY_STORE):
            raise InvalidInputError("ask for the principal directory or the policy store")
        reason = form.get("reason", "").strip() or f"Administration: changes to the {resource}."
        command = AccessCommand(principal_id=user.id, reason=reason, verified_by="cognito")
        result = await in_thread(request_access, broker, command)
        return render_result(request, user, result)

    # --- admin: policies ------------------------------------------------------------

    @app.get("/admin/policies", response_class=HTMLResponse)
    @page
    async def policies(request: Request) -> Response:
        user = _admin(signed_in(request))
        rows = [(p, broker.policies.current(p.id)) for p in broker.directory.list()]
        return render(request, "admin_policies.html", user, title="Policies", rows=rows)

    async def policy_page(
        request: Request, user: WebUser, principal_id: str, **extra: Any
    ) -> HTMLResponse:
        principal = broker.directory.get(principal_id)
        if principal is None:
            raise NotFoundError(f"there is no principal {principal_id}")
        history = policy_history(broker, actor_id=user.id, principal_id=principal_id)
        compare = request.query_params.get("compare")
        diff = _diff(history, compare)
        return render(
            request,
            "admin_policy.html",
            user,
            title=f"Policy of {principal_id}",
            principal=principal,
            history=list(reversed(history)),
            current=history[-1] if history else None,
            diff=diff,
            grant=write_grant(user, POLICY_STORE, WRITE_POLICY),
            **extra,
        )

    @app.get("/admin/policies/{principal_id}", response_class=HTMLResponse)
    @page
    async def policy(request: Request, principal_id: str) -> Response:
        user = _admin(signed_in(request))
        return await policy_page(request, user, principal_id, trial=None, draft=None)

    @app.post("/admin/policies/{principal_id}")
    @page
    async def save_policy(request: Request, principal_id: str) -> Response:
        user, form = await posted(request)
        _admin(user)
        await in_thread(
            write_policy,
            broker,
            actor_id=user.id,
            principal_id=principal_id,
            text=form.get("text", ""),
            expected_version=_int(form.get("expected_version"), default=0),
        )
        return RedirectResponse(f"/admin/policies/{quote(principal_id)}", status_code=303)

    @app.post("/admin/policies/{principal_id}/try", response_class=HTMLResponse)
    @page
    async def try_draft(request: Request, principal_id: str) -> Response:
        user, form = await posted(request)
        _admin(user)
        options.limiter.take(user.id)  # each try costs a review
        draft = form.get("text", "")
        trial = await in_thread(
            try_policy,
            broker,
            actor_id=user.id,
            principal_id=principal_id,
            policy_text=draft,
            reason=form.get("sample_reason", ""),
        )
        return await policy_page(
            request,
            user,
            principal_id,
            trial=trial,
            draft=draft,
            sample_reason=form.get("sample_reason", ""),
        )

    # --- admin: catalog, request log ------------------------------------------------

    @app.get("/admin/catalog", response_class=HTMLResponse)
    @page
    async def catalog(request: Request) -> Response:
        user = _admin(signed_in(request))
        entries = sorted(broker.catalogs.catalog().entries, key=lambda e: e.key)
        return render(request, "admin_catalog.html", user, title="Catalog", entries=entries)

    @app.get("/admin/log", response_class=HTMLResponse)
    @page
    async def request_log(request: Request) -> Response:
        user = _admin(signed_in(request))
        params = request.query_params
        state = params.get("state") or None
        if state is not None and state not in {s.value for s in RequestState}:
            raise InvalidInputError("pick a state from the list")
        principal = params.get("principal") or None
        records = broker.requests.list(
            state=RequestState(state) if state else None, principal_id=principal
        )
        page_number = max(1, _int(params.get("page"), default=1))
        start = (page_number - 1) * PAGE_SIZE
        return render(
            request,
            "admin_log.html",
            user,
            title="Request log",
            records=records[start : start + PAGE_SIZE],
            total=len(records),
            page=page_number,
            pages=max(1, -(-len(records) // PAGE_SIZE)),
            state=state or "",
            principal=principal or "",
            states=[s.value for s in RequestState],
            principals=[p.id for p in broker.directory.list()],
        )

    @app.get("/admin/log/{request_id}", response_class=HTMLResponse)
    @page
    async def request_detail(request: Request, request_id: str) -> Response:
        user = _admin(signed_in(request))
        record = _record(broker, request_id)
        trail = list(broker.audit.records(request_id=request_id))
        session_policy, matches, allows = _session_policy_of(broker, record, trail)
        problems = await in_thread(verify_audit, broker, actor_id=user.id)
        return render(
            request,
            "admin_log_detail.html",
            user,
            title=f"Request {request_id}",
            record=record,
            trail=trail,
            session_policy=session_policy,
            policy_matches=matches,
            allows=allows,
            chain_problems=problems,
        )

    @app.get("/dashboard", response_class=HTMLResponse)
    @page
    async def dashboard(request: Request) -> Response:
        user = _admin(signed_in(request))
        numbers = dashboard_numbers(broker.requests.list(), today=datetime.now(UTC).date())
        over_time = stacked_bars(
            [day[5:] for day in numbers.days],
            numbers.by_outcome,
            title="Requests per day by outcome",
            colors=OUTCOME_COLORS,
            width=960,
        )
        top = horizontal_bars(numbers.top_principals, title="Top principals by requests")
        risks = horizontal_bars(
            numbers.risk_mix, title="Risk of the reviewer's proposals", colors=RISK_COLORS
        )
        return render(
            request,
            "dashboard.html",
            user,
            title="Dashboard",
            numbers=numbers,
            over_time=over_time,
            top=top,
            risks=risks,
        )


# --- helpers (pure, or reading the broker only) --------------------------------------


def _signature_of(handler: Callable[..., Any]) -> Any:
    import inspect

    return inspect.signature(handler)


async def _form(request: Request) -> dict[str, str]:
    form = await _parsed_form(request)
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def _form_list(request: Request, name: str) -> list[str]:
    form = await _parsed_form(request)
    return [value for value in form.getlist(name) if isinstance(value, str)]


async def _parsed_form(request: Request) -> Any:
    try:
        return await request.form()
    except (AssertionError, ValueError, KeyError, MultiPartException, HTTPException) as error:
        raise InvalidInputError(f"the form could not be read ({type(error).__name__})") from None


def _require_same_origin(request: Request) -> None:
    # SameSite=Strict already keeps the cookie off cross-site posts; a wrong Origin is refused
    # too, so a missing cookie attribute in some browser does not open a hole.
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise PermissionDeniedError("the form came from another site")


def _safe_next(target: str) -> str:
    # Only paths on this site: "//evil.example" and "https://..." would send the user away.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _set_login_cookie(response: Response, token: str, secure: bool) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_COOKIE_SECONDS,
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/login",
    )


def _login_again(
    request: Request,
    render: Callable[..., HTMLResponse],
    options: WebOptions,
    target: str,
    message: str,
    *,
    status: int = 400,
) -> HTMLResponse:
    token = new_token()
    response = render(
        request,
        "login.html",
        None,
        status,
        login_csrf=token,
        next=target,
        expired=False,
        demo_logins=options.demo_logins,
        error=message,
    )
    _set_login_cookie(response, token, options.secure_cookies)
    return response


def _idempotency(value: str | None) -> str | None:
    if value and 1 <= len(value) <= 128 and all(c.isalnum() or c in "._:-" for c in value):
        return value
    return None


def _int(value: str | None, *, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        raise InvalidInputError("a number was expected") from None


def _first_error(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            return str(found[0].get("msg", "invalid"))
    return "invalid"


def _exports(
    key_id: str, secret: str, token: str, region: str, endpoint: str | None
) -> list[tuple[str, str]]:
    lines = [
        ("AWS_ACCESS_KEY_ID", key_id),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_SESSION_TOKEN", token),
        ("AWS_REGION", region),
    ]
    if endpoint:
        lines.append(("AWS_ENDPOINT_URL", endpoint))
    return lines


def _reasons_for_requester(record: RequestRecord) -> list[str]:
    outcome = record.outcome
    if outcome is None:
        return []
    return [*outcome.reasons, *(v.message for v in outcome.violations)]


def _record(broker: Broker, request_id: str) -> RequestRecord:
    record = broker.requests.get(request_id)
    if record is None:
        raise NotFoundError(f"there is no request {request_id}")
    return record


def _owns(broker: Broker, user: WebUser, request_id: str) -> bool:
    record = broker.requests.get(request_id)
    return record is not None and record.request.principal_id == user.id


def _own_record(broker: Broker, user: WebUser, request_id: str) -> RequestRecord:
    record = broker.requests.get(request_id)
    if (
        record is None
        or record.request.principal_id != user.id
        or record.request.acting_agent_id is not None
    ):
        raise NotFoundError(f"there is no request {request_id}")  # nobody else's, not even a hint
    return record


def _collectable(record: RequestRecord) -> bool:
    return (
        record.state is RequestState.APPROVED
        and record.decided_by is not None
        and record.collected_at is None
        and record.session is None
        and record.revoked_at is None
        and record.outcome is not None
        and any(True for _ in record.outcome.grants)
    )


def _is_active(record: RequestRecord, now: datetime) -> bool:
    if record.state is not RequestState.APPROVED or record.revoked_at is not None:
        return False
    if record.session is not None:
        return record.session.expires_at > now
    return _collectable(record)


def _approver(user: WebUser) -> WebUser:
    if not user.is_approver:
        raise _ForbiddenError()
    return user


def _admin(user: WebUser) -> WebUser:
    if not user.is_admin:
        raise _ForbiddenError()
    return user


def _chosen_grants(values: list[str]) -> tuple[Grant, ...]:
    by_resource: dict[str, list[str]] = {}
    for value in values:
        resource, _, action = value.partition("|")
        if not resource or not action:
            raise InvalidInputError("a grant is a resource and an action")
        by_resource.setdefault(resource, []).append(action)
    if not by_resource:
        raise InvalidInputError("choose at least one grant, or deny the request")
    return tuple(
        Grant(resource_key=resource, actions=tuple(sorted(actions)))
        for resource, actions in sorted(by_resource.items())
    )


def _diff(history: list[Any], compare: str | None) -> list[tuple[str, str]] | None:
    """Line diff between two versions ("3..4"), or the latest change by default."""
    if len(history) < 2:
        return None
    by_version = {p.version: p for p in history}
    old, new = history[-2], history[-1]
    if compare:
        left, _, right = compare.partition("..")
        try:
            old, new = by_version[int(left)], by_version[int(right)]
        except (KeyError, ValueError):
            raise InvalidInputError("compare two versions that exist, like 2..3") from None
    lines = difflib.ndiff(old.text.splitlines() or [""], new.text.splitlines() or [""])
    kinds = {"+ ": "added", "- ": "removed", "  ": "same"}
    return [(kinds[line[:2]], line[2:]) for line in lines if line[:2] in kinds] + [
        ("versions", f"{old.version} → {new.version}")
    ]


def _session_policy_of(
    broker: Broker, record: RequestRecord, trail: list[Any]
) -> tuple[str | None, bool | None, list[Any]]:
    """The session policy, recompiled from the grants, checked against the hash recorded
    when it was minted, and what it allows."""
    outcome = record.outcome
    principal = broker.directory.get(record.request.principal_id)
    if outcome is None or not outcome.grants or principal is None or record.session is None:
        return None, None, []
    catalog = broker.catalogs.catalog()
    try:
        compiled = compile_session_policy(outcome.grants, catalog=catalog, principal=principal)
    except AgentZeroError:
        return None, None, []
    minted = [r for r in trail if r.event is AuditEvent.MINTING]
    recorded = minted[-1].details.get("session_policy_sha256") if minted else None
    matches = recorded == compiled.sha256 if recorded else None
    pretty = json.dumps(json.loads(compiled.text), indent=2)
    return pretty, matches, what_it_allows(compiled.text, catalog=catalog, principal=principal)


def _grant_until(record: RequestRecord) -> datetime | None:
    if record.decided_at is None or record.outcome is None:
        return None
    return record.decided_at + timedelta(seconds=record.outcome.duration_seconds or 0)


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
