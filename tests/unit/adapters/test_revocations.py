"""The revocation policy's content: live sessions stay denied until they expire."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from agent_zero import iam
from agent_zero.adapters.aws.iam import Revocations

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/agent-zero/target"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/T"


def denied(document: dict[str, object], session: str, issued: datetime = NOW) -> bool:
    result = iam.evaluate(
        action="dynamodb:GetItem",
        resource=TABLE,
        principal=f"arn:aws:sts::123456789012:assumed-role/target/{session}",
        identity_policies=[
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            },
            document,
        ],
        context={
            "aws:userid": f"AROAEXAMPLE:{session}",
            "aws:TokenIssueTime": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    return result.decision is iam.Decision.EXPLICIT_DENY


def test_a_revoked_session_is_denied_and_others_are_not() -> None:
    revocations = Revocations()
    revocations.add("req-1", NOW + timedelta(minutes=30))
    document = revocations.document()
    assert denied(document, "req-1")
    assert not denied(document, "req-2")
    assert not denied(document, "req-10")  # no prefix match: "*:req-1" is the whole name


def test_live_entries_are_never_evicted_by_later_ones() -> None:
    revocations = Revocations()
    revocations.add("victim", NOW + timedelta(minutes=30))
    for number in range(300):
        revocations.add(f"req-{number}", NOW + timedelta(minutes=30))
    revocations.prune(NOW)
    assert "victim" in revocations.names()


def test_expired_entries_leave_after_their_minute() -> None:
    revocations = Revocations()
    revocations.add("short", NOW + timedelta(minutes=15))
    revocations.add("long", NOW + timedelta(minutes=50))
    revocations.prune(NOW + timedelta(minutes=20))
    assert revocations.names() == {"long"}


def test_the_document_round_trips() -> None:
    revocations = Revocations(all_before="2026-11-26T12:00:00Z")
    revocations.add("req-7", NOW + timedelta(minutes=5))
    again = Revocations.read(json.loads(json.dumps(revocations.document())))
    assert again.names() == {"req-7"}
    assert again.all_before == "2026-11-26T12:00:00Z"


def test_the_cut_off_denies_every_older_session_and_no_newer_one() -> None:
    document = Revocations(all_before="2026-11-26T12:00:00Z").document()
    assert denied(document, "anything", issued=NOW - timedelta(seconds=1))
    assert not denied(document, "anything", issued=NOW + timedelta(seconds=1))
