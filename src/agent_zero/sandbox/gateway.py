"""The IAM gateway: the sandbox's one AWS endpoint, enforcing IAM in front of moto.

Every request is read once, its SigV4 signature verified, its signer resolved
(root, IAM user, or an STS session the gateway minted), the operation read into
IAM checks, and each check evaluated with ``agent_zero.iam``. Only then does the
request reach moto, in this process. Denials are answered in the service's own
error shape. STS is answered here. Cognito's public operations (sign-in, the
JWKS) are unsigned on AWS too and pass without IAM.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from agent_zero.sandbox import sts
from agent_zero.sandbox.aws_errors import AwsError, HttpAnswer, authentication_failed, render
from agent_zero.sandbox.callers import (
    Caller,
    request_context,
    require_allowed,
    resolve_caller,
    secret_for,
)
from agent_zero.sandbox.console import FederationEndpoint
from agent_zero.sandbox.forwarding import (
    MAX_BODY_BYTES,
    MAX_UNSIGNED_BODY_BYTES,
    check_raw_request,
    check_request_shape,
    declared_length,
    jwks_request,
    pin_for_moto,
    require_signed_amz_headers,
    unsigned_public_cognito,
)
from agent_zero.sandbox.moto_host import MotoHost
from agent_zero.sandbox.operations import Operation, header, read_operation
from agent_zero.sandbox.sessions import GatewayState
from agent_zero.sandbox.sigv4 import HttpRequest, SignatureError, read_signature, verify

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)
Clock = Callable[[], datetime]
RAW_HEADERS = "agent_zero.raw_headers"
_PUBLIC_COGNITO = frozenset(
    f"AWSCognitoIdentityProviderService.{name}"
    for name in (
        # Sign-in and token use only. moto does not check confirmation codes, the pool's
        # admin-only sign-up setting or the client's writable attributes, so SignUp,
        # ConfirmSignUp, ForgotPassword/ConfirmForgotPassword and ChangePassword would
        # let anyone create users or take over accounts: they are refused.
        "InitiateAuth", "RespondToAuthChallenge", "GetUser", "GlobalSignOut", "RevokeToken",
        "GetTokensFromRefreshToken",
    )
)  # fmt: skip
_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    503: "Service Unavailable",
}


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def _status_line(status: int) -> str:
    return f"{status} {_STATUS_TEXT.get(status, 'Error')}"


def _read_body(environ: WSGIEnvironment, *, limit: int) -> bytes:
    # Read once, at most ``limit`` bytes; moto gets a rewound copy with an exact length.
    stream = environ["wsgi.input"]
    length = declared_length(environ, limit=limit)
    if length is not None:
        body: bytes = stream.read(length)
    elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise AwsError(
                "RequestEntityTooLarge", f"the sandbox accepts bodies of at most {limit} bytes", 413
            )
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)
    return body


def http_request(environ: WSGIEnvironment, body: bytes) -> HttpRequest:
    """The request as sent: raw path and query, headers with their names."""
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    raw_path, _, query = raw_uri.partition("?")
    pairs: Iterable[tuple[str, str]] | None = environ.get(RAW_HEADERS)
    if pairs is None:
        pairs = [
            (key[5:].replace("_", "-").lower(), value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        if environ.get("CONTENT_TYPE"):
            pairs = [*pairs, ("content-type", environ["CONTENT_TYPE"])]
    headers: dict[str, str] = {}
    for name, value in pairs:
        lowered = name.lower()
        headers[lowered] = f"{headers[lowered]},{value}" if lowered in headers else value
    return HttpRequest(environ["REQUEST_METHOD"], raw_path or "/", query, headers, body)


class Gateway:
    """The WSGI application in front of moto."""

    def __init__(
        self,
        *,
        moto: MotoHost,
        state: GatewayState,
        region: str,
        clock: Clock = utc_now,
        max_skew: timedelta = timedelta(minutes=5),
    ) -> None:
        self.moto = moto
        self.state = state
        self.region = region
        self.clock = clock
        self.max_skew = max_skew
        self.federation = FederationEndpoint(state=state, moto=moto)
        self._in_flight = 0
        self._closing = False
        self._quiet = threading.Condition()

    # --- lifecycle: a clean stop waits for acknowledged writes ------------------------

    def close(self, timeout: float = 10.0) -> bool:
        """Refuse new requests and wait for those in flight; False if some never ended."""
        with self._quiet:
            self._closing = True
            return self._quiet.wait_for(lambda: self._in_flight == 0, timeout)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self._quiet:
            if self._closing:
                return self._answer(
                    start_response,
                    render(
                        "dynamodb", AwsError("ServiceUnavailable", "the sandbox is stopping", 503)
                    ),
                )
            self._in_flight += 1
        try:
            return self._handle(environ, start_response)
        except Exception:
            # Fail closed, in AWS's shape, and never with a traceback on the wire.
            logger.exception("the gateway failed on a request")
            failure = AwsError("InternalFailure", "the sandbox could not process the request", 500)
            return self._answer(start_response, render("dynamodb", failure))
        finally:
            with self._quiet:
                self._in_flight -= 1
                self._quiet.notify_all()

    # --- the request path --------------------------------------------------------------

    def _handle(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz" and environ["REQUEST_METHOD"] == "GET":
            return self._json(
                start_response, 200, {"status": "ok", "account_id": self.state.account_id}
            )
        if path == "/federation" and environ["REQUEST_METHOD"] == "GET":
            try:
                status, content_type, body = self.federation.handle(
                    environ.get("QUERY_STRING", ""), self.clock()
                )
            except AwsError as error:
                return self._answer(start_response, render("sts", error))
            answer = HttpAnswer(status, (("Content-Type", content_type),), body)
            return self._answer(start_response, answer)
        if path.startswith("/moto-api"):
            # moto's control API (reset, recorder) has no auth and never leaves the process.
            return self._answer(
                start_response, render("s3", AwsError("NotFound", "no such path", 404))
            )
        service = "dynamodb"
        try:
            # The signature's claims are read before the body: an unknown key or an
            # unsigned request never makes the gateway buffer a large body.
            raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or "/"
            raw_names = [name for name, _ in environ.get(RAW_HEADERS, [])]
            check_raw_request(raw_uri, raw_names)
            parsed = read_signature(http_request(environ, b""))
            if parsed is not None:
                service = parsed.identity.service
                if (
                    secret_for(parsed.identity.access_key_id, state=self.state, moto=self.moto)
                    is None
                ):
                    raise authentication_failed(service, "unknown_key")
            limit = MAX_BODY_BYTES if parsed is not None else MAX_UNSIGNED_BODY_BYTES
            request = http_request(environ, _read_body(environ, limit=limit))
            if parsed is None:
                return self._unsigned(environ, start_response, request)
            now = self.clock()
            identity = verify(
                request,
                parsed,
                secret_for=lambda key: secret_for(key, state=self.state, moto=self.moto),
                now=now,
                max_skew=self.max_skew,
            )
            caller = resolve_caller(
                identity, state=self.state, moto=self.moto, service=service, now=now
            )
            require_signed_amz_headers(request, parsed.signed_headers)
            check_request_shape(service, request)
            region = identity.region
            operation = read_operation(
                service,
                request,
                region=region,
                account=self.state.account_id,
                keys_of=lambda table: self.moto.table_keys(region, table),
                names=self.moto,
                caller_arn=caller.arn,
                domain_pool_of=self.moto.cognito_domain_pool,
            )
            base = request_context(
                caller, region=region, source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"), now=now
            )
            if service == "sts":
                return self._sts(start_response, caller, operation, base, now)
            for check in operation.checks:
                require_allowed(caller, check, service=service, base_context=base)
        except SignatureError as error:
            return self._answer(
                start_response,
                render(service, authentication_failed(service, error.kind, error.message)),
            )
        except AwsError as error:
            return self._answer(start_response, render(service, error))
        pin_for_moto(environ, service=service, operation=operation.name, region=region)
        return self._forward(service, operation, environ, start_response)

    def _unsigned(
        self, environ: WSGIEnvironment, start_response: StartResponse, request: HttpRequest
    ) -> Iterable[bytes]:
        target = header(request, "x-amz-target") or ""
        if unsigned_public_cognito(request, _PUBLIC_COGNITO):
            operation = target.rpartition(".")[2]
            pin_for_moto(environ, service="cognito-idp", operation=operation, region=self.region)
            answer = self.moto.dispatch("cognito-idp", environ, start_response)
            self.state.touch()  # after the write, or a snapshot in between could miss it
            return answer
        if jwks_request(request):
            pin_for_moto(environ, service="jwks", operation="", region=self.region)
            return self.moto.dispatch("cognito-idp", environ, start_response)
        service = "dynamodb" if target.startswith("DynamoDB") else "s3" if not target else "sts"
        if target.startswith("AWSCognito"):
            service = "cognito-idp"
        return self._answer(
            start_response, render(service, authentication_failed(service, "missing"))
        )

    def _sts(
        self,
        start_response: StartResponse,
        caller: Caller,
        operation: Operation,
        base: dict[str, str | list[str]],
        now: datetime,
    ) -> Iterable[bytes]:
        if operation.name == "GetCallerIdentity":
            return self._xml(start_response, sts.get_caller_identity(caller))
        if operation.name == "AssumeRole":
            self.state.forget_expired(now)  # keeps the state file from growing forever
            body = sts.assume_role(
                caller,
                operation.parameters,
                state=self.state,
                role_of=self.moto.role,
                base_context=base,
                now=now,
            )
            return self._xml(start_response, body)
        raise AwsError(
            "InvalidAction", f"the sandbox's STS does not implement {operation.name}", 400
        )

    def _forward(
        self,
        service: str,
        operation: Operation,
        environ: WSGIEnvironment,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        answer = self.moto.dispatch(service, environ, start_response)
        if operation.mutating:
            self.state.touch()
        return answer

    # --- answers ----------------------------------------------------------------------

    @staticmethod
    def _answer(start_response: StartResponse, answer: HttpAnswer) -> list[bytes]:
        headers = [*answer.headers, ("Content-Length", str(len(answer.body)))]
        start_response(_status_line(answer.status), headers)
        return [answer.body]

    def _json(self, start_response: StartResponse, status: int, payload: object) -> list[bytes]:
        body = json.dumps(payload).encode()
        return self._answer(
            start_response, HttpAnswer(status, (("Content-Type", "application/json"),), body)
        )

    def _xml(self, start_response: StartResponse, body: bytes) -> list[bytes]:
        return self._answer(start_response, HttpAnswer(200, (("Content-Type", "text/xml"),), body))
