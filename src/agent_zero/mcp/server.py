"""The broker as MCP tools: any agent asks for AWS access in plain words, as its user.

Over stdio the tools act as the one person whose Cognito access token ``token_source``
returns; over streamable HTTP as whoever's access token the request carries, verified
exactly as the broker API verifies it. Minted credentials stay in this process, per
caller and request, for ``run_dynamodb_operation``; the MCP client sees them only when
the server is built with ``hand_out_credentials=True``. Nothing here logs a token or a
credential, and no tool ever falls back to this process's own AWS identity.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from starlette.applications import Starlette

from agent_zero.adapters.aws.data_plane import MintedDynamoDBFactory
from agent_zero.adapters.system import SystemClock
from agent_zero.client import BrokerClient
from agent_zero.domain.errors import (
    AgentZeroError,
    AuthenticationError,
    UnavailableError,
)
from agent_zero.mcp.tools import (
    INSTRUCTIONS,
    AccessOutcome,
    AccessTools,
    Clock,
    HeldCredentials,
    MyGrants,
    Operation,
    OperationResult,
)
from agent_zero.web.auth import CognitoTokenVerifier, HttpJwksSource

LOOPBACK = "127.0.0.1"
_T = TypeVar("_T")
DEFAULT_HTTP_PORT = 8471


class CognitoAccessTokens:
    """The SDK's TokenVerifier on the broker API's CognitoTokenVerifier: access tokens only."""

    def __init__(self, verifier: CognitoTokenVerifier, *, issuer: str, client_id: str) -> None:
        self._verifier = verifier
        self.issuer = issuer
        self._client_id = client_id

    @classmethod
    def of_pool(
        cls, *, issuer: str, client_id: str, jwks_url: str, clock: Clock | None = None
    ) -> CognitoAccessTokens:
        """Verify tokens of one user pool and app client, keys fetched from ``jwks_url``."""
        verifier = CognitoTokenVerifier(
            issuer=issuer,
            client_id=client_id,
            jwks=HttpJwksSource(jwks_url),
            clock=clock or SystemClock().now,
        )
        return cls(verifier, issuer=issuer, client_id=client_id)

    async def verify_token(self, token: str) -> AccessToken | None:
        """The caller behind ``token``, or None (the SDK answers 401)."""
        try:
            # The first call fetches the JWKS over HTTP: keep it off the event loop.
            verified = await anyio.to_thread.run_sync(self._verifier.verify, token)
        except (AuthenticationError, UnavailableError):
            return None
        return AccessToken(
            token=token,
            client_id=self._client_id,
            scopes=[],
            expires_at=int(verified.expires_at.timestamp()),
            subject=verified.username,
            claims={"iss": self.issuer},
        )


# --- the server and its transports ------------------------------------------------------


def build_server(
    *,
    api_url: str,
    region: str,
    aws_endpoint_url: str | None,
    hand_out_credentials: bool,
    token_source: Callable[[], str] | None = None,
    token_verifier: CognitoAccessTokens | None = None,
    clock: Clock | None = None,
) -> MCPServer:
    """The MCP server: give ``token_source`` for stdio, ``token_verifier`` for HTTP."""
    if (token_source is None) == (token_verifier is None):
        raise ValueError("give exactly one of token_source (stdio) and token_verifier (HTTP)")
    now = clock or SystemClock().now
    tools = AccessTools(
        open_broker=partial(_open_broker, api_url.rstrip("/")),
        data=MintedDynamoDBFactory(region=region, endpoint_url=aws_endpoint_url),
        held=HeldCredentials(clock=now),
        clock=now,
        token_source=token_source,
        hand_out_credentials=hand_out_credentials,
        region=region,
        aws_endpoint_url=aws_endpoint_url,
    )
    auth = None
    if token_verifier is not None:
        # Cognito access tokens carry no audience; the verifier checks client_id instead.
        auth = AuthSettings(
            issuer_url=token_verifier.issuer,
            resource_server_url=None,
            validate_token_resource=False,
        )
    server: MCPServer = MCPServer(
        "agent-zero",
        instructions=INSTRUCTIONS,
        token_verifier=token_verifier,
        auth=auth,
        log_level="WARNING",
    )
    _add_tools(server, tools)
    return server


def _open_broker(api_url: str, token: str) -> BrokerClient:
    return BrokerClient(api_url, bearer_token=token, timeout=30.0)


async def _in_thread(call: Callable[[], _T]) -> _T:
    try:
        return await anyio.to_thread.run_sync(call)
    except AgentZeroError as error:  # our messages carry no secrets; tracebacks stay here
        raise ToolError(
            f"The access service did not help ({error.code}): {error.message}"
        ) from None


def _add_tools(server: MCPServer, tools: AccessTools) -> None:
    # get_access_token() reads the caller the SDK's bearer middleware verified for this
    # message (None over stdio); it is read here, on the event loop, not in the worker.

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
    async def request_aws_access(reason: str) -> AccessOutcome:
        """Ask the access broker for what a task needs, in plain words: what you will do and
        why. Returns approved / pending / denied and a handle for the other tools."""
        verified = get_access_token()
        return await _in_thread(lambda: tools.request_access(verified, reason))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False))
    async def check_access_request(handle: str) -> AccessOutcome:
        """Check a request that waited for a person; once approved, its access becomes usable."""
        verified = get_access_token()
        return await _in_thread(lambda: tools.check_request(verified, handle))

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def list_my_grants() -> MyGrants:
        """Your access requests: active grants, requests waiting for a person, and past ones."""
        verified = get_access_token()
        return await _in_thread(lambda: tools.list_grants(verified))

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
    async def run_dynamodb_operation(
        handle: str,
        resource: str,
        operation: Operation,
        key: dict[str, Any] | None = None,
        item: dict[str, Any] | None = None,
    ) -> OperationResult:
        """Read or write DynamoDB with the access granted under ``handle``.

        resource: a resource key the grant names. get/delete need ``key``; put needs
        ``item``; query reads your own rows (at most 25).
        """
        verified = get_access_token()
        return await _in_thread(
            lambda: tools.run_operation(
                verified, handle=handle, resource=resource, operation=operation, key=key, item=item
            )
        )


def http_app(server: MCPServer, *, host: str = LOOPBACK) -> Starlette:
    """The streamable HTTP app at ``/mcp``; every request needs a valid bearer token."""
    if server.settings.auth is None:
        raise ValueError("this server has no token verifier: build it with token_verifier")
    return server.streamable_http_app(host=host)


def run_stdio(server: MCPServer) -> None:
    """Serve over stdin/stdout until the client closes them."""
    anyio.run(server.run_stdio_async)


def run_http(server: MCPServer, *, host: str = LOOPBACK, port: int = DEFAULT_HTTP_PORT) -> None:
    """Serve streamable HTTP at ``http://host:port/mcp`` until interrupted."""
    uvicorn.run(http_app(server, host=host), host=host, port=port, log_level="warning")
