"""AWS's error shapes, per protocol, so boto3 and the AWS CLI raise what they would on AWS.

DynamoDB and Cognito speak JSON (``__type`` names the code); STS and IAM speak
the query protocol (an ``ErrorResponse`` XML document); S3 speaks REST-XML.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from xml.sax.saxutils import escape

from agent_zero.iam import Decision, EvaluationResult, PolicyKind


class Wire(StrEnum):
    """How a service encodes its errors."""

    JSON = "json"
    QUERY = "query"
    REST_XML = "rest-xml"


WIRE_OF_SERVICE = {
    "dynamodb": Wire.JSON,
    "cognito-idp": Wire.JSON,
    "sts": Wire.QUERY,
    "iam": Wire.QUERY,
    "s3": Wire.REST_XML,
}
_JSON_CONTENT_TYPE = {
    "dynamodb": "application/x-amz-json-1.0",
    "cognito-idp": "application/x-amz-json-1.1",
    "execute-api": "application/json",  # API Gateway's management API speaks REST-JSON
}
_QUERY_NAMESPACE = {
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}


class AwsError(Exception):
    """An error answered to the client in its service's own shape."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A complete HTTP response."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def wire_of(service: str) -> Wire:
    """The error encoding of a service (JSON for anything unknown)."""
    return WIRE_OF_SERVICE.get(service, Wire.JSON)


def render(service: str, error: AwsError) -> HttpAnswer:
    """Encode ``error`` as ``service`` would."""
    request_id = str(uuid.uuid4())
    wire = wire_of(service)
    if wire is Wire.JSON:
        prefix = "com.amazon.coral.service#" if service == "dynamodb" else ""
        field = "Message" if service == "dynamodb" else "message"
        body = json.dumps({"__type": prefix + error.code, field: error.message}).encode()
        content_type = _JSON_CONTENT_TYPE.get(service, "application/x-amz-json-1.1")
        headers = (
            ("Content-Type", content_type),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", f"{error.code}:"),
        )
        return HttpAnswer(error.status, headers, body)
    if wire is Wire.QUERY:
        namespace = _QUERY_NAMESPACE.get(service, _QUERY_NAMESPACE["sts"])
        kind = "Receiver" if error.status >= 500 else "Sender"
        text = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return HttpAnswer(
            error.status,
            (("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)),
            text.encode(),
        )
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>agent-zero-sandbox</HostId></Error>"
    )
    return HttpAnswer(
        error.status,
        (("Content-Type", "application/xml"), ("x-amz-request-id", request_id)),
        text.encode(),
    )


_EXPLICIT = {
    PolicyKind.IDENTITY: "an identity-based policy",
    PolicyKind.SESSION: "a session policy",
    PolicyKind.PERMISSIONS_BOUNDARY: "a permissions boundary",
    PolicyKind.RESOURCE: "a resource-based policy",
}
_IMPLICIT = {
    PolicyKind.IDENTITY: "identity-based policy",
    PolicyKind.SESSION: "session policy",
    PolicyKind.PERMISSIONS_BOUNDARY: "permissions boundary",
    PolicyKind.RESOURCE: "resource-based policy",
}


def access_denied(
    service: str, *, caller_arn: str, action: str, resource: str, result: EvaluationResult
) -> AwsError:
    """AWS's AccessDenied, with its "User: ... is not authorized to perform: ..." message."""
    head = f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"
    denied_by = result.denied_by or PolicyKind.IDENTITY
    if result.decision is Decision.EXPLICIT_DENY:
        message = f"{head} with an explicit deny in {_EXPLICIT[denied_by]}"
    else:
        message = f"{head} because no {_IMPLICIT[denied_by]} allows the {action} action"
    if service == "execute-api":
        return AwsError("ForbiddenException", message, 403)
    wire = wire_of(service)
    if wire is Wire.JSON:
        return AwsError("AccessDeniedException", message, 400)
    if wire is Wire.REST_XML:
        return AwsError("AccessDenied", message, 403)
    return AwsError("AccessDenied", message, 403)


# How each authentication failure is spelled per protocol: (code, HTTP status).
_AUTH_CODES: dict[str, dict[Wire, tuple[str, int]]] = {
    "missing": {
        Wire.JSON: ("MissingAuthenticationTokenException", 400),
        Wire.QUERY: ("MissingAuthenticationToken", 403),
        Wire.REST_XML: ("AccessDenied", 403),
    },
    "malformed": {
        Wire.JSON: ("IncompleteSignatureException", 400),
        Wire.QUERY: ("IncompleteSignature", 403),
        Wire.REST_XML: ("AuthorizationHeaderMalformed", 400),
    },
    "unsupported": {
        Wire.JSON: ("IncompleteSignatureException", 400),
        Wire.QUERY: ("IncompleteSignature", 403),
        Wire.REST_XML: ("InvalidRequest", 400),
    },
    "unknown_key": {
        Wire.JSON: ("UnrecognizedClientException", 400),
        Wire.QUERY: ("InvalidClientTokenId", 403),
        Wire.REST_XML: ("InvalidAccessKeyId", 403),
    },
    "invalid_token": {
        Wire.JSON: ("UnrecognizedClientException", 400),
        Wire.QUERY: ("InvalidClientTokenId", 403),
        Wire.REST_XML: ("InvalidToken", 400),
    },
    "mismatch": {
        Wire.JSON: ("InvalidSignatureException", 400),
        Wire.QUERY: ("SignatureDoesNotMatch", 403),
        Wire.REST_XML: ("SignatureDoesNotMatch", 403),
    },
    "skewed": {
        Wire.JSON: ("InvalidSignatureException", 400),
        Wire.QUERY: ("SignatureDoesNotMatch", 403),
        Wire.REST_XML: ("RequestTimeTooSkewed", 403),
    },
    "expired_url": {
        Wire.JSON: ("InvalidSignatureException", 400),
        Wire.QUERY: ("ExpiredToken", 403),
        Wire.REST_XML: ("AccessDenied", 403),
    },
    "expired_token": {
        Wire.JSON: ("ExpiredTokenException", 400),
        Wire.QUERY: ("ExpiredToken", 403),
        Wire.REST_XML: ("ExpiredToken", 400),
    },
}
_AUTH_MESSAGES = {
    "unknown_key": "The security token included in the request is invalid.",
    "invalid_token": "The security token included in the request is invalid.",
    "expired_token": "The security token included in the request is expired",
    "missing": "Request is missing Authentication Token",
}


def authentication_failed(service: str, kind: str, message: str = "") -> AwsError:
    """The error AWS answers when a request's signature or token does not hold."""
    code, status = _AUTH_CODES.get(kind, _AUTH_CODES["malformed"])[wire_of(service)]
    return AwsError(code, _AUTH_MESSAGES.get(kind) or message or "Authentication failed", status)
