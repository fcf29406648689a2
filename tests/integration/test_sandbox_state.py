"""The sandbox's state file: written atomically and privately, refused clearly when unreadable."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest

from agent_zero.domain.errors import UnavailableError
from agent_zero.sandbox.moto_host import MotoHost
from agent_zero.sandbox.persistence import Snapshotter, StateFile, atomic_write

ACCOUNT = "123456789012"


def test_atomic_write_replaces_whole_files_with_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "state"
    atomic_write(target, b"first")
    atomic_write(target, b"second")
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]  # no temporary left


def test_a_snapshot_restores_moto_and_the_gateway_state(tmp_path: Path) -> None:
    moto = MotoHost(ACCOUNT)
    state_file = StateFile.in_directory(tmp_path)
    state = state_file.load(moto, account_id=ACCOUNT)
    from moto.iam.models import iam_backends

    iam_backends[ACCOUNT]["global"].create_user(region_name="us-east-1", user_name="kept")
    snapshotter = Snapshotter(state_file, moto, state, interval=60)
    state.touch()
    assert snapshotter.flush() is True
    assert snapshotter.flush() is False  # nothing changed since
    iam_backends[ACCOUNT]["global"].create_user(region_name="us-east-1", user_name="lost")

    restored = StateFile.in_directory(tmp_path).load(MotoHost(ACCOUNT), account_id=ACCOUNT)
    assert restored.root_access_key_id == state.root_access_key_id
    assert MotoHost(ACCOUNT).user("kept") is not None
    assert MotoHost(ACCOUNT).user("lost") is None  # restore replaced the live backends


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a pickle", "cannot be read"),
        (pickle.dumps({"format": 999}), "another version"),
    ],
)
def test_an_unreadable_state_file_is_refused_with_a_way_out(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "sandbox-state.pickle").write_bytes(content)
    with pytest.raises(UnavailableError, match=message) as raised:
        StateFile.in_directory(tmp_path).load(MotoHost(ACCOUNT), account_id=ACCOUNT)
    assert "--reset" in raised.value.message
