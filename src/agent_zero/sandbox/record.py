"""``<data-dir>/sandbox.json``: where everything is and how to log in (mode 0600: secrets)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent_zero.domain.errors import UnavailableError

RECORD_FILE = "sandbox.json"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccessKey(_Record):
    """A long-term IAM access key."""

    access_key_id: str
    secret_access_key: str


class CognitoRecord(_Record):
    """The demo user pool and its web client."""

    user_pool_id: str
    client_id: str
    issuer: str
    jwks_url: str


class UserRecord(_Record):
    """One demo login."""

    username: str
    password: str
    display_name: str
    role: str
    groups: tuple[str, ...]
    customer_key: str | None = None


class SandboxRecord(_Record):
    """What tools and tests read to reach the running sandbox."""

    region: str
    account_id: str
    aws_endpoint_url: str
    web_url: str | None  # None until the web app is part of the sandbox
    broker_api_url: str | None  # None until the broker API is part of the sandbox
    admin_credentials: AccessKey
    agent_credentials: AccessKey
    broker_host_credentials: AccessKey
    cognito: CognitoRecord
    users: tuple[UserRecord, ...]
    tables: dict[str, str]
    roles: dict[str, str]

    def user(self, username: str) -> UserRecord:
        """A demo login by username."""
        for user in self.users:
            if user.username == username:
                return user
        raise KeyError(username)


def record_path(data_dir: Path) -> Path:
    """Where ``sandbox.json`` lives."""
    return data_dir / RECORD_FILE


def read_record(data_dir: Path) -> SandboxRecord | None:
    """The record of a previous start, or None when there is none."""
    path = record_path(data_dir)
    if not path.exists():
        return None
    try:
        return SandboxRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:
        raise UnavailableError(f"{path} is not a sandbox record; start with --reset") from None


def write_record(data_dir: Path, record: SandboxRecord) -> Path:
    """Write the record with mode 0600 from the first byte."""
    path = record_path(data_dir)
    temporary = path.with_suffix(".json.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(record.model_dump_json(indent=2))
        stream.write("\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path
