"""Server-side verification of AWS Signature Version 4 requests, canonicalised as botocore signs.

The IAM gateway calls ``read_signature`` to find out whether and how a request is
signed, then ``verify`` to check it against the caller's secret. Both are pure: the
secret arrives through ``secret_for`` and the clock through ``now``.

Only ``AWS4-HMAC-SHA256`` is accepted, in the ``Authorization`` header or in the
query string (presigned URLs). SigV2, SigV4a and chunked ``STREAMING-*`` payloads
are refused as ``unsupported`` rather than waved through as unsigned.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import quote, unquote_to_bytes

from agent_zero.domain.errors import AuthenticationError

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_PRESIGNED_EXPIRES = 604_800  # seconds: AWS caps presigned URLs at seven days
_TERMINATOR = "aws4_request"
_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_TIMESTAMP = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z", re.ASCII)
_HEADER_FIELDS = ("Credential", "SignedHeaders", "Signature")
_QUERY_FIELDS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
)
_RAW_PATH_SERVICES = frozenset({"s3"})  # canonical URI = path as sent, as botocore's S3 signers
_UNSIGNED_PAYLOAD_SERVICES = frozenset({"s3"})  # may leave the body out of the signature
_HEX = frozenset("0123456789abcdef")
_UNSUPPORTED = (
    f"The authorization mechanism you have provided is not supported. Please use {ALGORITHM}."
)
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method."
)

SignatureErrorKind = Literal[
    "missing", "malformed", "unknown_key", "mismatch", "skewed", "expired_url", "unsupported"
]


class SignatureError(AuthenticationError):
    """A request's SigV4 signature is absent, malformed, stale or wrong; ``kind`` says which."""

    def __init__(self, kind: SignatureErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: SignatureErrorKind = kind


def _malformed(message: str) -> SignatureError:
    return SignatureError("malformed", message)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request as the gateway received it: raw path and query, any-case headers."""

    method: str
    raw_path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes

    def __post_init__(self) -> None:
        # Repeated headers arrive already joined with commas (WSGI's HTTP_* keys are unique).
        lowered = {name.lower(): value for name, value in self.headers.items()}
        object.__setattr__(self, "headers", lowered)


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedIdentity:
    """Who signed a request, and for which region and service."""

    access_key_id: str
    region: str
    service: str
    signed_at: datetime
    security_token: str | None
    presigned: bool
    expires_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedSignature:
    """The identity a request claims and the SigV4 proof it offers, not yet verified."""

    identity: SignedIdentity
    timestamp: str
    signed_headers: tuple[str, ...]
    signature: str


def read_signature(request: HttpRequest) -> ParsedSignature | None:
    """The SigV4 fields of ``request``, or None when it carries no signature at all."""
    pairs = _query_pairs(request.query_string)
    names = {name for name, _ in pairs}
    authorization = request.headers.get("authorization")
    if names.intersection((b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature")):
        if authorization is not None:
            raise _malformed(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified"
            )
        return _read_presigned(request, _query_fields(pairs))
    if authorization is not None:
        return _read_authorization(request, authorization)
    if b"AWSAccessKeyId" in names:
        raise SignatureError("unsupported", _UNSUPPORTED)
    return None


def verify(
    request: HttpRequest,
    parsed: ParsedSignature,
    *,
    secret_for: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta = timedelta(minutes=5),
) -> SignedIdentity:
    """Check ``parsed`` (read from ``request``) against the clock and the signer's secret."""
    identity = parsed.identity
    _check_clock(parsed, now=now, max_skew=max_skew)
    secret = secret_for(identity.access_key_id)
    if secret is None:
        raise SignatureError("unknown_key", "The AWS Access Key Id is not in our records.")
    date = parsed.timestamp[:8]
    scope = f"{date}/{identity.region}/{identity.service}/{_TERMINATOR}"
    canonical = hashlib.sha256(_canonical_request(request, parsed).encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{parsed.timestamp}\n{scope}\n{canonical}"
    key = _signing_key(secret, date, identity.region, identity.service)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parsed.signature):
        raise SignatureError("mismatch", _MISMATCH)
    return identity


def _read_authorization(request: HttpRequest, authorization: str) -> ParsedSignature:
    scheme, _, rest = authorization.strip().partition(" ")
    if not scheme:
        raise SignatureError("missing", "Authorization header is empty.")
    if scheme != ALGORITHM:
        raise SignatureError("unsupported", _UNSUPPORTED)
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep or name not in _HEADER_FIELDS or name in fields:
            raise _malformed(f"Authorization header has an invalid part {name[:32]!r}.")
        fields[name] = value.strip()
    for name in _HEADER_FIELDS:
        if name not in fields:
            raise SignatureError("missing", f"Authorization header requires '{name}' parameter.")
    timestamp, signed_at, date_header = _header_date(request.headers)
    signed_headers = _signed_headers(fields["SignedHeaders"], request.headers)
    if date_header not in signed_headers:
        raise _malformed(f"'{date_header}' must be a 'SignedHeader' in the AWS Authorization.")
    access_key_id, region, service = _credential(fields["Credential"], timestamp)
    _check_declared_payload(request.headers, service)
    identity = SignedIdentity(
        access_key_id=access_key_id,
        region=region,
        service=service,
        signed_at=signed_at,
        security_token=request.headers.get("x-amz-security-token"),
        presigned=False,
        expires_at=None,
    )
    signature = _signature(fields["Signature"])
    return ParsedSignature(
        identity=identity, timestamp=timestamp, signed_headers=signed_headers, signature=signature
    )


def _read_presigned(request: HttpRequest, fields: Mapping[str, str]) -> ParsedSignature:
    if any(name not in fields for name in _QUERY_FIELDS[:-1]):
        missing = ", ".join(name for name in _QUERY_FIELDS[:-1] if name not in fields)
        raise SignatureError("missing", f"Presigned request lacks query parameters: {missing}.")
    if fields["X-Amz-Algorithm"] != ALGORITHM:
        raise SignatureError("unsupported", _UNSUPPORTED)
    timestamp = fields["X-Amz-Date"]
    signed_at = _parse_timestamp(timestamp)
    access_key_id, region, service = _credential(fields["X-Amz-Credential"], timestamp)
    _check_declared_payload(request.headers, service)
    identity = SignedIdentity(
        access_key_id=access_key_id,
        region=region,
        service=service,
        signed_at=signed_at,
        security_token=fields.get("X-Amz-Security-Token")
        or request.headers.get("x-amz-security-token"),
        presigned=True,
        expires_at=signed_at + timedelta(seconds=_expires(fields["X-Amz-Expires"])),
    )
    signed_headers = _signed_headers(fields["X-Amz-SignedHeaders"], request.headers)
    signature = _signature(fields["X-Amz-Signature"])
    return ParsedSignature(
        identity=identity, timestamp=timestamp, signed_headers=signed_headers, signature=signature
    )


def _query_pairs(query_string: str) -> list[tuple[bytes, bytes]]:
    # "+" is a space, as S3 reads it and as botocore sends `params` (it signs them as %20);
    # a literal plus arrives as %2B. Bytes, not str, keep invalid UTF-8 exact on re-encoding.
    if not query_string:
        return []
    pairs: list[tuple[bytes, bytes]] = []
    for piece in query_string.replace("+", " ").split("&"):
        name, _, value = piece.partition("=")
        pairs.append((unquote_to_bytes(name), unquote_to_bytes(value)))
    return pairs


def _query_fields(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = raw_name.decode("utf-8", "replace")
        if name in _QUERY_FIELDS:
            if name in fields:
                raise _malformed(f"Query parameter {name} appears twice.")
            fields[name] = raw_value.decode("utf-8", "replace")
    return fields


def _header_date(headers: Mapping[str, str]) -> tuple[str, datetime, str]:
    # X-Amz-Date wins over Date, as on AWS; botocore signs whichever it sends.
    if "x-amz-date" in headers:
        timestamp = headers["x-amz-date"].strip()
        return timestamp, _parse_timestamp(timestamp), "x-amz-date"
    if "date" not in headers:
        raise SignatureError(
            "missing",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    try:
        signed_at = parsedate_to_datetime(headers["date"])
    except (TypeError, ValueError):
        raise _malformed("Date header is not an HTTP date.") from None
    # RFC 5322 "-0000" (what botocore writes) parses as naive but means UTC.
    signed_at = signed_at.replace(tzinfo=UTC) if signed_at.tzinfo is None else signed_at
    signed_at = signed_at.astimezone(UTC)
    return signed_at.strftime(_TIMESTAMP_FORMAT), signed_at, "date"


def _parse_timestamp(timestamp: str) -> datetime:
    # A hand-rolled parse: strptime is slow and accepts one-digit months and days.
    match = _TIMESTAMP.fullmatch(timestamp)
    try:
        if match:
            year, month, day, hour, minute, second = (int(part) for part in match.groups())
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        pass
    raise _malformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")


def _credential(credential: str, timestamp: str) -> tuple[str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or not parts[0]:
        raise _malformed("Credential must be <key>/<date>/<region>/<service>/aws4_request.")
    access_key_id, date, region, service, terminator = parts
    if date != timestamp[:8]:
        raise _malformed(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: {date[:16]!r} != {timestamp[:8]!r}, from {timestamp!r}."
        )
    if not region:
        raise _malformed("Credential should be scoped to a valid region.")
    if not service:
        raise _malformed("Credential should be scoped to correct service.")
    if terminator != _TERMINATOR:
        raise _malformed(
            f"Credential should be scoped with a valid terminator: '{_TERMINATOR}', "
            f"not {terminator[:32]!r}."
        )
    return access_key_id, region, service


def _signed_headers(value: str, headers: Mapping[str, str]) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if any(not name or name != name.lower() for name in names) or list(names) != sorted(set(names)):
        raise _malformed("SignedHeaders must be sorted, distinct, lower-case header names.")
    if "host" not in names:
        raise _malformed("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    for name in names:
        if name not in headers:
            raise _malformed(f"Header {name[:64]!r} is signed but was not sent.")
    return names


def _signature(value: str) -> str:
    # compare_digest needs ASCII, and a malformed signature is not worth a secret lookup.
    if len(value) != 64 or not _HEX.issuperset(value):
        raise _malformed("Signature must be 64 lower-case hexadecimal digits.")
    return value


def _expires(value: str) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 7):
        raise _malformed("X-Amz-Expires should be a number")
    seconds = int(value)
    if seconds < 1:
        raise _malformed("X-Amz-Expires must be positive")
    if seconds > MAX_PRESIGNED_EXPIRES:
        raise _malformed(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES}"
        )
    return seconds


def _check_declared_payload(headers: Mapping[str, str], service: str) -> None:
    declared = headers.get("x-amz-content-sha256")
    if declared is None:
        return
    if declared.startswith("STREAMING-"):
        raise SignatureError("unsupported", "STREAMING-* chunked payloads are not supported.")
    if declared == UNSIGNED_PAYLOAD and service not in _UNSIGNED_PAYLOAD_SERVICES:
        raise SignatureError("unsupported", f"{UNSIGNED_PAYLOAD} is only accepted for s3.")


def _check_clock(parsed: ParsedSignature, *, now: datetime, max_skew: timedelta) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    minutes = f"{max_skew.total_seconds() / 60:g} min."
    if parsed.identity.signed_at - now > max_skew:
        if parsed.identity.presigned:
            raise SignatureError("skewed", "Request is not valid yet")
        raise SignatureError(
            "skewed",
            f"Signature not yet current: {parsed.timestamp} is still later than "
            f"{(now + max_skew):{_TIMESTAMP_FORMAT}} ({now:{_TIMESTAMP_FORMAT}} + {minutes})",
        )
    if parsed.identity.expires_at is not None:
        if now > parsed.identity.expires_at:
            raise SignatureError("expired_url", "Request has expired")
    elif now - parsed.identity.signed_at > max_skew:
        raise SignatureError(
            "skewed",
            f"Signature expired: {parsed.timestamp} is now earlier than "
            f"{(now - max_skew):{_TIMESTAMP_FORMAT}} ({now:{_TIMESTAMP_FORMAT}} - {minutes})",
        )


def _canonical_request(request: HttpRequest, parsed: ParsedSignature) -> str:
    headers = request.headers
    canonical_headers = "".join(
        f"{name}:{' '.join(headers[name].split())}\n" for name in parsed.signed_headers
    )
    return "\n".join(
        (
            request.method.upper(),
            _canonical_uri(request.raw_path, parsed.identity.service),
            _canonical_query(request.query_string, presigned=parsed.identity.presigned),
            canonical_headers,
            ";".join(parsed.signed_headers),
            _payload_hash(request, parsed),
        )
    )


def _canonical_uri(raw_path: str, service: str) -> str:
    if service in _RAW_PATH_SERVICES:
        return raw_path or "/"
    if not raw_path:
        return "/"
    # botocore's remove_dot_segments: drops "." and "", pops on "..", so "//" collapses too.
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    first = "/" if raw_path.startswith("/") else ""
    last = "/" if raw_path.endswith("/") and segments else ""
    # Encoding the already-encoded path again is SigV4's double encoding for non-S3.
    return quote(first + "/".join(segments) + last, safe="/~")


def _canonical_query(query_string: str, *, presigned: bool) -> str:
    encoded = sorted(
        (quote(name, safe=""), quote(value, safe=""))
        for name, value in _query_pairs(query_string)
        if not (presigned and name == b"X-Amz-Signature")
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def _payload_hash(request: HttpRequest, parsed: ParsedSignature) -> str:
    declared = request.headers.get("x-amz-content-sha256")
    if declared is None:
        # Presigned S3 URLs never cover the body; other presigned requests hash it.
        if parsed.identity.presigned and parsed.identity.service in _UNSIGNED_PAYLOAD_SERVICES:
            return UNSIGNED_PAYLOAD
        return hashlib.sha256(request.body).hexdigest()
    if declared != UNSIGNED_PAYLOAD and declared != hashlib.sha256(request.body).hexdigest():
        raise SignatureError(
            "mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    return declared


@functools.lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.digest(f"AWS4{secret}".encode(), date.encode(), "sha256")
    for part in (region, service, _TERMINATOR):
        key = hmac.digest(key, part.encode(), "sha256")
    return key
