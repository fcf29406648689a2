"""Pure parts of the AWS entry points: who API Gateway verified, the event rewrite that carries
it, JSON log lines, and secrets from Secrets Manager (through its in-memory fake)."""

from __future__ import annotations

import json
import logging

import pytest

from agent_zero.domain.errors import AuthenticationError, UnavailableError
from agent_zero.lambdas.broker_api import with_verified_caller
from agent_zero.logs import JsonFormatter
from agent_zero.sandbox.sigv4 import HttpRequest
from agent_zero.settings import Settings
from agent_zero.web.auth import ApiGatewayVerifiedSignatures
from agent_zero.wiring import StaticSecrets, web_session_key, with_secrets

ROLE = "arn:aws:iam::123456789012:role/agent-zero/agent-zero-agent"
SESSION = "arn:aws:sts::123456789012:assumed-role/agent-zero-agent/turn-1"
SIGNED = (
    "AWS4-HMAC-SHA256 Credential=ASIAX/20261126/us-east-1/execute-api/aws4_request, "
    "SignedHeaders=host;x-agent-zero-on-behalf-of;x-amz-date, Signature=" + "0" * 64
)


def request(caller: str, authorization: str = SIGNED) -> HttpRequest:
    headers = {"x-agent-zero-verified-caller-arn": caller, "authorization": authorization}
    return HttpRequest("POST", "/v1/access-requests", "", headers, b"{}")


def signatures() -> ApiGatewayVerifiedSignatures:
    return ApiGatewayVerifiedSignatures(agent_role_arn=ROLE, agent_id="support-assistant")


def test_a_session_of_the_agents_role_is_the_agent() -> None:
    check = signatures()
    assert check.authenticate(request(SESSION), must_sign=("x-agent-zero-on-behalf-of",)) == (
        "support-assistant"
    )


@pytest.mark.parametrize(
    "caller",
    [
        "arn:aws:sts::123456789012:assumed-role/agent-zero-broker/turn-1",
        "arn:aws:sts::210987654321:assumed-role/agent-zero-agent/turn-1",
        "arn:aws:iam::123456789012:user/agent-zero-agent",
        "arn:aws:sts::123456789012:assumed-role/agent-zero-agent-2/turn-1",
        "arn:aws:sts::123456789012:assumed-role/agent-zero-agent",
        "arn:aws:sts::123456789012:assumed-role/agent-zero-agent/turn-1\n",
        "arn:aws:sts::123456789012:assumed-role/agent-zero-agént/turn-1",
        "",
    ],
)
def test_every_other_caller_is_refused(caller: str) -> None:
    with pytest.raises(AuthenticationError):
        signatures().authenticate(request(caller))


def test_a_header_that_must_be_signed_must_be_in_signed_headers() -> None:
    unsigned = SIGNED.replace("x-agent-zero-on-behalf-of;", "")
    with pytest.raises(AuthenticationError, match="must be signed"):
        signatures().authenticate(
            request(SESSION, unsigned), must_sign=("x-agent-zero-on-behalf-of",)
        )


def test_an_agent_role_arn_that_is_not_a_role_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="role ARN"):
        ApiGatewayVerifiedSignatures(agent_role_arn="arn:aws:iam::1:user/x", agent_id="a")


def test_the_event_carries_only_the_caller_api_gateway_verified() -> None:
    event = {
        "headers": {"X-Agent-Zero-Verified-Caller-Arn": SESSION, "Host": "api"},
        "multiValueHeaders": {"x-agent-zero-verified-caller-arn": [SESSION], "Host": ["api"]},
        "requestContext": {"identity": {"userArn": "arn:aws:iam::123456789012:user/mallory"}},
    }
    rewritten = with_verified_caller(event)
    assert rewritten["headers"] == {
        "Host": "api",
        "x-agent-zero-verified-caller-arn": "arn:aws:iam::123456789012:user/mallory",
    }
    assert rewritten["multiValueHeaders"]["x-agent-zero-verified-caller-arn"] == [
        "arn:aws:iam::123456789012:user/mallory"
    ]
    anonymous = with_verified_caller({**event, "requestContext": {"identity": {}}})
    assert "x-agent-zero-verified-caller-arn" not in {k.lower() for k in anonymous["headers"]}
    assert event["headers"]["X-Agent-Zero-Verified-Caller-Arn"] == SESSION  # not mutated


def test_json_log_lines_carry_the_extra_fields_and_no_exception_text() -> None:
    record = logging.LogRecord(
        "agent_zero.web.api", logging.INFO, "f", 1, "access decision", (), None
    )
    record.event = "access_decision"
    record.outcome = "denied"
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "access_decision"
    assert line["outcome"] == "denied"
    assert line["level"] == "INFO"
    try:
        raise RuntimeError("token=eyJsecret")
    except RuntimeError:
        import sys

        failed = logging.LogRecord(
            "agent_zero", logging.ERROR, "f", 1, "failed", (), sys.exc_info()
        )
    text = JsonFormatter().format(failed)
    assert json.loads(text)["error_type"] == "RuntimeError"
    assert "eyJsecret" not in text


def test_the_model_key_comes_from_secrets_manager_once() -> None:
    settings = Settings(llm_api_key_secret_arn="arn:model")
    filled = with_secrets(settings, StaticSecrets({"arn:model": "sk-live"}))
    assert filled.llm_api_key is not None
    assert filled.llm_api_key.get_secret_value() == "sk-live"
    assert "sk-live" not in repr(filled)
    with pytest.raises(UnavailableError, match="could not be read"):
        with_secrets(settings, StaticSecrets({}))


def test_the_cookie_key_is_derived_from_a_long_shared_secret() -> None:
    settings = Settings(web_session_key_secret_arn="arn:web")
    long_secret = "x" * 16 + "y" * 48
    first = web_session_key(settings, StaticSecrets({"arn:web": long_secret}))
    assert len(first) == 32
    assert first == web_session_key(settings, StaticSecrets({"arn:web": long_secret}))
    assert first != web_session_key(settings, StaticSecrets({"arn:web": long_secret + "z"}))
    with pytest.raises(UnavailableError, match="too short"):
        web_session_key(settings, StaticSecrets({"arn:web": "short"}))
    with pytest.raises(UnavailableError, match="not set"):
        web_session_key(Settings(), StaticSecrets({}))
