"""The one typed configuration of Agent Zero, read once from ``AGENT_ZERO_*`` variables.

The sandbox and AWS differ only here: where state lives, which AWS endpoint to
call, which reviewer to use. Anything secret is a ``SecretStr``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LlmProvider = Literal["openai", "openai-compatible", "anthropic", "bedrock", "none"]


class Settings(BaseSettings):
    """Everything the composition root needs."""

    model_config = SettingsConfigDict(env_prefix="AGENT_ZERO_", extra="forbid", frozen=True)

    environment: Literal["sandbox", "aws"] = "sandbox"
    data_dir: Path = Path(".agent-zero")
    region: str = "us-east-1"
    storage: Literal["sqlite", "dynamodb"] = "sqlite"
    revocation_policy_name: str = "agent-zero-revocations"
    target_policy_names: tuple[str, ...] = ("agent-zero-target-access",)
    llm_provider: LlmProvider = "none"
    llm_model: str = ""
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = 20.0
    # The support agent's own model (same provider, endpoint and key); empty: ``llm_model``.
    agent_model: str = ""
    agent_timeout_seconds: float = 60.0  # one chat turn, tools included
    # Session cookies are Secure everywhere but the sandbox's plain-HTTP loopback.
    web_secure_cookies: bool = False
    # The CLI and MCP server: where the broker and the user pool are. Unset, they are read
    # from the sandbox's record in ``data_dir`` (what `agent-zero up` wrote).
    api_url: str | None = None
    cognito_client_id: str | None = None
    cognito_endpoint_url: str | None = None  # the sandbox's gateway; None on AWS
    config_dir: Path | None = None  # the CLI's login and credential cache; None: the OS default
    # With no model, or when the model fails, a person decides instead of a denial.
    escalate_when_reviewer_fails: bool = False
    # --- AWS (environment="aws"): what the CDK stack passes to every Lambda function ---
    account_id: str | None = None
    # Every AWS client's endpoint; None on AWS. Tests point the Lambda builders at the sandbox.
    aws_endpoint_url: str | None = None
    table_prefix: str = "agent-zero-"  # the broker's tables: <prefix>principals, ...policies, ...
    connections_table: str = "agent-zero-connections"  # the agent's WebSocket connections
    revoked_sessions_table: str = "agent-zero-revoked-sessions"  # signed-out web sessions
    cognito_user_pool_id: str | None = None
    # Secrets Manager ARNs read once per cold start (never put in the environment).
    llm_api_key_secret_arn: str | None = None
    web_session_key_secret_arn: str | None = None
    # The broker's REST API (IAM auth) that the agent worker calls as the agent.
    broker_api_url: str | None = None
    # Sessions of this role are the support agent (API Gateway has verified the signature).
    agent_role_arn: str | None = None
    agent_id: str = "support-assistant"
    agent_socket_url: str | None = None  # wss://{api-id}.execute-api.{region}.../{stage}: the chat
    websocket_management_url: str | None = None  # https://{api-id}.execute-api.{region}.../{stage}
    agent_worker_function: str | None = None  # invoked asynchronously for each chat turn
    catalog_file: Path | None = None  # the resource catalog (JSON); None: the demo bank's
    allowed_hosts: tuple[str, ...] = ()  # Host headers the web app answers (its API domain)
    log_format: Literal["text", "json"] = "text"
