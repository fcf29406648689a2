"""A SigV4 signer for requests no SDK would sign: any time, scope, secret and header set.

botocore signs what it sends and normalises on the way; attacks need a stale timestamp,
a scope for another service or region, a header left out of the signature or a body
changed after signing. The canonical request is built as botocore builds it for
non-S3 services (the path encoded once more, the query sorted).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote, unquote_to_bytes, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


def _canonical_query(query: str) -> str:
    pairs = []
    for piece in query.split("&") if query else []:
        name, _, value = piece.partition("=")
        pairs.append(
            (
                quote(unquote_to_bytes(name), safe="-_.~"),
                quote(unquote_to_bytes(value), safe="-_.~"),
            )
        )
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def sigv4_headers(
    method: str,
    url: str,
    *,
    body: bytes,
    key_id: str,
    secret: str,
    region: str,
    service: str,
    when: datetime | None = None,
    session_token: str | None = None,
    headers: Mapping[str, str] | None = None,
    unsigned: Iterable[str] = (),
    payload_hash: str | None = None,
) -> dict[str, str]:
    """The headers to send: ``headers`` (signed unless named in ``unsigned``), Host,
    X-Amz-Date, the session token if any, and Authorization."""
    parts = urlsplit(url)
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    every = {"host": parts.netloc, "x-amz-date": stamp}
    if session_token is not None:
        every["x-amz-security-token"] = session_token
    every.update({name.lower(): value for name, value in (headers or {}).items()})
    left_out = {name.lower() for name in unsigned}
    signed = {name: value for name, value in every.items() if name not in left_out}
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            quote(parts.path or "/", safe="/~"),
            _canonical_query(parts.query),
            "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in names),
            ";".join(names),
            payload_hash or hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"
    key = ("AWS4" + secret).encode()
    for part in (stamp[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    every["authorization"] = (
        f"{ALGORITHM} Credential={key_id}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    return every
