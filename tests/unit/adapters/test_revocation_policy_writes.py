"""IamRevocationPolicy over a fake IAM client: entries merge, survive, and overflow safely."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from agent_zero.adapters.aws.iam import IamRevocationPolicy, Revocations

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/agent-zero/target"


class FakeIam:
    """Inline role policies in a dict, with IAM's NoSuchEntity."""

    def __init__(self) -> None:
        self.policies: dict[tuple[str, str], str] = {}
        self.writes = 0

    def get_role_policy(self, *, RoleName: str, PolicyName: str) -> dict[str, Any]:  # noqa: N803
        try:
            return {"PolicyDocument": json.loads(self.policies[(RoleName, PolicyName)])}
        except KeyError:
            raise ClientError({"Error": {"Code": "NoSuchEntity"}}, "GetRolePolicy") from None

    def put_role_policy(self, *, RoleName: str, PolicyName: str, PolicyDocument: str) -> None:  # noqa: N803
        self.writes += 1
        self.policies[(RoleName, PolicyName)] = PolicyDocument


def stored(iam_client: FakeIam) -> Revocations:
    return Revocations.read(json.loads(iam_client.policies[("target", "revocations")]))


def test_revocations_accumulate_and_keep_what_another_writer_added() -> None:
    fake = FakeIam()
    one = IamRevocationPolicy(fake, policy_name="revocations", clock=lambda: NOW)
    other = IamRevocationPolicy(fake, policy_name="revocations", clock=lambda: NOW)
    one.revoke(role_arn=ROLE, session_name="req-a", expires_at=NOW + timedelta(minutes=30))
    other.revoke(role_arn=ROLE, session_name="req-b", expires_at=NOW + timedelta(minutes=30))
    assert stored(fake).names() == {"req-a", "req-b"}


def test_too_many_live_revocations_fall_back_to_a_cut_off_not_to_forgetting() -> None:
    fake = FakeIam()
    revoker = IamRevocationPolicy(fake, policy_name="revocations", clock=lambda: NOW)
    revoker.revoke(role_arn=ROLE, session_name="victim", expires_at=NOW + timedelta(minutes=30))
    for number in range(800):
        revoker.revoke(
            role_arn=ROLE, session_name=f"req-{number:04d}", expires_at=NOW + timedelta(minutes=30)
        )
    final = stored(fake)
    # The names no longer fit: every session issued before now is denied instead, the
    # victim included; nothing live was simply dropped.
    assert final.all_before == "2026-11-26T12:00:00Z"
    assert len(fake.policies[("target", "revocations")]) < 10_240
