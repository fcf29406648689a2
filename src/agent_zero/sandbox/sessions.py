"""The gateway's own state: the account's root key and the STS sessions it minted.

moto drops what AWS keeps about a session (its session policy, SourceIdentity,
tags), so the gateway mints sessions itself and judges every later request
signed with their keys by this record.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime

_KEY_ALPHABET = string.ascii_uppercase + "234567"


def new_access_key_id(prefix: str) -> str:
    """An AWS-shaped access key id: ``AKIA`` for long-term keys, ``ASIA`` for sessions."""
    return prefix + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    """40 characters, like AWS's."""
    return secrets.token_urlsafe(30)[:40]


@dataclass(frozen=True, slots=True)
class RoleSession:
    """An STS role session as AWS remembers it."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    account_id: str
    role_name: str
    role_arn: str
    role_id: str
    session_name: str
    session_policy: str | None
    source_identity: str | None
    tags: dict[str, str]
    transitive_tag_keys: frozenset[str]
    issued_at: datetime
    expires_at: datetime
    assumed_by: str

    @property
    def arn(self) -> str:
        """The assumed-role ARN the session signs as."""
        return f"arn:aws:sts::{self.account_id}:assumed-role/{self.role_name}/{self.session_name}"

    @property
    def user_id(self) -> str:
        """``aws:userid`` of the session: role id and session name."""
        return f"{self.role_id}:{self.session_name}"


@dataclass(slots=True)
class GatewayState:
    """Everything the gateway must remember across restarts, besides moto's data."""

    account_id: str
    root_access_key_id: str
    root_secret_access_key: str
    sessions: dict[str, RoleSession] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _changes: int = 0

    @classmethod
    def fresh(cls, account_id: str) -> GatewayState:
        """A new account with a new root key."""
        return cls(account_id, new_access_key_id("AKIA"), new_secret_access_key())

    @property
    def changes(self) -> int:
        """A counter that moves on every change (the snapshotter watches it)."""
        return self._changes

    def touch(self) -> None:
        """Record that something persisted changed (a moto write, a new session)."""
        with self._lock:
            self._changes += 1

    def add_session(self, session: RoleSession) -> None:
        """Remember a minted session."""
        with self._lock:
            self.sessions[session.access_key_id] = session
            self._changes += 1

    def session(self, access_key_id: str) -> RoleSession | None:
        """The session that owns this access key, if the gateway minted it."""
        return self.sessions.get(access_key_id)

    def forget_expired(self, now: datetime) -> int:
        """Drop sessions that expired more than a day ago; they can never sign again."""
        with self._lock:
            stale = [k for k, s in self.sessions.items() if (now - s.expires_at).days >= 1]
            for key in stale:
                del self.sessions[key]
            if stale:
                self._changes += 1
            return len(stale)

    def to_record(self) -> dict[str, object]:
        """A plain, picklable copy for snapshots."""
        with self._lock:
            return {
                "account_id": self.account_id,
                "root_access_key_id": self.root_access_key_id,
                "root_secret_access_key": self.root_secret_access_key,
                "sessions": [replace(s) for s in self.sessions.values()],
            }

    @classmethod
    def from_record(cls, record: dict[str, object]) -> GatewayState:
        """Rebuild the state from ``to_record``'s output."""
        sessions = record["sessions"]
        assert isinstance(sessions, list)
        state = cls(
            str(record["account_id"]),
            str(record["root_access_key_id"]),
            str(record["root_secret_access_key"]),
        )
        state.sessions = {s.access_key_id: s for s in sessions if isinstance(s, RoleSession)}
        return state
