"""The sandbox's stand-in for the AWS federation endpoint and console.

AWS turns session credentials into a sign-in token (``Action=getSigninToken``)
and a token into a console session (``Action=login``). The sandbox does the
same against the sessions the gateway minted, and its "console" is one page
that says who the session is and what its policy allows, computed with
``agent_zero.iam`` exactly as the gateway will enforce it. Sign-in tokens are
secrets: single-use, 15 minutes, never logged.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from urllib.parse import parse_qsl

from agent_zero import iam
from agent_zero.iam import PolicyKind
from agent_zero.sandbox.aws_errors import AwsError
from agent_zero.sandbox.moto_host import MotoHost
from agent_zero.sandbox.sessions import GatewayState, RoleSession

TOKEN_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class _Pending:
    access_key_id: str
    expires_at: datetime


class FederationEndpoint:
    """``/federation``: sign-in tokens for minted sessions, and the stand-in console page."""

    def __init__(self, *, state: GatewayState, moto: MotoHost) -> None:
        self._state = state
        self._moto = moto
        self._lock = threading.Lock()
        self._tokens: dict[str, _Pending] = {}

    def handle(self, query_string: str, now: datetime) -> tuple[int, str, bytes]:
        """(status, content type, body) for one GET of /federation."""
        parameters = dict(parse_qsl(query_string, keep_blank_values=True))
        action = parameters.get("Action")
        if action == "getSigninToken":
            token = self._sign_in_token(parameters.get("Session", ""), now)
            return 200, "application/json", json.dumps({"SigninToken": token}).encode()
        if action == "login":
            session = self._redeem(parameters.get("SigninToken", ""), now)
            return 200, "text/html; charset=utf-8", console_page(session, self._moto, now).encode()
        raise AwsError("InvalidAction", "Action must be getSigninToken or login", 400)

    def _sign_in_token(self, session_json: str, now: datetime) -> str:
        try:
            claimed = json.loads(session_json)
            key, secret, token = (
                claimed["sessionId"],
                claimed["sessionKey"],
                claimed["sessionToken"],
            )
        except (ValueError, KeyError, TypeError):
            raise AwsError(
                "InvalidSession", "Session must carry sessionId, sessionKey, sessionToken", 400
            ) from None
        session = self._state.session(str(key))
        if session is None or not (
            hmac.compare_digest(str(secret), session.secret_access_key)
            and hmac.compare_digest(str(token), session.session_token)
            and now < session.expires_at
        ):
            raise AwsError("AccessDenied", "the session credentials are not valid", 403)
        sign_in = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens = {t: p for t, p in self._tokens.items() if p.expires_at > now}
            self._tokens[sign_in] = _Pending(
                str(key), min(now + TOKEN_LIFETIME, session.expires_at)
            )
        return sign_in

    def _redeem(self, token: str, now: datetime) -> RoleSession:
        with self._lock:
            pending = self._tokens.pop(token, None)  # single use
        if pending is None or now >= pending.expires_at:
            raise AwsError("AccessDenied", "the sign-in link is invalid or has expired", 403)
        session = self._state.session(pending.access_key_id)
        if session is None or now >= session.expires_at:
            raise AwsError("AccessDenied", "the session has expired", 403)
        return session


def console_page(session: RoleSession, moto: MotoHost, now: datetime) -> str:
    """Who the session is and, per statement of its policy, what IAM would decide."""
    rows = []
    if session.session_policy:
        role = moto.role(session.role_name)
        identity = (
            list(role.policies) if role is not None and role.role_id == session.role_id else []
        )
        document = json.loads(session.session_policy)
        for statement in document.get("Statement", []):
            actions = statement.get("Action", [])
            resources = statement.get("Resource", [])
            keys = (
                statement.get("Condition", {})
                .get("ForAllValues:StringEquals", {})
                .get("dynamodb:LeadingKeys", [])
            )
            for action in [actions] if isinstance(actions, str) else actions:
                for resource in [resources] if isinstance(resources, str) else resources:
                    context: dict[str, str | list[str]] = {"aws:userid": session.user_id}
                    if keys:
                        context["dynamodb:LeadingKeys"] = list(keys)
                    if session.source_identity:
                        context["aws:SourceIdentity"] = session.source_identity
                    result = iam.evaluate(
                        action=action,
                        resource=resource,
                        principal=session.arn,
                        identity_policies=[iam.parse_policy(p) for p in identity],
                        session_policy=iam.parse_policy(
                            session.session_policy, kind=PolicyKind.SESSION
                        ),
                        context=context,
                    )
                    scope = f" for row keys {', '.join(keys)}" if keys else ""
                    rows.append(
                        f"<tr><td>{escape(action)}</td><td>{escape(resource)}{escape(scope)}</td>"
                        f"<td>{escape(result.decision.value)}</td></tr>"
                    )
    minutes = max(0, int((session.expires_at - now).total_seconds() // 60))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Agent Zero sandbox console</title>"
        "</head><body><h1>Sandbox console</h1>"
        "<p>This stands in for the AWS console: it shows what this session may do.</p>"
        f"<dl><dt>Session</dt><dd>{escape(session.arn)}</dd>"
        f"<dt>Source identity</dt><dd>{escape(session.source_identity or '-')}</dd>"
        f"<dt>Expires</dt><dd>{escape(session.expires_at.isoformat())} (in {minutes} min)</dd></dl>"
        "<table><thead><tr><th>Action</th><th>Resource</th><th>IAM decision</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></body></html>"
    )
