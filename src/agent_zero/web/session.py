"""The web app's session cookie: the user's access token, sealed with AES-GCM.

The browser holds the only copy of the session, so the server keeps no session
state: the cookie is encrypted and authenticated (a changed byte fails to open),
HttpOnly (no script reads it), SameSite=Strict (no other site's request carries
it) and Secure outside the sandbox's plain-HTTP loopback. It lives no longer than
the token inside it, and every request verifies that token again, so an expired or
revoked session ends at the next click with a friendly sign-in page.

A CSRF token rides in the session and in every form; before sign-in, a separate
short-lived cookie plays that part for the login form (double submit).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr, ValidationError

from agent_zero.domain.base import DomainModel
from agent_zero.domain.errors import InvalidInputError

SESSION_COOKIE = "agent_zero_session"
LOGIN_COOKIE = "agent_zero_login"  # the login form's CSRF token, before there is a session
KEY_BYTES = 32
_NONCE_BYTES = 12
_VERSION = b"v1"
MAX_COOKIE_CHARS = 4_000  # browsers drop cookies over 4 KiB: fail loudly instead


class WebSession(DomainModel):
    """What the cookie carries."""

    username: str
    access_token: SecretStr
    expires_at: datetime  # the token's expiry
    csrf: str
    sid: str  # names the session, so signing out can end it before the token expires

    @classmethod
    def start(cls, *, username: str, access_token: str, expires_at: datetime) -> WebSession:
        """A new session with a fresh CSRF token."""
        return cls(
            username=username,
            access_token=SecretStr(access_token),
            expires_at=expires_at,
            csrf=new_token(),
            sid=new_token(),
        )


def new_token() -> str:
    """A random URL-safe token (CSRF, idempotency)."""
    return secrets.token_urlsafe(32)


def token_session_id(access_token: str) -> str:
    """The id under which signing out records the session's access token itself.

    On AWS the chat's script holds the token (API Gateway's WebSocket API cannot read the
    cookie), so a sign-out ends the token too, wherever it is offered. A digest: the
    revocation table never holds a usable token.
    """
    return "access-token:" + hashlib.sha256(access_token.encode()).hexdigest()


def same_token(expected: str, offered: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return offered is not None and hmac.compare_digest(expected.encode(), offered.encode())


class SessionCodec:
    """Seals and opens session cookies with one 256-bit key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise InvalidInputError(f"the session key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    def seal(self, session: WebSession) -> str:
        """The cookie value."""
        body = json.dumps(
            {
                "u": session.username,
                "t": session.access_token.get_secret_value(),
                "e": int(session.expires_at.timestamp()),
                "c": session.csrf,
                "s": session.sid,
            },
            separators=(",", ":"),
        ).encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, body, _VERSION + SESSION_COOKIE.encode())
        value = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        if len(value) > MAX_COOKIE_CHARS:
            raise InvalidInputError("the session does not fit in a cookie")
        return value

    def open(self, value: str | None) -> WebSession | None:
        """The session, or None for anything missing, altered or malformed."""
        if not value or len(value) > MAX_COOKIE_CHARS:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            body = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _VERSION + SESSION_COOKIE.encode()
            )
            fields = json.loads(body)
            return WebSession(
                username=fields["u"],
                access_token=SecretStr(fields["t"]),
                expires_at=datetime.fromtimestamp(int(fields["e"]), UTC),
                csrf=fields["c"],
                sid=fields["s"],
            )
        except (InvalidTag, ValueError, KeyError, TypeError, binascii.Error, ValidationError):
            return None


def load_or_create_key(path: Path) -> bytes:
    """The sandbox's session key: made once, readable only by its owner."""
    if path.exists():
        key = base64.b64decode(path.read_text().strip())
        if len(key) != KEY_BYTES:
            raise InvalidInputError(f"{path} does not hold a {KEY_BYTES}-byte key")
        return key
    key = os.urandom(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(key).decode())
    return key


class RevokedSessions(Protocol):
    """Sessions signed out before their token expired (the cookie alone cannot forget)."""

    def revoke(self, sid: str, until: datetime) -> None:
        """Refuse this session until ``until`` (its token's expiry)."""
        ...

    def is_revoked(self, sid: str) -> bool:
        """Whether the session was signed out."""
        ...


class InMemoryRevokedSessions:
    """Signed-out sessions of one process, forgotten once their tokens have expired anyway."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._until: dict[str, datetime] = {}

    def revoke(self, sid: str, until: datetime) -> None:
        """Remember until the token would have expired."""
        with self._lock:
            now = self._clock()
            self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[sid] = until

    def is_revoked(self, sid: str) -> bool:
        """Signed out, and the token not yet expired."""
        with self._lock:
            until = self._until.get(sid)
        return until is not None and until > self._clock()
