"""``python -m agent_zero.mcp``: serve the MCP tools against the sandbox in ``--data-dir``.

stdio acts as the person whose Cognito access token is in ``AGENT_ZERO_ACCESS_TOKEN``;
http acts, per request, as whoever's access token the request carries.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from agent_zero.domain.errors import AgentZeroError
from agent_zero.mcp.server import (
    DEFAULT_HTTP_PORT,
    LOOPBACK,
    CognitoAccessTokens,
    build_server,
    run_http,
    run_stdio,
)
from agent_zero.sandbox.record import read_record

TOKEN_VARIABLE = "AGENT_ZERO_ACCESS_TOKEN"  # noqa: S105 (the name of a variable, not a secret)


class UsageError(Exception):
    """A one-line reason the server cannot start."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agent_zero.mcp", description="Agent Zero's MCP server."
    )
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default=LOOPBACK, help=f"http only (default {LOOPBACK})")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_HTTP_PORT, help=f"http only ({DEFAULT_HTTP_PORT})"
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".agent-zero"))
    parser.add_argument(
        "--hand-out-credentials",
        action="store_true",
        help="give minted credentials to the MCP client (default: the server keeps them)",
    )
    return parser


def _serve(args: argparse.Namespace) -> None:
    record = read_record(args.data_dir)
    if record is None:
        raise UsageError(f"no sandbox record in {args.data_dir}: start it with `agent-zero up`")
    if record.broker_api_url is None:
        raise UsageError(f"the sandbox in {args.data_dir} has no broker API")
    build = partial(
        build_server,
        api_url=record.broker_api_url,
        region=record.region,
        aws_endpoint_url=record.aws_endpoint_url,
        hand_out_credentials=bool(args.hand_out_credentials),
    )
    if args.transport == "stdio":
        token = os.environ.get(TOKEN_VARIABLE, "").strip()
        if not token:
            raise UsageError(f"set {TOKEN_VARIABLE} to your Cognito access token")
        run_stdio(build(token_source=lambda: token))
        return
    verifier = CognitoAccessTokens.of_pool(
        issuer=record.cognito.issuer,
        client_id=record.cognito.client_id,
        jwks_url=record.cognito.jwks_url,
    )
    run_http(build(token_verifier=verifier), host=args.host, port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server; 2 on a usage or configuration error."""
    args = _parser().parse_args(argv)
    try:
        _serve(args)
    except (UsageError, AgentZeroError) as error:
        # stdout belongs to the MCP protocol on stdio: errors go to stderr only.
        sys.stderr.write(f"agent-zero mcp: {error}\n")
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
