"""Sandbox state on disk: moto's data and the gateway's keys and sessions, in one file.

A snapshot is written at most every half second, only when something changed,
to a temporary file that is fsynced and renamed over the old one (then the
directory is fsynced), so a crash leaves the previous snapshot or the new one,
never half of one. A clean stop waits for requests in flight and writes a final
snapshot: nothing acknowledged is lost. A kill -9 loses the writes of at most
the last interval plus one snapshot's duration, except revocations: the broker's
revoker in the sandbox (``SnapshottedRevoker``) writes a snapshot before it
returns, as AWS IAM never loses a deny policy it acknowledged.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agent_zero.broker.ports import Revoker
from agent_zero.domain.errors import UnavailableError
from agent_zero.sandbox.moto_host import MotoHost
from agent_zero.sandbox.sessions import GatewayState

FORMAT = 1
STATE_FILE = "sandbox-state.pickle"


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a reader or a crash sees old or new, never half."""
    directory = path.parent
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    descriptor = os.open(directory, os.O_DIRECTORY)
    try:
        os.fsync(descriptor)  # makes the rename itself durable
    finally:
        os.close(descriptor)


@dataclass(frozen=True, slots=True)
class StateFile:
    """Where the sandbox keeps its state."""

    path: Path

    @classmethod
    def in_directory(cls, data_dir: Path) -> StateFile:
        """The state file inside a data directory."""
        return cls(data_dir / STATE_FILE)

    def load(self, moto: MotoHost, *, account_id: str) -> GatewayState:
        """Restore moto and return the gateway state; a fresh account when there is no file."""
        if not self.path.exists():
            # The file is the source of truth: no file, no emulated resources either.
            moto.reset()
            return GatewayState.fresh(account_id)
        try:
            record = pickle.loads(self.path.read_bytes())  # noqa: S301  # our own 0600 file
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
            raise UnavailableError(
                f"{self.path} cannot be read ({type(error).__name__}); start with --reset "
                "to begin again"
            ) from None
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise UnavailableError(f"{self.path} was written by another version; use --reset")
        moto.reset()
        moto.restore(record["moto"])
        return GatewayState.from_record(record["gateway"])

    def save(self, moto: MotoHost, state: GatewayState) -> None:
        """Write one consistent snapshot."""
        with moto.locked():
            record = {"format": FORMAT, "moto": moto.snapshot(), "gateway": state.to_record()}
            data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        atomic_write(self.path, data)


class Snapshotter:
    """Writes a snapshot whenever the state changed, at most once per interval."""

    def __init__(
        self, state_file: StateFile, moto: MotoHost, state: GatewayState, *, interval: float = 0.5
    ) -> None:
        self.state_file = state_file
        self.moto = moto
        self.state = state
        self.interval = interval
        self.snapshots = 0
        self.last_duration = 0.0
        self._saved = -1
        # Revocations flush from request threads too: one snapshot at a time, so an older
        # one can never be renamed over a newer one.
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-snapshots", daemon=True)

    def start(self) -> None:
        """Begin watching for changes."""
        self._thread.start()

    def flush(self) -> bool:
        """Write a snapshot now if anything changed since the last one."""
        with self._flushing:
            seen = self.state.changes
            if seen == self._saved:
                return False
            started = time.perf_counter()
            self.state_file.save(self.moto, self.state)
            self.last_duration = time.perf_counter() - started
            self._saved = seen
            self.snapshots += 1
            return True

    def stop(self) -> None:
        """Stop the thread and write the last snapshot."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()


class SnapshottedRevoker:
    """The Revoker port in the sandbox: a revocation is in the state file before it returns.

    Snapshots trail the gateway by up to an interval. A revocation lost to a kill -9 in
    that window would revive a session the broker has recorded as revoked (recovery
    marks a request failed only once its session is denied), so this one write waits.
    """

    def __init__(self, inner: Revoker, snapshotter: Snapshotter) -> None:
        self._inner = inner
        self._snapshotter = snapshotter

    def revoke(self, *, role_arn: str, session_name: str, expires_at: datetime) -> None:
        """Revoke through the gateway, then write the snapshot that holds it."""
        self._inner.revoke(role_arn=role_arn, session_name=session_name, expires_at=expires_at)
        try:
            self._snapshotter.flush()
        except OSError as error:
            raise UnavailableError(
                f"the sandbox could not save the revocation ({error.strerror})"
            ) from None
