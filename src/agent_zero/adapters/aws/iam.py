"""Revocation as a deny policy on the target role, and the role's policies for the proof.

STS sessions cannot be deleted; a Deny on ``aws:userid`` (role id : session
name) stops one session at the next request. The broker owns the role's
revocation policy; a session stays in it until the session has expired.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from agent_zero.domain.errors import UnavailableError

# IAM allows 10,240 characters of inline policy per role; stay clear of it.
MAX_POLICY_CHARS = 9_000
_NEVER = "agent-zero:no-revocations"  # a SourceIdentity can never contain ":"
_BUCKET = "%Y%m%d%H%M"  # sessions are grouped by the minute they expire in


def role_name_of(role_arn: str) -> str:
    """The role's name (its ARN may carry a path)."""
    return role_arn.rsplit("/", 1)[-1]


def _document(value: Any) -> dict[str, Any]:
    # boto3 decodes the document; a raw client may hand back URL-encoded JSON text.
    if isinstance(value, dict):
        return value
    return dict(json.loads(unquote(str(value))))


def _sentinel() -> dict[str, Any]:
    return {
        "Sid": "RevokedSessions",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceIdentity": _NEVER}},
    }


@dataclass
class Revocations:
    """What a revocation policy denies: session names by expiry minute, and maybe a cut-off."""

    by_expiry: dict[str, set[str]] = field(default_factory=dict)
    all_before: str | None = None  # every session issued before this instant (ISO)

    @classmethod
    def read(cls, document: dict[str, Any]) -> Revocations:
        """Parse a document this module wrote (anything else it leaves out)."""
        found = cls()
        for statement in document.get("Statement", []):
            sid = str(statement.get("Sid", ""))
            condition = statement.get("Condition", {})
            if sid.startswith("RevokedUntil"):
                patterns = condition.get("StringLike", {}).get("aws:userid", [])
                names = [patterns] if isinstance(patterns, str) else patterns
                found.by_expiry[sid.removeprefix("RevokedUntil")] = {
                    p.split(":", 1)[1] for p in names
                }
            elif sid == "RevokedAllBefore":
                found.all_before = condition.get("DateLessThan", {}).get("aws:TokenIssueTime")
        return found

    def add(self, session_name: str, expires_at: datetime) -> None:
        """Deny one more session until its expiry minute has passed."""
        bucket = (expires_at.astimezone(UTC) + timedelta(minutes=1)).strftime(_BUCKET)
        self.by_expiry.setdefault(bucket, set()).add(session_name)

    def prune(self, now: datetime) -> None:
        """Forget only what can no longer sign: sessions past their expiry."""
        current = now.astimezone(UTC).strftime(_BUCKET)
        self.by_expiry = {b: n for b, n in self.by_expiry.items() if b >= current and n}
        if self.all_before and now - _parse(self.all_before) > timedelta(hours=13):
            self.all_before = None  # no session lives longer than 12 hours

    def names(self) -> set[str]:
        """Every session name denied."""
        return set().union(*self.by_expiry.values()) if self.by_expiry else set()

    def document(self) -> dict[str, Any]:
        """The policy that denies all of it."""
        statements = [_sentinel()]
        for bucket in sorted(self.by_expiry):
            statements.append(
                {
                    "Sid": f"RevokedUntil{bucket}",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {
                        "StringLike": {
                            "aws:userid": [f"*:{n}" for n in sorted(self.by_expiry[bucket])]
                        }
                    },
                }
            )
        if self.all_before:
            statements.append(
                {
                    "Sid": "RevokedAllBefore",
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"DateLessThan": {"aws:TokenIssueTime": self.all_before}},
                }
            )
        return {"Version": "2012-10-17", "Statement": statements}


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def revocation_document(session_names: Sequence[str]) -> dict[str, Any]:
    """A policy denying these sessions for the next hour (tests and first writes)."""
    revocations = Revocations()
    for name in session_names:
        revocations.add(name, datetime.now(UTC) + timedelta(hours=1))
    return revocations.document()


def revoked_sessions(document: dict[str, Any]) -> list[str]:
    """The session names a revocation document denies."""
    return sorted(Revocations.read(document).names())


class IamRevocationPolicy:
    """The Revoker port: rewrites the target role's revocation policy.

    Entries leave only when the session they deny has expired. When the live
    entries no longer fit, the policy falls back to denying every session of the
    role issued before now (more than asked, never less). IAM has no
    compare-and-set, so writes are serialised per role in this process and every
    write re-adds what this process revoked and is still live; two broker
    processes revoking on one role at the same instant rely on the re-read check.
    """

    def __init__(
        self,
        iam_client: Any,
        *,
        policy_name: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._iam = iam_client
        self._policy_name = policy_name
        self._clock = clock
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._mine: dict[str, Revocations] = {}

    def revoke(self, *, role_arn: str, session_name: str, expires_at: datetime) -> None:
        """Deny one session until it expires, verifying that the write landed."""
        role = role_name_of(role_arn)
        with self._guard:
            lock = self._locks.setdefault(role, threading.Lock())
            mine = self._mine.setdefault(role, Revocations())
        with lock:
            mine.add(session_name, expires_at)
            for _attempt in range(3):
                now = self._clock()
                current = self._current(role)
                for bucket, names in mine.by_expiry.items():
                    current.by_expiry.setdefault(bucket, set()).update(names)
                current.prune(now)
                mine.prune(now)
                document = current.document()
                if len(json.dumps(document, separators=(",", ":"))) > MAX_POLICY_CHARS:
                    # Too many live revocations: cut off every older session instead.
                    current = Revocations(all_before=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
                    document = current.document()
                self._put(role, document)
                landed = self._current(role)
                if session_name in landed.names() or landed.all_before:
                    return
        raise UnavailableError("the revocation could not be written; retry")

    def _current(self, role: str) -> Revocations:
        try:
            answer = self._iam.get_role_policy(RoleName=role, PolicyName=self._policy_name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return Revocations()
            raise UnavailableError("the revocation policy could not be read") from None
        except BotoCoreError:
            raise UnavailableError("the revocation policy could not be read") from None
        return Revocations.read(_document(answer["PolicyDocument"]))

    def _put(self, role: str, document: dict[str, Any]) -> None:
        try:
            self._iam.put_role_policy(
                RoleName=role,
                PolicyName=self._policy_name,
                PolicyDocument=json.dumps(document, separators=(",", ":")),
            )
        except (ClientError, BotoCoreError):
            raise UnavailableError("the revocation policy could not be written") from None


class IamRolePolicySource:
    """Reads a target role's named inline policies (what the containment proof needs)."""

    def __init__(self, iam_client: Any, *, policy_names: Sequence[str]) -> None:
        self._iam = iam_client
        self._names = tuple(policy_names)

    def role_policies(self, role_arn: str) -> list[dict[str, Any]]:
        """The documents, read now: the proof must see what IAM will evaluate."""
        documents = []
        for name in self._names:
            try:
                answer = self._iam.get_role_policy(RoleName=role_name_of(role_arn), PolicyName=name)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
                    continue
                raise UnavailableError("the target role's policies could not be read") from None
            except BotoCoreError:
                raise UnavailableError("the target role's policies could not be read") from None
            documents.append(_document(answer["PolicyDocument"]))
        return documents
