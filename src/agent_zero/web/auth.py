"""Who is calling the broker's HTTP API: a verified Cognito access token or a SigV4 signature.

A human sends ``Authorization: Bearer <access token>``; the token must be an RS256
JWT signed by a key of the user pool's JWKS, issued by the configured pool for the
configured client, an *access* token, and current. An agent signs with SigV4 for
``execute-api`` in the configured region with its own long-term key; acting for a
signed-in user it also sends (and signs) ``X-Agent-Zero-On-Behalf-Of: <access token>``,
and then the user is the principal and the agent the actor.

Everything else is refused with ``AuthenticationError``. Messages are short reasons:
never a token, a signature or a secret. Nothing here imports FastAPI.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import ipaddress
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeGuard
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from joserfc.jws import extract_compact

from agent_zero.domain.errors import AuthenticationError, UnavailableError
from agent_zero.sandbox.sigv4 import HttpRequest, SignatureError, read_signature, verify
from agent_zero.web.session import RevokedSessions, token_session_id

ON_BEHALF_OF_HEADER = "x-agent-zero-on-behalf-of"
ALGORITHM = "RS256"
MAX_TOKEN_CHARS = 16_384  # Cognito tokens are a few KB; refuse before parsing anything larger
MIN_RSA_BITS = 2048
JWKS_REFRESH_INTERVAL_SECONDS = 60.0
JWKS_TIMEOUT_SECONDS = 5.0
MAX_JWKS_BYTES = 1_048_576
_MAX_TIMESTAMP = 253_402_300_800  # 10000-01-01T00:00:00Z
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", re.ASCII)
_PRESIGNED_FIELDS = re.compile(r"(?:^|&)X-Amz-(?:Algorithm|Credential|Signature)=", re.IGNORECASE)
_SIGNATURE_REASONS = {
    "missing": "the SigV4 signature is incomplete",
    "malformed": "the SigV4 signature is malformed",
    "unknown_key": "the access key is not known",
    "mismatch": "the SigV4 signature does not match",
    "skewed": "the SigV4 request time is outside the allowed clock skew",
    "expired_url": "the presigned request has expired",
    "unsupported": "the signing method is not supported",
}


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """The principal a request acts as, how that was proven, and the agent acting for it."""

    principal_id: str
    method: Literal["cognito", "sigv4"]
    acting_agent_id: str | None = None
    groups: frozenset[str] = frozenset()  # cognito:groups of the user token, informational only


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedToken:
    """What a verified Cognito access token says: who, in which groups, until when."""

    username: str
    groups: frozenset[str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AgentKey:
    """An agent's long-term signing secret and the principal it belongs to."""

    secret_access_key: str = field(repr=False)
    principal_id: str


class JwksSource(Protocol):
    """Where the user pool's signing keys come from."""

    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        """The JWKS document; ``refresh`` asks for a re-fetch (the source may rate-limit it)."""
        ...


class HttpJwksSource:
    """A JWKS fetched over HTTP, cached; re-fetched at most once a minute when asked to."""

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = JWKS_TIMEOUT_SECONDS,
        refresh_interval_seconds: float = JWKS_REFRESH_INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(url)
        loopback = _is_loopback(parts.hostname or "")
        # Plain HTTP only to this machine (the sandbox); anything else must be HTTPS.
        if not parts.hostname or not (
            parts.scheme == "https" or (parts.scheme == "http" and loopback)
        ):
            raise ValueError("the JWKS URL must be https, or http on a loopback address")
        self._url = url
        self._timeout = timeout_seconds
        self._interval = refresh_interval_seconds
        self._monotonic = monotonic
        handlers: list[urllib.request.BaseHandler] = [_RefuseRedirects()]
        if loopback:
            handlers.append(urllib.request.ProxyHandler({}))  # never send loopback via a proxy
        self._opener = urllib.request.build_opener(*handlers)
        self._lock = threading.Lock()
        self._document: dict[str, Any] | None = None
        self._last_attempt: float | None = None

    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        """The cached JWKS; fetched when absent, re-fetched on ``refresh`` at most once a minute."""
        with self._lock:
            now = self._monotonic()
            if self._document is not None:
                if not refresh:
                    return self._document
                if self._last_attempt is not None and now - self._last_attempt < self._interval:
                    return self._document
            self._last_attempt = now
            self._document = self._fetch()
            return self._document

    def _fetch(self) -> dict[str, Any]:
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})  # noqa: S310 (scheme checked in __init__)
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                body = response.read(MAX_JWKS_BYTES + 1)
            document = json.loads(body) if len(body) <= MAX_JWKS_BYTES else None
        except urllib.error.HTTPError as error:
            error.close()  # an error status (redirects included) still holds the connection
            raise UnavailableError(f"the JWKS at {self._url} answered {error.code}") from None
        except (OSError, ValueError, http.client.HTTPException):
            raise UnavailableError(f"the JWKS at {self._url} could not be fetched") from None
        if not (isinstance(document, dict) and isinstance(document.get("keys"), list)):
            raise UnavailableError(f"the JWKS at {self._url} is not a JWKS document")
        return document


class CognitoTokenVerifier:
    """Verifies Cognito access tokens of one user pool and app client."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        jwks: JwksSource,
        clock: Callable[[], datetime],
        leeway_seconds: int = 30,
    ) -> None:
        if not issuer or not client_id:
            raise ValueError("issuer and client_id must be set")
        self._issuer = issuer
        self._client_id = client_id
        self._jwks = jwks
        self._clock = clock
        self._leeway = leeway_seconds

    def verify(self, token: str) -> VerifiedToken:
        """The claims of ``token`` once its signature and claims check out."""
        if len(token) > MAX_TOKEN_CHARS or not _JWT.fullmatch(token):
            raise AuthenticationError("the access token is not a JWT")
        header = _header(token)
        if header.get("alg") != ALGORITHM:
            raise AuthenticationError("the access token is not signed with RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("the access token names no signing key")
        key = self._key(kid)
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM]).claims
        except (JoseError, ValueError):
            raise AuthenticationError("the access token signature is invalid") from None
        return self._check_claims(claims)

    def _key(self, kid: str) -> RSAKey:
        entry = _find_key(self._jwks.keys(), kid)
        if entry is None:  # a key we have not seen yet: the pool may have rotated
            entry = _find_key(self._jwks.keys(refresh=True), kid)
        if entry is None:
            raise AuthenticationError("the access token is signed by an unknown key")
        return _rsa_key(entry)

    def _check_claims(self, claims: Mapping[str, Any]) -> VerifiedToken:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must be timezone-aware")
        seconds = now.timestamp()
        if claims.get("iss") != self._issuer:
            raise AuthenticationError("the access token comes from another issuer")
        if claims.get("token_use") != "access":
            raise AuthenticationError("the token is not an access token")
        if claims.get("client_id") != self._client_id:
            raise AuthenticationError("the access token was issued to another client")
        expires, issued = claims.get("exp"), claims.get("iat")
        if not _is_time(expires) or expires <= seconds - self._leeway:
            raise AuthenticationError("the access token has expired")
        if not _is_time(issued) or issued > seconds + self._leeway:
            raise AuthenticationError("the access token is issued in the future")
        not_before = claims.get("nbf")
        if not_before is not None and (
            not _is_time(not_before) or not_before > seconds + self._leeway
        ):
            raise AuthenticationError("the access token is not valid yet")
        username = claims.get("username")
        if not isinstance(username, str) or not username:
            raise AuthenticationError("the access token names no user")
        groups = claims.get("cognito:groups", [])
        if not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
            raise AuthenticationError("the access token's groups are malformed")
        return VerifiedToken(
            username=username,
            groups=frozenset(groups),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )


class SigV4Authenticator:
    """Verifies an agent's SigV4 signature for ``execute-api`` with its long-term key."""

    def __init__(
        self,
        *,
        secret_for: Callable[[str], AgentKey | None],
        clock: Callable[[], datetime],
        region: str,
        service: str = "execute-api",
    ) -> None:
        self._secret_for = secret_for
        self._clock = clock
        self._region = region
        self._service = service

    def authenticate(self, request: HttpRequest, *, must_sign: tuple[str, ...] = ()) -> str:
        """The principal whose key signed ``request``, also covering the ``must_sign`` headers."""
        try:
            parsed = read_signature(request)
            if parsed is None:
                raise AuthenticationError("the request is not signed")
            identity = parsed.identity
            if identity.presigned:
                raise AuthenticationError("presigned requests are not accepted")
            if identity.security_token is not None:
                raise AuthenticationError("session credentials are not accepted")
            if identity.service != self._service:
                raise AuthenticationError("the signature is scoped to another service")
            if identity.region != self._region:
                raise AuthenticationError("the signature is scoped to another region")
            if any(name not in parsed.signed_headers for name in must_sign):
                raise AuthenticationError("a header that must be signed is not signed")
            key_id = identity.access_key_id
            agent = self._secret_for(key_id)
            if agent is None:
                raise AuthenticationError(_SIGNATURE_REASONS["unknown_key"])
            verify(
                request,
                parsed,
                secret_for=lambda asked: agent.secret_access_key if asked == key_id else None,
                now=self._clock(),
            )
        except SignatureError as error:
            raise AuthenticationError(_SIGNATURE_REASONS[error.kind]) from None
        return agent.principal_id


class SignatureCheck(Protocol):
    """Who signed a SigV4 request (raises AuthenticationError)."""

    def authenticate(self, request: HttpRequest, *, must_sign: tuple[str, ...] = ()) -> str:
        """The principal id behind the signature, which also covers ``must_sign``."""
        ...


# Set by the broker API's Lambda entry point from the API Gateway event (after removing
# any copy the client sent); never read from a request that did not come through it.
VERIFIED_CALLER_HEADER = "x-agent-zero-verified-caller-arn"
_SIGNED_HEADERS = re.compile(r"SignedHeaders=([a-z0-9;_.-]+)")
_ASSUMED_ROLE = re.compile(
    r"arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[\w+=,.@-]+", re.ASCII
)
_ROLE = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)", re.ASCII)


class ApiGatewayVerifiedSignatures:
    """Signatures API Gateway's IAM authorization has already verified (the REST API).

    API Gateway checks the SigV4 signature, the session token and ``execute-api:Invoke``
    before the function runs, and hands over the caller's ARN. Only sessions of the agent's
    role are the agent; any other IAM identity that reached the API is refused.
    """

    def __init__(self, *, agent_role_arn: str, agent_id: str) -> None:
        role = _ROLE.fullmatch(agent_role_arn)
        if role is None:
            raise ValueError("agent_role_arn must be an IAM role ARN")
        self._account, self._role_name = role.group(1), role.group(2)
        self._agent_id = agent_id

    def authenticate(self, request: HttpRequest, *, must_sign: tuple[str, ...] = ()) -> str:
        """The agent's id if a session of its role signed, covering ``must_sign``."""
        caller = _ASSUMED_ROLE.fullmatch(request.headers.get(VERIFIED_CALLER_HEADER, ""))
        if caller is None or (caller.group(1), caller.group(2)) != (
            self._account,
            self._role_name,
        ):
            raise AuthenticationError("this API serves only the broker's agents")
        signed = _SIGNED_HEADERS.search(request.headers.get("authorization", ""))
        names = set(signed.group(1).split(";")) if signed else set()
        if any(name not in names for name in must_sign):
            raise AuthenticationError("a header that must be signed is not signed")
        return self._agent_id


class NoSignatures:
    """Where no signature can be verified (the web app's HTTP API): refuse them all."""

    def authenticate(self, request: HttpRequest, *, must_sign: tuple[str, ...] = ()) -> str:
        """Always refuses."""
        raise AuthenticationError("agents call the broker's IAM-authorized API, not this one")


class AccessTokens(Protocol):
    """Verifies a user's access token (raises AuthenticationError)."""

    def verify(self, token: str) -> VerifiedToken:
        """What the token says, once it checks out."""
        ...


class SignedOutTokens:
    """Access tokens as ``tokens`` verifies them, except those of signed-out web sessions.

    A lookup that fails raises (UnavailableError): an unknown answer never lets a token in.
    """

    def __init__(self, tokens: AccessTokens, signed_out: RevokedSessions) -> None:
        self._tokens = tokens
        self._signed_out = signed_out

    def verify(self, token: str) -> VerifiedToken:
        """The token's claims unless its session was signed out."""
        verified = self._tokens.verify(token)
        if self._signed_out.is_revoked(token_session_id(token)):
            raise AuthenticationError("the session of this access token was signed out")
        return verified


class RequestAuthenticator:
    """Turns an HTTP request into the identity it verifiably acts as, or refuses it."""

    def __init__(
        self, *, tokens: AccessTokens, signatures: SignatureCheck, bearer_tokens: bool = True
    ) -> None:
        self._tokens = tokens
        self._signatures = signatures
        # False where only signed agents are served (the REST API): a bearer token would skip
        # the check of who signed, and record the user as acting with no agent.
        self._bearer_tokens = bearer_tokens

    def authenticate(self, request: HttpRequest) -> VerifiedIdentity:
        """The verified identity behind ``request``; AuthenticationError otherwise."""
        if _PRESIGNED_FIELDS.search(request.query_string):
            raise AuthenticationError("credentials in the query string are not accepted")
        authorization = request.headers.get("authorization")
        if authorization is None:
            raise AuthenticationError("the request carries no Authorization header")
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            if not self._bearer_tokens:
                raise AuthenticationError("this API serves only the broker's agents, signed")
            if ON_BEHALF_OF_HEADER in request.headers:
                raise AuthenticationError("only a signed agent may act on behalf of a user")
            token = self._tokens.verify(credentials.strip())
            return VerifiedIdentity(token.username, "cognito", groups=token.groups)
        if scheme == "AWS4-HMAC-SHA256":
            return self._agent(request)
        raise AuthenticationError("the Authorization scheme is not supported")

    def _agent(self, request: HttpRequest) -> VerifiedIdentity:
        on_behalf_of = request.headers.get(ON_BEHALF_OF_HEADER)
        if on_behalf_of is None:
            return VerifiedIdentity(self._signatures.authenticate(request), "sigv4")
        # The user's token must be covered by the agent's signature, so it cannot be swapped in.
        agent = self._signatures.authenticate(request, must_sign=(ON_BEHALF_OF_HEADER,))
        user = self._tokens.verify(on_behalf_of.strip())
        return VerifiedIdentity(user.username, "sigv4", acting_agent_id=agent, groups=user.groups)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # the JWKS URL is configured exactly; a redirect is a failure


def _header(token: str) -> dict[str, Any]:
    try:
        return extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError):
        raise AuthenticationError("the access token header is malformed") from None


def _find_key(document: Mapping[str, Any], kid: str) -> Mapping[str, Any] | None:
    keys = document.get("keys")
    if not isinstance(keys, list):
        return None
    matches = [key for key in keys if isinstance(key, dict) and key.get("kid") == kid]
    if len(matches) > 1:
        raise AuthenticationError("the JWKS holds more than one key with that key id")
    return matches[0] if matches else None


def _rsa_key(entry: Mapping[str, Any]) -> RSAKey:
    if entry.get("kty") != "RSA" or entry.get("alg", ALGORITHM) != ALGORITHM:
        raise AuthenticationError("the signing key is not an RS256 key")
    if entry.get("use", "sig") != "sig" or "d" in entry:
        raise AuthenticationError("the signing key is not a public signing key")
    modulus, exponent = entry.get("n"), entry.get("e")
    if not (isinstance(modulus, str) and isinstance(exponent, str)):
        raise AuthenticationError("the signing key is malformed")
    if _bits(modulus) < MIN_RSA_BITS:
        raise AuthenticationError("the signing key is too small")
    try:
        return RSAKey.import_key({"kty": "RSA", "n": modulus, "e": exponent})
    except (JoseError, ValueError, TypeError):
        raise AuthenticationError("the signing key is malformed") from None


def _bits(value: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def _is_time(value: object) -> TypeGuard[int | float]:
    # JSON allows NaN and Infinity, and datetime stops at the year 9999.
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 0 <= value < _MAX_TIMESTAMP
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
