"""A running sandbox for end-to-end tests: the real gateway over HTTP on 127.0.0.1.

The sandbox runs in the test process (port 0) so a test can move its clock; every
request still goes through boto3, SigV4 and a real socket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from agent_zero.sandbox.runtime import Sandbox

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class MovableClock:
    """The gateway's clock, which a test may move forward."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class RunningSandbox:
    """A started sandbox and ways to reach it as its root user."""

    sandbox: Sandbox
    clock: MovableClock

    @property
    def endpoint(self) -> str:
        return self.sandbox.endpoint_url

    def client(self, service: str, config: Config | None = None, **credentials: str) -> Any:
        if not credentials:
            credentials = {
                "aws_access_key_id": self.sandbox.root.access_key_id,
                "aws_secret_access_key": self.sandbox.root.secret_access_key,
            }
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=REGION, config=config, **credentials
        )

    def session_client(self, service: str, credentials: dict[str, Any]) -> Any:
        return self.client(
            service,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )


def start_sandbox(data_dir: Path, **options: Any) -> RunningSandbox:
    clock = MovableClock()
    sandbox = Sandbox(data_dir, gateway_port=0, clock=clock, **options)
    sandbox.start()
    return RunningSandbox(sandbox, clock)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningSandbox]:
    started = start_sandbox(tmp_path / "sandbox")
    try:
        yield started
    finally:
        started.sandbox.stop()


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def bank(running: RunningSandbox) -> dict[str, str]:
    """The small bank of ``e2e.small_bank`` in a fresh sandbox; the broker's access key."""
    from e2e.small_bank import make_bank  # small_bank imports this module

    return make_bank(running)
