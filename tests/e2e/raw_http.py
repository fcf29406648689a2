"""A hand-rolled SigV4 signer and raw sender, for requests no SDK would build.

botocore normalises what it signs; attacks need exact request targets, repeated
headers and unsigned extras, so this signs the canonical request as given.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote, unquote_to_bytes

from botocore.credentials import Credentials

from e2e.conftest import REGION, RunningSandbox


def sign_and_send(
    running: RunningSandbox,
    credentials: Credentials,
    service: str,
    *,
    method: str = "POST",
    target: str = "/",
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    unsigned_headers: Sequence[tuple[str, str]] = (),
    region: str = REGION,
) -> tuple[int, bytes]:
    """Sign ``target`` as the canonical path, send it verbatim; unsigned headers go last."""
    hostport = running.endpoint.split("//", 1)[1]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    signed = {"host": hostport, "x-amz-date": stamp}
    payload_hash = hashlib.sha256(body).hexdigest()
    signed["x-amz-content-sha256"] = payload_hash
    if credentials.token:
        signed["x-amz-security-token"] = credentials.token
    signed.update({name.lower(): value for name, value in (headers or {}).items()})
    payload_hash = signed["x-amz-content-sha256"]  # UNSIGNED-PAYLOAD when a test says so
    pairs = []
    for piece in query.split("&") if query else []:
        name, _, value = piece.partition("=")
        pairs.append(
            (
                quote(unquote_to_bytes(name), safe="-_.~"),
                quote(unquote_to_bytes(value), safe="-_.~"),
            )
        )
    canonical_query = "&".join(f"{n}={v}" for n, v in sorted(pairs))
    names = sorted(signed)
    canonical_headers = "".join(f"{n}:{' '.join(signed[n].split())}\n" for n in names)
    canonical = "\n".join(
        [method, target, canonical_query, canonical_headers, ";".join(names), payload_hash]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = (
        f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    key = ("AWS4" + credentials.secret_key).encode()
    for part in (stamp[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    connection = http.client.HTTPConnection(hostport, timeout=30)
    try:
        request_target = target + (f"?{query}" if query else "")
        connection.putrequest(method, request_target, skip_host=True, skip_accept_encoding=True)
        for name, value in signed.items():
            connection.putheader(name, value)
        for name, value in unsigned_headers:
            connection.putheader(name, value)
        if body:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
