"""The gateway's session records: key shapes and forgetting what can never sign again."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from agent_zero.sandbox.sessions import (
    GatewayState,
    RoleSession,
    new_access_key_id,
    new_secret_access_key,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def session(key: str, expires_at: datetime) -> RoleSession:
    return RoleSession(
        access_key_id=key,
        secret_access_key=new_secret_access_key(),
        session_token="token",
        account_id="123456789012",
        role_name="target",
        role_arn="arn:aws:iam::123456789012:role/team/target",
        role_id="AROAEXAMPLE",
        session_name="req-1",
        session_policy=None,
        source_identity="alice",
        tags={},
        transitive_tag_keys=frozenset(),
        issued_at=expires_at - timedelta(hours=1),
        expires_at=expires_at,
        assumed_by="arn:aws:iam::123456789012:user/broker",
    )


def test_keys_look_like_aws_keys_and_never_repeat() -> None:
    keys = {new_access_key_id("ASIA") for _ in range(200)}
    assert len(keys) == 200
    assert all(re.fullmatch(r"ASIA[A-Z2-7]{16}", key) for key in keys)
    assert len(new_secret_access_key()) == 40


def test_the_session_names_itself_as_aws_does() -> None:
    found = session("ASIA1", NOW)
    assert found.arn == "arn:aws:sts::123456789012:assumed-role/target/req-1"
    assert found.user_id == "AROAEXAMPLE:req-1"


def test_sessions_expired_for_a_day_are_forgotten_and_the_change_is_seen() -> None:
    state = GatewayState.fresh("123456789012")
    state.add_session(session("ASIAOLD", NOW - timedelta(days=2)))
    state.add_session(session("ASIARECENT", NOW - timedelta(hours=1)))
    state.add_session(session("ASIALIVE", NOW + timedelta(hours=1)))
    before = state.changes
    assert state.forget_expired(NOW) == 1
    assert state.session("ASIAOLD") is None
    assert state.session("ASIARECENT") is not None  # still answers ExpiredToken, not "unknown"
    assert state.changes > before
    assert state.forget_expired(NOW) == 0


def test_state_round_trips_through_its_record() -> None:
    state = GatewayState.fresh("123456789012")
    state.add_session(session("ASIALIVE", NOW))
    restored = GatewayState.from_record(state.to_record())
    assert restored.root_access_key_id == state.root_access_key_id
    assert restored.root_secret_access_key == state.root_secret_access_key
    assert restored.session("ASIALIVE") == state.session("ASIALIVE")
