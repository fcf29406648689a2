"""The sandbox's revoker: a revocation is in the state file before ``revoke`` returns, so a
kill -9 right after it cannot bring the session back."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from moto.iam.models import iam_backends

from agent_zero.domain.errors import UnavailableError
from agent_zero.sandbox.moto_host import MotoHost
from agent_zero.sandbox.persistence import SnapshottedRevoker, Snapshotter, StateFile
from agent_zero.sandbox.sessions import GatewayState

ACCOUNT = "123456789012"


class GatewayWrite:
    """What the gateway does for a revocation: a write into moto, then the change counted."""

    def __init__(self, moto: MotoHost, state: GatewayState) -> None:
        self.moto = moto
        self.state = state

    def revoke(self, *, role_arn: str, session_name: str, expires_at: datetime) -> None:
        with self.moto.locked():  # as the gateway calls moto: never under a snapshot
            iam = iam_backends[ACCOUNT]["global"]
            iam.create_user(region_name="us-east-1", user_name=session_name)
        self.state.touch()


def restored_users(directory: Path) -> set[str]:
    moto = MotoHost(ACCOUNT)
    StateFile.in_directory(directory).load(moto, account_id=ACCOUNT)
    return {user.name for user in iam_backends[ACCOUNT]["global"].users.values()}


def revoker_over(directory: Path) -> tuple[SnapshottedRevoker, Snapshotter]:
    moto = MotoHost(ACCOUNT)
    state_file = StateFile.in_directory(directory)
    state = state_file.load(moto, account_id=ACCOUNT)
    # The periodic snapshot never comes: only the revoker writes one.
    snapshotter = Snapshotter(state_file, moto, state, interval=3_600)
    return SnapshottedRevoker(GatewayWrite(moto, state), snapshotter), snapshotter


def test_a_revocation_is_saved_before_it_returns(tmp_path: Path) -> None:
    revoker, _ = revoker_over(tmp_path)
    revoker.revoke(role_arn="arn", session_name="req-kept", expires_at=datetime.now(UTC))
    assert "req-kept" in restored_users(tmp_path)  # what a restart after kill -9 would see


def test_concurrent_revocations_leave_the_newest_snapshot(tmp_path: Path) -> None:
    revoker, snapshotter = revoker_over(tmp_path)
    names = [f"req-{n:03d}" for n in range(16)]
    threads = [
        threading.Thread(
            target=revoker.revoke,
            kwargs={"role_arn": "arn", "session_name": name, "expires_at": datetime.now(UTC)},
        )
        for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(names) <= restored_users(tmp_path)
    assert snapshotter.flush() is False  # the last snapshot already holds every change


def test_a_revocation_that_cannot_be_saved_fails(tmp_path: Path) -> None:
    revoker, snapshotter = revoker_over(tmp_path)
    snapshotter.state_file = StateFile(tmp_path / "gone" / "sandbox-state.pickle")
    with pytest.raises(UnavailableError, match="could not save the revocation"):
        revoker.revoke(role_arn="arn", session_name="req-lost", expires_at=datetime.now(UTC))
