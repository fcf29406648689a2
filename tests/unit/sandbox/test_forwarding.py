"""The request forms the gateway refuses because moto could read them differently."""

from __future__ import annotations

import pytest

from agent_zero.sandbox.aws_errors import AwsError
from agent_zero.sandbox.forwarding import (
    check_raw_request,
    check_request_shape,
    jwks_request,
    pin_for_moto,
    unsigned_public_cognito,
)
from agent_zero.sandbox.sigv4 import HttpRequest

PUBLIC = frozenset({"AWSCognitoIdentityProviderService.InitiateAuth"})


@pytest.mark.parametrize(
    ("raw_uri", "headers"),
    [
        ("http://127.0.0.1:4566/secret/k", []),
        ("//bucket/key", []),
        ("/", ["Content-Type", "content-type"]),
        ("/", ["X-Amz-Target", "X-Amz-Target"]),
        ("/", ["Host", "host"]),
    ],
)
def test_ambiguous_request_lines_and_headers_are_refused(raw_uri: str, headers: list[str]) -> None:
    with pytest.raises(AwsError):
        check_raw_request(raw_uri, headers)


def test_ordinary_requests_pass_the_raw_checks() -> None:
    check_raw_request("/bucket/a%20b?x=1", ["Host", "X-Amz-Date", "Authorization", "Accept"])


@pytest.mark.parametrize(
    ("service", "http_request"),
    [
        ("dynamodb", HttpRequest("POST", "/", "Action=Scan", {}, b"{}")),
        ("dynamodb", HttpRequest("POST", "/other", "", {}, b"{}")),
        ("dynamodb", HttpRequest("POST", "/", "", {"Content-Encoding": "gzip"}, b"{}")),
        ("s3", HttpRequest("GET", "/b", "prefix=a&prefix=b", {"Host": "127.0.0.1:4566"}, b"")),
        ("s3", HttpRequest("GET", "/b/k", "", {"Host": "secret.s3.local"}, b"")),
    ],
)
def test_request_shapes_that_moto_reads_differently_are_refused(
    service: str, http_request: HttpRequest
) -> None:
    with pytest.raises(AwsError):
        check_request_shape(service, http_request)


def test_moto_is_told_the_authorized_operation_region_and_body_type() -> None:
    environ = {
        "SERVER_PORT": "4566",
        "HTTP_HOST": "dynamodb.eu-west-1.amazonaws.com",
        "HTTP_USER_AGENT": "x region/eu-west-1",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_CONTENT_ENCODING": "gzip",
    }
    pin_for_moto(environ, service="dynamodb", operation="GetItem", region="us-west-2")
    assert environ["HTTP_HOST"] == "127.0.0.1:4566"
    assert environ["HTTP_USER_AGENT"].endswith("region/us-west-2")
    assert environ["QUERY_STRING"] == "Action=GetItem"
    assert environ["CONTENT_TYPE"] == "application/x-amz-json-1.0"
    assert "HTTP_CONTENT_ENCODING" not in environ


def test_only_exact_public_cognito_calls_and_jwks_gets_are_unsigned() -> None:
    target = {"X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"}
    assert unsigned_public_cognito(HttpRequest("POST", "/", "", target, b"{}"), PUBLIC)
    assert not unsigned_public_cognito(
        HttpRequest("POST", "/", "Action=AdminCreateUser", target, b"{}"), PUBLIC
    )
    assert not unsigned_public_cognito(HttpRequest("POST", "/x", "", target, b"{}"), PUBLIC)
    assert jwks_request(HttpRequest("GET", "/us-east-1_abc/.well-known/jwks.json", "", {}, b""))
    assert not jwks_request(HttpRequest("GET", "/a/b/.well-known/jwks.json", "", {}, b""))
    assert not jwks_request(
        HttpRequest("POST", "/us-east-1_abc/.well-known/jwks.json", "", {}, b"")
    )
