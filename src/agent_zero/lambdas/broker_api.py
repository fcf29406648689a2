"""The broker API on Lambda behind API Gateway's REST API with IAM authorization.

API Gateway verifies each caller's SigV4 signature and ``execute-api:Invoke``
permission before this function runs, and the function's resource policy lets
only that API invoke it. The caller's ARN arrives in the event; it is moved into a
header the app trusts (any copy the client sent is dropped first), and only
sessions of the agent's role are accepted. The routes, rules and errors are the
ones the sandbox serves.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3

from agent_zero.logs import configure_logging
from agent_zero.settings import Settings
from agent_zero.web.auth import (
    VERIFIED_CALLER_HEADER,
    ApiGatewayVerifiedSignatures,
    RequestAuthenticator,
)

Event = dict[str, Any]
Handler = Any  # Mangum: (event, context) -> response


def with_verified_caller(event: Event) -> Event:
    """The event with the caller API Gateway verified as a header, and no client copy."""
    caller = ((event.get("requestContext") or {}).get("identity") or {}).get("userArn") or ""

    def scrub(headers: dict[str, Any] | None) -> dict[str, Any]:
        return {k: v for k, v in (headers or {}).items() if k.lower() != VERIFIED_CALLER_HEADER}

    headers = scrub(event.get("headers"))
    multi = scrub(event.get("multiValueHeaders"))
    if caller:
        headers[VERIFIED_CALLER_HEADER] = caller
        multi[VERIFIED_CALLER_HEADER] = [caller]
    return {**event, "headers": headers, "multiValueHeaders": multi}


def build_handler(
    settings: Settings, session: boto3.Session, *, secrets: Any | None = None
) -> Handler:
    """The Mangum handler over the broker API, everything built once from ``settings``."""
    from mangum import Mangum

    from agent_zero.web.api import create_app
    from agent_zero.web.auth import SignedOutTokens
    from agent_zero.wiring import (
        aws_broker,
        cognito_token_verifier,
        signed_out_sessions,
        with_secrets,
    )

    secrets = secrets or session.client("secretsmanager", endpoint_url=settings.aws_endpoint_url)
    settings = with_secrets(settings, secrets)
    if not settings.agent_role_arn:
        raise ValueError("AGENT_ZERO_AGENT_ROLE_ARN is not set")
    authenticator = RequestAuthenticator(
        # The user's token the agent forwards: not one whose web session was signed out.
        tokens=SignedOutTokens(
            cognito_token_verifier(settings), signed_out_sessions(settings, session)
        ),
        signatures=ApiGatewayVerifiedSignatures(
            agent_role_arn=settings.agent_role_arn, agent_id=settings.agent_id
        ),
        bearer_tokens=False,  # people call the web app's HTTP API
    )
    app = create_app(
        aws_broker(settings, session),
        authenticator,
        allowed_hosts=frozenset(settings.allowed_hosts) if settings.allowed_hosts else None,
    )
    asgi = Mangum(app, lifespan="off")

    def handle(event: Event, context: Any) -> Any:
        return asgi(with_verified_caller(event), context)

    return handle


@functools.cache
def _cold_start() -> Handler:
    settings = Settings()
    configure_logging(settings.log_format)
    return build_handler(settings, boto3.Session(region_name=settings.region))


def handler(event: Event, context: Any) -> Any:
    """The Lambda entry point (``agent_zero.lambdas.broker_api.handler``)."""
    return _cold_start()(event, context)
