"""SigV4 verification against requests signed by botocore's own signers."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from botocore.auth import (
    HmacV1Auth,
    HmacV1QueryAuth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV4Auth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from agent_zero.sandbox.sigv4 import (
    HttpRequest,
    ParsedSignature,
    SignatureError,
    SignedIdentity,
    read_signature,
    verify,
)

AKID = "AKIDSIGV4TESTKEY0001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzSECRETzKEY"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDA+token=="
CREDENTIALS = Credentials(AKID, SECRET)
ENDPOINT = "http://localhost:4566"
SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"


def secret_for(access_key_id: str) -> str | None:
    return SECRET if access_key_id == AKID else None


def sign(
    signer: type[SigV4Auth],
    service: str,
    *,
    method: str = "GET",
    url: str = ENDPOINT + "/",
    headers: Mapping[str, str] | None = None,
    data: bytes | str = b"",
    params: Mapping[str, str] | None = None,
    credentials: Credentials = CREDENTIALS,
    context: dict[str, Any] | None = None,
    **signer_options: Any,
) -> HttpRequest:
    """Sign with botocore and hand the prepared request over as the gateway would see it."""
    request = AWSRequest(
        method=method, url=url, headers=dict(headers or {}), data=data, params=params or {}
    )
    request.context.update(context or {})
    signer(credentials, service, "us-east-1", **signer_options).add_auth(request)
    return to_http(request)


def to_http(request: AWSRequest) -> HttpRequest:
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    headers = {
        name: value.decode() if isinstance(value, bytes) else value
        for name, value in prepared.headers.items()
    }
    # The HTTP client adds Host from the URL, port included when it is not the default.
    if "host" not in {name.lower() for name in headers}:
        headers["Host"] = url.netloc
    body = prepared.body or b""
    return HttpRequest(
        method=prepared.method,
        raw_path=url.path or "/",
        query_string=url.query,
        headers=headers,
        body=body.encode() if isinstance(body, str) else body,
    )


def signing_time(request: HttpRequest) -> datetime:
    """X-Amz-Date as botocore wrote it, read independently of the module under test."""
    stamp = request.headers.get("x-amz-date") or dict(parse_qsl(request.query_string))["X-Amz-Date"]
    return datetime.strptime(stamp, SIGV4_TIMESTAMP).replace(tzinfo=UTC)


def check(
    request: HttpRequest,
    *,
    now: datetime | None = None,
    secrets: Callable[[str], str | None] = secret_for,
) -> SignedIdentity:
    parsed = read_signature(request)
    assert parsed is not None
    return verify(request, parsed, secret_for=secrets, now=now or signing_time(request))


def rejection(
    request: HttpRequest,
    *,
    now: datetime | None = None,
    secrets: Callable[[str], str | None] = secret_for,
) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        check(request, now=now, secrets=secrets)
    # Neither the secret nor any signature (the expected one included) may leak into the text.
    assert SECRET not in str(caught.value)
    assert not re.search("[0-9a-f]{64}", caught.value.message)
    return caught.value


def with_headers(request: HttpRequest, **changes: str | None) -> HttpRequest:
    headers = {name: value for name, value in request.headers.items() if name not in changes}
    headers.update({name: value for name, value in changes.items() if value is not None})
    return replace(request, headers=headers)


def signature_of(request: HttpRequest) -> str:
    if "authorization" in request.headers:
        return request.headers["authorization"].rsplit("Signature=", 1)[1]
    return dict(parse_qsl(request.query_string))["X-Amz-Signature"]


def with_signature(request: HttpRequest, signature: str) -> HttpRequest:
    if "authorization" in request.headers:
        authorization = request.headers["authorization"].replace(signature_of(request), signature)
        return with_headers(request, authorization=authorization)
    query = request.query_string.replace(signature_of(request), signature)
    return replace(request, query_string=query)


def dynamodb_request(**signer: Any) -> HttpRequest:
    return sign(
        SigV4Auth,
        "dynamodb",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.GetItem",
            "User-Agent": "Boto3/1.44 test",
        },
        data=b'{"TableName": "accounts", "Key": {"pk": {"S": "c-1001"}}}',
        **signer,
    )


def s3_key_request(key: str) -> HttpRequest:
    # botocore's rest serializer encodes a key with safe="/~" and keeps "//" and "..".
    return sign(S3SigV4Auth, "s3", url=f"{ENDPOINT}/bank-statements/{quote(key, safe='/~')}")


HEADER_SIGNED = {
    "dynamodb JSON POST": dynamodb_request,
    "sts query POST": lambda: sign(
        SigV4Auth,
        "sts",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data="Action=GetCallerIdentity&Version=2011-06-15",
    ),
    "iam query POST": lambda: sign(
        SigV4Auth,
        "iam",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        data="Action=ListUsers&Version=2010-05-08&PathPrefix=%2Fa+b%2F",
    ),
    "iam GET with query": lambda: sign(
        SigV4Auth,
        "iam",
        params={"Action": "ListUsers", "PathPrefix": "/a b+c/é~", "Version": "2010-05-08"},
    ),
    "s3 odd key": lambda: s3_key_request("a b+c%d//é/../x~y"),
}


@pytest.mark.parametrize("make", HEADER_SIGNED.values(), ids=HEADER_SIGNED.keys())
def test_botocore_header_signed_requests_verify(make: Callable[[], HttpRequest]) -> None:
    request = make()
    identity = check(request)
    credential_scope = request.headers["authorization"].split("Credential=")[1].split(",")[0]
    assert credential_scope.endswith(f"/us-east-1/{identity.service}/aws4_request")
    assert identity.access_key_id == AKID
    assert identity.region == "us-east-1"
    assert identity.signed_at == signing_time(request)
    assert identity.presigned is False
    assert identity.expires_at is None
    assert identity.security_token is None


def test_unsigned_request_reads_as_none() -> None:
    request = HttpRequest(
        method="GET", raw_path="/", query_string="Action=ListUsers", headers={}, body=b""
    )
    assert read_signature(request) is None


def test_header_names_are_case_insensitive() -> None:
    request = dynamodb_request()
    shouting = {name.upper(): value for name, value in request.headers.items()}
    assert check(replace(request, headers=shouting)).service == "dynamodb"


def test_session_token_is_reported_and_signed() -> None:
    request = dynamodb_request(credentials=Credentials(AKID, SECRET, TOKEN))
    assert check(request).security_token == TOKEN
    assert rejection(with_headers(request, **{"x-amz-security-token": TOKEN + "x"})).kind == (
        "mismatch"
    )


def test_wrong_secret_is_a_mismatch_with_awss_text() -> None:
    error = rejection(dynamodb_request(), secrets=lambda _: SECRET + "0")
    assert error.kind == "mismatch"
    assert error.message.startswith("The request signature we calculated does not match")


def test_unknown_access_key_is_refused() -> None:
    assert rejection(dynamodb_request(), secrets=lambda _: None).kind == "unknown_key"


def test_tampered_body_is_a_mismatch() -> None:
    request = dynamodb_request()
    tampered = replace(request, body=request.body.replace(b"c-1001", b"c-1002"))
    assert rejection(tampered).kind == "mismatch"


def test_s3_body_that_contradicts_its_declared_hash_is_named_as_such() -> None:
    request = sign(S3SigV4Auth, "s3", method="PUT", url=f"{ENDPOINT}/b/k", data=b"original")
    error = rejection(replace(request, body=b"tampered"))
    assert error.kind == "mismatch"
    assert "x-amz-content-sha256" in error.message


def test_changing_a_signed_header_is_a_mismatch() -> None:
    tampered = with_headers(dynamodb_request(), **{"x-amz-target": "DynamoDB_20120810.DeleteItem"})
    assert rejection(tampered).kind == "mismatch"


def test_changing_an_unsigned_header_keeps_the_request_valid() -> None:
    request = dynamodb_request()
    assert "user-agent" not in request.headers["authorization"]
    changed = with_headers(request, **{"user-agent": "curl/8", "amz-sdk-request": "attempt=2"})
    assert check(changed).access_key_id == AKID


def test_header_whitespace_is_trimmed_and_collapsed() -> None:
    request = dynamodb_request()
    spaced = with_headers(request, **{"x-amz-target": "  DynamoDB_20120810.GetItem \t"})
    assert check(spaced).service == "dynamodb"
    inner = sign(SigV4Auth, "sts", headers={"X-Custom": "a   b"})
    assert check(with_headers(inner, **{"x-custom": "a b"})).service == "sts"


def test_host_is_signed_with_its_port() -> None:
    request = dynamodb_request()
    assert request.headers["host"] == "localhost:4566"
    assert rejection(with_headers(request, host="localhost")).kind == "mismatch"


def test_signed_header_missing_from_the_request_is_malformed() -> None:
    assert rejection(with_headers(dynamodb_request(), **{"x-amz-target": None})).kind == (
        "malformed"
    )


def test_signed_headers_must_include_host_and_the_date() -> None:
    request = dynamodb_request()
    authorization = request.headers["authorization"]
    for signed in ("content-type;x-amz-date;x-amz-target", "content-type;host;x-amz-target"):
        edited = authorization.replace(
            "SignedHeaders=content-type;host;x-amz-date;x-amz-target", f"SignedHeaders={signed}"
        )
        assert edited != authorization
        assert rejection(with_headers(request, authorization=edited)).kind == "malformed"


def test_authorization_without_a_signature_is_missing_it() -> None:
    request = dynamodb_request()
    truncated = request.headers["authorization"].rsplit(", Signature=", 1)[0]
    assert rejection(with_headers(request, authorization=truncated)).kind == "missing"


def test_request_without_a_date_is_missing_it() -> None:
    assert rejection(with_headers(dynamodb_request(), **{"x-amz-date": None})).kind == "missing"


def test_date_header_signs_in_place_of_x_amz_date() -> None:
    request = sign(SigV4Auth, "sts", headers={"Date": "Thu, 01 Jan 2026 00:00:00 GMT"})
    assert "x-amz-date" not in request.headers
    # botocore rewrites Date to the signing time, in RFC 5322 form with a "-0000" zone.
    signed_at = parsedate_to_datetime(request.headers["date"]).replace(tzinfo=UTC)
    assert check(request, now=signed_at).signed_at == signed_at
    assert rejection(request, now=signed_at + timedelta(minutes=6)).kind == "skewed"


def test_scope_date_must_match_x_amz_date() -> None:
    request = dynamodb_request()
    day = signing_time(request).strftime("%Y%m%d")
    other_day = (signing_time(request) - timedelta(days=1)).strftime("%Y%m%d")
    edited = request.headers["authorization"].replace(f"/{day}/", f"/{other_day}/")
    error = rejection(with_headers(request, authorization=edited))
    assert error.kind == "malformed"
    assert "Date in Credential scope" in error.message


def test_scope_terminator_must_be_aws4_request() -> None:
    request = dynamodb_request()
    edited = request.headers["authorization"].replace("/aws4_request", "/aws5_request")
    assert rejection(with_headers(request, authorization=edited)).kind == "malformed"


def test_malformed_signature_is_refused_before_comparison() -> None:
    request = dynamodb_request()
    assert rejection(with_signature(request, "é" * 64)).kind == "malformed"


@pytest.mark.parametrize("minutes", [5, -5])
def test_skew_of_exactly_five_minutes_is_accepted(minutes: int) -> None:
    request = dynamodb_request()
    assert check(request, now=signing_time(request) + timedelta(minutes=minutes)).service


def test_signature_older_than_the_skew_has_expired() -> None:
    request = dynamodb_request()
    error = rejection(request, now=signing_time(request) + timedelta(minutes=5, seconds=1))
    assert error.kind == "skewed"
    assert error.message.startswith("Signature expired: ")
    assert error.message.endswith(" - 5 min.)")


def test_signature_from_the_future_is_not_yet_current() -> None:
    request = dynamodb_request()
    error = rejection(request, now=signing_time(request) - timedelta(minutes=5, seconds=1))
    assert error.kind == "skewed"
    assert error.message.startswith("Signature not yet current: ")


def test_max_skew_is_configurable() -> None:
    request = dynamodb_request()
    parsed = read_signature(request)
    assert parsed is not None
    with pytest.raises(SignatureError, match="1 min"):
        verify(
            request,
            parsed,
            secret_for=secret_for,
            now=signing_time(request) + timedelta(seconds=61),
            max_skew=timedelta(minutes=1),
        )


def test_naive_now_is_a_programming_error() -> None:
    request = dynamodb_request()
    with pytest.raises(ValueError, match="timezone-aware"):
        check(request, now=signing_time(request).replace(tzinfo=None))


def sts_presigned(expires: int = 900, **options: Any) -> HttpRequest:
    return sign(
        SigV4QueryAuth,
        "sts",
        params={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
        expires=expires,
        **options,
    )


def test_sts_presigned_get_verifies_with_the_empty_payload_hash() -> None:
    request = sts_presigned(credentials=Credentials(AKID, SECRET, TOKEN))
    identity = check(request)
    assert identity.presigned is True
    assert identity.service == "sts"
    assert identity.security_token == TOKEN
    assert identity.expires_at == signing_time(request) + timedelta(seconds=900)
    assert rejection(replace(request, body=b"x")).kind == "mismatch"


def test_s3_presigned_get_covers_no_payload() -> None:
    request = sign(
        S3SigV4QueryAuth,
        "s3",
        url=f"{ENDPOINT}/bank-statements/{quote('2026/a b+c.pdf', safe='/~')}",
        expires=60,
    )
    assert "UNSIGNED-PAYLOAD" not in request.query_string
    assert check(request).presigned is True
    assert check(replace(request, body=b"anything")).service == "s3"


def test_presigned_query_param_is_signed() -> None:
    request = sts_presigned()
    tampered = replace(
        request, query_string=request.query_string.replace("GetCallerIdentity", "GetSessionToken")
    )
    assert rejection(tampered).kind == "mismatch"


def test_presigned_url_expires() -> None:
    request = sts_presigned(expires=60)
    assert check(request, now=signing_time(request) + timedelta(seconds=60)).presigned
    error = rejection(request, now=signing_time(request) + timedelta(seconds=61))
    assert error.kind == "expired_url"


def test_presigned_url_from_the_future_is_skewed() -> None:
    request = sts_presigned()
    assert rejection(request, now=signing_time(request) - timedelta(minutes=6)).kind == "skewed"


@pytest.mark.parametrize("expires", [0, 604_801])
def test_presigned_expiry_must_be_within_a_week(expires: int) -> None:
    assert rejection(sts_presigned(expires=expires)).kind == "malformed"


def test_presigned_expiry_of_exactly_a_week_is_accepted() -> None:
    assert check(sts_presigned(expires=604_800)).expires_at is not None


def test_presigned_without_its_credential_is_missing_it() -> None:
    request = sts_presigned()
    query = "&".join(
        pair for pair in request.query_string.split("&") if not pair.startswith("X-Amz-Credential")
    )
    assert rejection(replace(request, query_string=query)).kind == "missing"


def test_header_and_query_signatures_together_are_malformed() -> None:
    presigned = sts_presigned()
    both = with_headers(presigned, authorization=dynamodb_request().headers["authorization"])
    assert rejection(both).kind == "malformed"


def test_sigv2_header_is_unsupported() -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/b/k", headers={})
    HmacV1Auth(CREDENTIALS).add_auth(request)
    http = to_http(request)
    assert http.headers["authorization"].startswith(f"AWS {AKID}:")
    assert rejection(http).kind == "unsupported"


def test_sigv2_presigned_url_is_unsupported_not_unsigned() -> None:
    # boto3's S3 generate_presigned_url falls back to this form for custom us-east-1 endpoints.
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/b/k", headers={})
    HmacV1QueryAuth(CREDENTIALS, expires=60).add_auth(request)
    http = to_http(request)
    assert "AWSAccessKeyId=" in http.query_string
    assert rejection(http).kind == "unsupported"


def test_sigv4a_is_unsupported() -> None:
    header = dynamodb_request()
    sigv4a = header.headers["authorization"].replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
    assert rejection(with_headers(header, authorization=sigv4a)).kind == "unsupported"
    presigned = sts_presigned()
    query = presigned.query_string.replace(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256"
    )
    assert rejection(replace(presigned, query_string=query)).kind == "unsupported"


def test_unsigned_payload_is_accepted_for_s3() -> None:
    request = sign(
        S3SigV4Auth,
        "s3",
        method="PUT",
        url="https://localhost:4566/b/k",
        data=b"body",
        context={"client_config": Config(s3={"payload_signing_enabled": False})},
    )
    assert request.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert check(replace(request, body=b"another body")).service == "s3"


def test_unsigned_payload_is_refused_for_dynamodb() -> None:
    request = sign(
        SigV4Auth,
        "dynamodb",
        method="POST",
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
        data=b"{}",
    )
    assert rejection(request).kind == "unsupported"


def test_streaming_payload_is_unsupported() -> None:
    request = sign(
        SigV4Auth,
        "s3",
        method="PUT",
        url=f"{ENDPOINT}/b/k",
        headers={"X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
        data=b"5;chunk-signature=00\r\nhello\r\n",
    )
    assert rejection(request).kind == "unsupported"


def test_s3_path_is_used_exactly_as_sent() -> None:
    request = s3_key_request("a b//c/./d/../e")
    assert "//" in request.raw_path
    assert "/../" in request.raw_path
    assert check(request).service == "s3"
    collapsed = replace(request, raw_path=request.raw_path.replace("//", "/"))
    assert rejection(collapsed).kind == "mismatch"


def test_other_services_normalise_and_double_encode_the_path() -> None:
    path = "/2015-03-31/functions/" + quote("a b:c", safe="") + "//./x/../invocations/"
    request = sign(SigV4Auth, "lambda", method="POST", url=ENDPOINT + path, data=b"{}")
    assert "%20" in request.raw_path
    assert check(request).service == "lambda"
    # The same request read as S3 would canonicalise the path raw and fail.
    parsed = read_signature(request)
    assert isinstance(parsed, ParsedSignature)
    with pytest.raises(SignatureError) as caught:
        verify(
            request,
            replace(parsed, identity=replace(parsed.identity, service="s3")),
            secret_for=secret_for,
            now=signing_time(request),
        )
    assert caught.value.kind == "mismatch"


def test_query_plus_means_space_and_percent_2b_means_plus() -> None:
    request = sign(SigV4Auth, "iam", params={"PathPrefix": "/a b+c/"})
    assert "PathPrefix=%2Fa+b%2Bc%2F" in request.query_string
    assert check(request).service == "iam"
    literal = request.query_string.replace("%2Bc", "+c")
    assert rejection(replace(request, query_string=literal)).kind == "mismatch"


_HEADER_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " \t!#$%&*+-./:;<=>?@_~")
_ANY_TEXT = st.text(max_size=12)
_SEGMENT = st.one_of(st.sampled_from(["", ".", ".."]), _ANY_TEXT)


@given(
    s3=st.booleans(),
    presigned=st.booleans(),
    segments=st.lists(_SEGMENT, max_size=5),
    params=st.dictionaries(
        _ANY_TEXT.filter(lambda name: not name.startswith(("X-Amz-", "AWSAccessKeyId"))),
        _ANY_TEXT,
        max_size=4,
    ),
    header_value=_HEADER_TEXT,
    body=st.binary(max_size=64),
    flip=st.integers(min_value=0, max_value=63),
)
def test_any_botocore_signed_request_verifies_and_any_flipped_digit_fails(
    s3: bool,
    presigned: bool,
    segments: list[str],
    params: dict[str, str],
    header_value: str,
    body: bytes,
    flip: int,
) -> None:
    signer: type[SigV4Auth]
    if presigned:
        signer = S3SigV4QueryAuth if s3 else SigV4QueryAuth
    else:
        signer = S3SigV4Auth if s3 else SigV4Auth
    path = "/" + "/".join(quote(segment, safe="~") for segment in segments)
    request = sign(
        signer,
        "s3" if s3 else "execute-api",
        method="GET" if presigned else "PUT",
        url=ENDPOINT + path,
        params=params,
        headers={"X-Test-Value": header_value},
        data=b"" if presigned else body,
    )
    assert check(request).presigned is presigned
    signature = signature_of(request)
    flipped = signature[:flip] + ("0" if signature[flip] != "0" else "1") + signature[flip + 1 :]
    assert rejection(with_signature(request, flipped)).kind == "mismatch"
