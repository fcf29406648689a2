"""API Gateway in front of a Lambda handler, as an httpx transport: each request becomes the
event API Gateway would send (REST API v1 proxy with IAM authorization, or HTTP API v2), and
the handler's answer becomes the HTTP response. The handler runs in-process."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import httpx

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
SOURCE_IP = "203.0.113.9"


class LambdaContext:
    """The attributes Mangum and our handlers read from Lambda's context object."""

    function_name = "agent-zero-test"
    aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def _body(request: httpx.Request) -> tuple[str | None, bool]:
    raw = request.read()
    if not raw:
        return None, False
    try:
        return raw.decode(), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode(), True


def _response(request: httpx.Request, answer: dict[str, Any]) -> httpx.Response:
    headers: list[tuple[str, str]] = list((answer.get("headers") or {}).items())
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers.extend((name, value) for value in values)
    headers.extend(("set-cookie", cookie) for cookie in answer.get("cookies") or [])
    body = answer.get("body") or ""
    content = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
    return httpx.Response(
        int(answer["statusCode"]), headers=headers, content=content, request=request
    )


class RestApiIamTransport(httpx.BaseTransport):
    """A REST API whose methods use AWS_IAM: ``caller_arn`` is who API Gateway verified."""

    def __init__(self, handler: Handler, *, caller_arn: str, account_id: str) -> None:
        self.handler = handler
        self.caller_arn = caller_arn
        self.account_id = account_id

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body, encoded = _body(request)
        multi: dict[str, list[str]] = {}
        for name, value in request.headers.multi_items():
            multi.setdefault(name, []).append(value)
        query = dict(request.url.params.multi_items())
        path = request.url.path
        event = {
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": request.method,
            "headers": {name: values[-1] for name, values in multi.items()},
            "multiValueHeaders": multi,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: request.url.params.get_list(k) for k in query}
            or None,
            "pathParameters": {"proxy": path.lstrip("/")},
            "stageVariables": None,
            "requestContext": {
                "resourcePath": "/{proxy+}",
                "httpMethod": request.method,
                "path": f"/prod{path}",
                "accountId": self.account_id,
                "stage": "prod",
                "apiId": "rest123abc",
                "domainName": request.url.host,
                "requestId": uuid.uuid4().hex,
                "identity": {
                    "userArn": self.caller_arn,
                    "caller": "AROATESTAGENT:session",
                    "accountId": self.account_id,
                    "sourceIp": SOURCE_IP,
                    "userAgent": request.headers.get("user-agent", ""),
                },
            },
            "body": body,
            "isBase64Encoded": encoded,
        }
        return _response(request, self.handler(event, LambdaContext()))


class HttpApiTransport(httpx.BaseTransport):
    """An HTTP API ($default route, payload format 2.0) with no authorizer."""

    def __init__(self, handler: Handler, *, account_id: str) -> None:
        self.handler = handler
        self.account_id = account_id

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body, encoded = _body(request)
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in request.headers.multi_items():
            if name.lower() == "cookie":
                cookies.extend(part.strip() for part in value.split(";") if part.strip())
                continue
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": request.url.path,
            "rawQueryString": request.url.query.decode(),
            "cookies": cookies,
            "headers": headers,
            "requestContext": {
                "accountId": self.account_id,
                "apiId": "http123abc",
                "domainName": request.url.host,
                "domainPrefix": request.url.host.split(".")[0],
                "http": {
                    "method": request.method,
                    "path": request.url.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": SOURCE_IP,
                    "userAgent": request.headers.get("user-agent", ""),
                },
                "requestId": uuid.uuid4().hex,
                "routeKey": "$default",
                "stage": "$default",
            },
            "body": body,
            "isBase64Encoded": encoded,
        }
        if not cookies:
            del event["cookies"]
        return _response(request, self.handler(event, LambdaContext()))
