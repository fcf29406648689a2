"""Minted credentials and what is remembered of them.

The secret key and session token are ``SecretStr``: they never appear in a
repr, a log line or an audit record. What the broker keeps afterwards is an
``IssuedSession``: the access key id, the role, the expiry, never the secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, SecretStr

from agent_zero.domain.base import DomainModel

AccessKeyId = Annotated[str, Field(pattern=r"^[A-Z0-9]{16,128}$")]


class Credentials(DomainModel):
    """An STS session's credentials, as handed to the requester once."""

    access_key_id: AccessKeyId
    secret_access_key: SecretStr
    session_token: SecretStr
    expiration: datetime


class IssuedSession(DomainModel):
    """What the broker remembers of a minted session (enough to revoke it)."""

    request_id: str
    principal_id: str
    access_key_id: AccessKeyId
    role_arn: str
    session_name: str
    source_identity: str
    issued_at: datetime
    expires_at: datetime
