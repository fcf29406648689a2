"""The web app on Lambda behind API Gateway's HTTP API (Mangum).

The pages, and the broker API for people (the CLI, the MCP server) with Cognito
access tokens. Agents sign with SigV4 and call the IAM-authorized REST API instead
(``broker_api``): this function cannot verify a signature, so it refuses them. The
cookie key comes from Secrets Manager and sign-outs are kept in DynamoDB, so every
instance of the function agrees on both.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from agent_zero.logs import configure_logging
from agent_zero.settings import Settings

Handler = Any  # Mangum: (event, context) -> response


def build_handler(
    settings: Settings, session: boto3.Session, *, secrets: Any | None = None
) -> Handler:
    """The Mangum handler over the pages and the people's API, built once."""
    from mangum import Mangum

    from agent_zero.adapters.aws.directory import CognitoPasswordSignIn
    from agent_zero.web.api import RateLimiter, create_app
    from agent_zero.web.auth import NoSignatures, RequestAuthenticator, SignedOutTokens
    from agent_zero.web.pages import WebOptions, add_pages
    from agent_zero.web.session import SessionCodec
    from agent_zero.wiring import (
        aws_broker,
        cognito_token_verifier,
        signed_out_sessions,
        web_session_key,
        with_secrets,
    )

    secrets = secrets or session.client("secretsmanager", endpoint_url=settings.aws_endpoint_url)
    settings = with_secrets(settings, secrets)
    broker = aws_broker(settings, session)
    tokens = cognito_token_verifier(settings)
    signed_out = signed_out_sessions(settings, session)
    limiter = RateLimiter()  # per instance: API Gateway's throttling bounds the whole
    app = create_app(
        broker,
        # A bearer token may be the one a signed-out chat page held (the pages check the
        # cookie's session id instead).
        RequestAuthenticator(tokens=SignedOutTokens(tokens, signed_out), signatures=NoSignatures()),
        limiter=limiter,
        allowed_hosts=frozenset(settings.allowed_hosts) if settings.allowed_hosts else None,
    )
    # Signing in is what a browser does: an unsigned call, no AWS identity behind it.
    public = session.client(
        "cognito-idp",
        endpoint_url=settings.cognito_endpoint_url,
        config=Config(signature_version=UNSIGNED),
    )
    options = WebOptions(
        sign_in=CognitoPasswordSignIn(public, client_id=str(settings.cognito_client_id)),
        tokens=tokens,
        sessions=SessionCodec(web_session_key(settings, secrets)),
        secure_cookies=settings.web_secure_cookies,
        model_configured=settings.llm_provider != "none",
        region=settings.region,
        aws_endpoint_url=None,
        revoked=signed_out,
        limiter=limiter,
        agent_socket_url=settings.agent_socket_url,
    )
    add_pages(app, broker, options)
    return Mangum(app, lifespan="off")


@functools.cache
def _cold_start() -> Handler:
    settings = Settings()
    configure_logging(settings.log_format)
    return build_handler(settings, boto3.Session(region_name=settings.region))


def handler(event: dict[str, Any], context: Any) -> Any:
    """The Lambda entry point (``agent_zero.lambdas.web.handler``)."""
    return _cold_start()(event, context)
