"""Minting role sessions with sts:AssumeRole, and keeping the broker's own session fresh."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from agent_zero.broker.ports import MintRequest
from agent_zero.domain.credentials import Credentials
from agent_zero.domain.errors import UnavailableError


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


class StsCredentialMinter:
    """The CredentialMinter port on STS; the client is built once in wiring."""

    def __init__(self, sts_client: Any) -> None:
        self._sts = sts_client

    def mint(self, request: MintRequest) -> Credentials:
        """AssumeRole with the compiled policy, SourceIdentity and session tags."""
        try:
            answer = self._sts.assume_role(
                RoleArn=request.role_arn,
                RoleSessionName=request.session_name,
                Policy=request.session_policy,
                DurationSeconds=request.duration_seconds,
                SourceIdentity=request.source_identity,
                Tags=[{"Key": key, "Value": value} for key, value in sorted(request.tags.items())],
            )
        except (ClientError, BotoCoreError) as error:
            # The message names the code only: AWS messages can echo request fields.
            raise UnavailableError(f"sts:AssumeRole failed ({_error_code(error)})") from None
        issued = answer["Credentials"]
        expiration = issued["Expiration"]
        if isinstance(expiration, str):
            expiration = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
        return Credentials(
            access_key_id=issued["AccessKeyId"],
            secret_access_key=SecretStr(issued["SecretAccessKey"]),
            session_token=SecretStr(issued["SessionToken"]),
            expiration=expiration.astimezone(UTC),
        )


def refreshing_role_credentials(
    sts_client: Any, *, role_arn: str, session_name: str, duration_seconds: int = 3_600
) -> RefreshableCredentials:
    """Credentials of a role session that renew themselves before they expire.

    The broker runs as its own role (on Lambda it already is one); in the sandbox
    its host user assumes that role, and every call then uses these credentials.
    """

    def fetch() -> dict[str, str]:
        try:
            issued = sts_client.assume_role(
                RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=duration_seconds
            )["Credentials"]
        except (ClientError, BotoCoreError) as error:
            raise UnavailableError(
                f"the broker could not assume its role ({_error_code(error)})"
            ) from None
        expiration = issued["Expiration"]
        return {
            "access_key": issued["AccessKeyId"],
            "secret_key": issued["SecretAccessKey"],
            "token": issued["SessionToken"],
            "expiry_time": expiration.isoformat()
            if isinstance(expiration, datetime)
            else str(expiration),
        }

    refresh: Callable[[], dict[str, str]] = fetch
    return RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=refresh, method="agent-zero-broker-role"
    )
