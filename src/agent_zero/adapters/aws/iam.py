"""Revocation as a deny policy on the target role, and the role's policies for the proof.

STS sessions cannot be deleted; a Deny on ``aws:userid`` (role id : session
name) stops one session at the next request. The broker owns the role's
revocation policy; it appends session names and keeps the newest entries (a
session lives at most an hour, so old entries guard nothing).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from agent_zero.domain.errors import UnavailableError

MAX_REVOKED_SESSIONS = 150  # keeps the inline policy well under IAM's 10,240 characters
_NEVER = "agent-zero:no-revocations"  # a SourceIdentity can never contain ":"


def role_name_of(role_arn: str) -> str:
    """The role's name (its ARN may carry a path)."""
    return role_arn.rsplit("/", 1)[-1]


def _document(value: Any) -> dict[str, Any]:
    # boto3 decodes the document; a raw client may hand back URL-encoded JSON text.
    if isinstance(value, dict):
        return value
    return dict(json.loads(unquote(str(value))))


def revocation_document(session_names: Sequence[str]) -> dict[str, Any]:
    """The deny policy for these sessions (a valid policy that matches none when empty)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "RevokedSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceIdentity": _NEVER}},
        }
    ]
    if session_names:
        statements.append(
            {
                "Sid": "RevokedSessionNames",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringLike": {"aws:userid": [f"*:{n}" for n in session_names]}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def revoked_sessions(document: dict[str, Any]) -> list[str]:
    """The session names a revocation document denies."""
    for statement in document.get("Statement", []):
        if statement.get("Sid") == "RevokedSessionNames":
            patterns = statement.get("Condition", {}).get("StringLike", {}).get("aws:userid", [])
            return [
                p.split(":", 1)[1] for p in ([patterns] if isinstance(patterns, str) else patterns)
            ]
    return []


class IamRevocationPolicy:
    """The Revoker port: rewrites the target role's revocation policy."""

    def __init__(self, iam_client: Any, *, policy_name: str) -> None:
        self._iam = iam_client
        self._policy_name = policy_name

    def revoke(self, *, role_arn: str, session_name: str) -> None:
        """Add one session to the role's deny list, verifying the write landed."""
        role = role_name_of(role_arn)
        for _attempt in range(3):
            names = self._current(role)
            if session_name in names:
                return
            names = [*names, session_name][-MAX_REVOKED_SESSIONS:]
            self._put(role, names)
            # Two revocations racing on one role: re-read so neither is lost.
            if session_name in self._current(role):
                return
        raise UnavailableError("the revocation could not be written; retry")

    def _current(self, role: str) -> list[str]:
        try:
            answer = self._iam.get_role_policy(RoleName=role, PolicyName=self._policy_name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return []
            raise UnavailableError("the revocation policy could not be read") from None
        except BotoCoreError:
            raise UnavailableError("the revocation policy could not be read") from None
        return revoked_sessions(_document(answer["PolicyDocument"]))

    def _put(self, role: str, names: list[str]) -> None:
        try:
            self._iam.put_role_policy(
                RoleName=role,
                PolicyName=self._policy_name,
                PolicyDocument=json.dumps(revocation_document(names), separators=(",", ":")),
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
