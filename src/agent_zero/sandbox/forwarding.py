"""Make moto execute exactly the request the gateway authorized.

The gateway decides what a request is from its own reading; moto reads the same
bytes its own way: the operation from ``?Action=`` before ``X-Amz-Target``, the
region from the Host, the User-Agent or anywhere in the URL, the S3 bucket from
a virtual-host Host, the first of repeated form fields. Every such ambiguity is
either refused here or pinned before moto sees the request, so the two readings
cannot differ.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from agent_zero.sandbox.aws_errors import AwsError
from agent_zero.sandbox.sigv4 import HttpRequest

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_UNSIGNED_BODY_BYTES = 64 * 1024
JSON_SERVICES = frozenset({"dynamodb", "cognito-idp"})
QUERY_SERVICES = frozenset({"iam", "sts"})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
_FORM = "application/x-www-form-urlencoded"
_JWKS_PATH = re.compile(r"/[A-Za-z0-9_-]{1,64}/\.well-known/(?:jwks\.json|openid-configuration)")


def declared_length(environ: WSGIEnvironment, *, limit: int) -> int | None:
    """The body length the client declared, refused when malformed or over ``limit``."""
    raw = environ.get("CONTENT_LENGTH") or ""
    if raw == "":
        return None
    if not raw.isdigit():
        raise AwsError("InvalidRequest", "Content-Length must be a non-negative integer", 400)
    length = int(raw)
    if length > limit:
        raise AwsError(
            "RequestEntityTooLarge", f"the sandbox accepts bodies of at most {limit} bytes", 413
        )
    return length


def host_name(request: HttpRequest) -> str:
    """The Host header without its port."""
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def unsigned_public_cognito(request: HttpRequest, public_targets: frozenset[str]) -> bool:
    """A public Cognito call (sign-in and friends), shaped exactly as boto3 sends one."""
    return (
        request.method == "POST"
        and request.raw_path == "/"
        and request.query_string == ""
        and request.headers.get("x-amz-target", "") in public_targets
    )


def jwks_request(request: HttpRequest) -> bool:
    """A GET of a pool's JWKS or OpenID configuration, nothing else on the path."""
    return (
        request.method == "GET"
        and request.query_string == ""
        and not request.body
        and _JWKS_PATH.fullmatch(request.raw_path) is not None
    )


def require_signed_amz_headers(request: HttpRequest, signed_headers: tuple[str, ...]) -> None:
    """Every ``x-amz-*`` header must be signed: an unsigned one could change the operation."""
    unsigned = sorted(
        name for name in request.headers if name.startswith("x-amz-") and name not in signed_headers
    )
    if unsigned:
        raise AwsError(
            "IncompleteSignatureException",
            f"the headers {unsigned} must be signed (include them in SignedHeaders)",
            400,
        )


def check_request_shape(service: str, request: HttpRequest) -> None:
    """Refuse the request forms on which the gateway and moto could disagree."""
    if service != "s3" and request.headers.get("content-encoding"):
        raise AwsError("InvalidRequest", "compressed request bodies are not accepted", 400)
    if service in JSON_SERVICES and (request.raw_path != "/" or request.query_string):
        raise AwsError(
            "ValidationException",
            f"{service} calls are POSTs to / with the operation in X-Amz-Target, no query string",
            400,
        )
    if service in QUERY_SERVICES:
        query_parameters(request)  # raises on duplicates or split parameters
    if service == "s3":
        names = [name for name, _ in parse_qsl(request.query_string, keep_blank_values=True)]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise AwsError("InvalidArgument", f"query parameters {repeated} are repeated", 400)
    if service == "s3" and host_name(request) not in _LOOPBACK_HOSTS:
        raise AwsError(
            "InvalidRequest",
            "the sandbox serves S3 path-style only (http://127.0.0.1:<port>/<bucket>/<key>)",
            400,
        )


def query_parameters(request: HttpRequest) -> dict[str, str]:
    """Query-protocol parameters from one place only, each named once."""
    try:
        body = request.body.decode("utf-8") if request.body else ""
    except UnicodeDecodeError:
        raise AwsError("MalformedQueryString", "the parameter body is not UTF-8") from None
    if body and request.query_string:
        raise AwsError(
            "MalformedQueryString", "send parameters in the query string or the body, not both"
        )
    if body and request.headers.get("content-type", "").split(";")[0].strip().lower() != _FORM:
        raise AwsError("MalformedQueryString", f"a parameter body must be {_FORM}")
    pairs = parse_qsl(body or request.query_string, keep_blank_values=True)
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise AwsError("MalformedQueryString", f"parameters {repeated} are given more than once")
    return dict(pairs)


_JSON_CONTENT_TYPE = {
    "dynamodb": "application/x-amz-json-1.0",
    "cognito-idp": "application/x-amz-json-1.1",
}


def pin_for_moto(environ: WSGIEnvironment, *, service: str, operation: str, region: str) -> None:
    """Pin what moto reads from the environment to what the gateway authorized."""
    environ["HTTP_HOST"] = f"127.0.0.1:{environ.get('SERVER_PORT', '80')}"  # no region or bucket
    environ["SERVER_NAME"] = "127.0.0.1"
    # moto takes the region from "region/<name>" in the User-Agent before the signature.
    environ["HTTP_USER_AGENT"] = f"agent-zero-gateway region/{region}"
    environ.pop("HTTP_CONTENT_ENCODING", None)  # refused earlier unless S3 object metadata
    if service in JSON_SERVICES:
        # moto takes the operation from a query-string (or form-parsed body) "Action"
        # before X-Amz-Target: name the authorized operation there, as JSON, so that
        # neither the query string nor the body can name another one.
        environ["QUERY_STRING"] = f"Action={operation}"
        environ["CONTENT_TYPE"] = _JSON_CONTENT_TYPE[service]
    elif service in QUERY_SERVICES and environ.get("CONTENT_LENGTH", "0") != "0":
        environ["CONTENT_TYPE"] = _FORM


# Headers whose meaning changes how moto reads the request: one copy each.
_SINGLE_HEADERS = frozenset(
    {
        "host", "content-type", "content-encoding", "content-length", "transfer-encoding",
        "authorization", "x-amz-target", "x-amz-date", "x-amz-security-token",
        "x-amz-content-sha256", "x-amz-copy-source", "user-agent",
    }
)  # fmt: skip


def check_raw_request(raw_uri: str, header_names: list[str]) -> None:
    """Refuse request lines and header sets that two parsers could read differently."""
    if not raw_uri.startswith("/") or raw_uri.startswith("//"):
        raise AwsError(
            "InvalidRequest", "the request target must be a path starting with a single /", 400
        )
    lowered = [name.lower() for name in header_names]
    repeated = sorted(
        {name for name in lowered if name in _SINGLE_HEADERS and lowered.count(name) > 1}
    )
    if repeated:
        raise AwsError("InvalidRequest", f"the headers {repeated} may appear only once", 400)
