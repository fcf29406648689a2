"""The running sandbox: state restored, the gateway serving, snapshots on, demo bank seeded."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from agent_zero.domain.errors import UnavailableError
from agent_zero.sandbox.gateway import Clock, Gateway, utc_now
from agent_zero.sandbox.moto_host import MotoHost
from agent_zero.sandbox.persistence import Snapshotter, StateFile
from agent_zero.sandbox.server import GatewayServer
from agent_zero.sandbox.sessions import GatewayState

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's account: every unknown key maps to it
DEFAULT_REGION = "us-east-1"
DEFAULT_GATEWAY_PORT = 4566

Progress = Callable[[str], None]


def _silent(_message: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RootCredentials:
    """The emulated account's root key (the sandbox's bootstrap identity)."""

    access_key_id: str
    secret_access_key: str


class Sandbox:
    """moto behind the IAM gateway, with state kept in ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        gateway_port: int = DEFAULT_GATEWAY_PORT,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        clock: Clock = utc_now,
        max_skew: timedelta = timedelta(minutes=5),
        snapshot_interval: float = 0.5,
    ) -> None:
        self.data_dir = data_dir
        self.region = region
        self.account_id = account_id
        self.moto = MotoHost(account_id)
        self.state_file = StateFile.in_directory(data_dir)
        self._port = gateway_port
        self._clock = clock
        self._max_skew = max_skew
        self._interval = snapshot_interval
        self.state: GatewayState | None = None
        self.server: GatewayServer | None = None
        self.snapshotter: Snapshotter | None = None
        self._lock_descriptor: int | None = None

    def start(self, progress: Progress = _silent, *, reset: bool = False) -> None:
        """Lock the data directory, restore state (or forget it), bind, start snapshots."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)  # it holds keys and passwords
        self._lock_data_dir()
        if reset:
            # Under the lock: a running sandbox keeps its directory, a reset waits its turn.
            progress("deleting the previous state (--reset)")
            self._forget_everything()
        for leftover in self.data_dir.glob(".sandbox-state.pickle.*"):
            leftover.unlink(missing_ok=True)  # a temporary file a crash left behind
        progress("restoring state")
        self.state = self.state_file.load(self.moto, account_id=self.account_id)
        gateway = Gateway(
            moto=self.moto,
            state=self.state,
            region=self.region,
            clock=self._clock,
            max_skew=self._max_skew,
        )
        self.server = GatewayServer(gateway, self._port)
        progress("starting the IAM gateway on 127.0.0.1")
        self.server.start()
        self.snapshotter = Snapshotter(
            self.state_file, self.moto, self.state, interval=self._interval
        )
        self.snapshotter.start()

    @property
    def endpoint_url(self) -> str:
        """The AWS endpoint URL."""
        if self.server is None:
            raise RuntimeError("the sandbox is not started")
        return self.server.url

    @property
    def root(self) -> RootCredentials:
        """The root key of the emulated account."""
        if self.state is None:
            raise RuntimeError("the sandbox is not started")
        return RootCredentials(self.state.root_access_key_id, self.state.root_secret_access_key)

    def stop(self) -> None:
        """Finish requests in flight, stop serving, write the final snapshot."""
        if self.server is not None:
            self.server.stop()
        if self.snapshotter is not None:
            self.snapshotter.stop()
        if self._lock_descriptor is not None:
            os.close(self._lock_descriptor)  # releases the flock
            self._lock_descriptor = None

    def _forget_everything(self) -> None:
        for entry in self.data_dir.iterdir():
            if entry.name == ".lock":
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def _lock_data_dir(self) -> None:
        # Two sandboxes writing one state file would each overwrite the other's data.
        descriptor = os.open(self.data_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise UnavailableError(
                f"another sandbox is already running with data directory {self.data_dir}"
            ) from None
        self._lock_descriptor = descriptor
