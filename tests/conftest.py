"""Test-wide guards: fake AWS credentials and no network beyond loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator

import pytest

from agent_zero.domain.principals import Principal, PrincipalKind

# The attacker suite's tally (tests/security): loaded here so the xdist controller, which
# collects nothing, still adds up the workers' cases and prints the table.
pytest_plugins = ["security.ledger"]

_FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_original_connect = socket.socket.connect


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return isinstance(address, str | bytes)  # AF_UNIX paths stay on this machine


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise OSError(f"tests may only reach loopback addresses, not {address!r}")
    _original_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def _offline_and_fake_aws() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in _FAKE_AWS}
    os.environ.update(_FAKE_AWS)
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = _original_connect  # type: ignore[method-assign]
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# Principals of the small bank in support.bank, shared by unit and integration tests.


@pytest.fixture
def customer() -> Principal:
    return Principal(
        id="alice",
        kind=PrincipalKind.HUMAN,
        display_name="Alice",
        groups=frozenset({"customers"}),
        attributes={"customer_key": "c-1001"},
    )


@pytest.fixture
def staff() -> Principal:
    return Principal(
        id="sam",
        kind=PrincipalKind.HUMAN,
        display_name="Sam",
        groups=frozenset({"staff", "approvers"}),
    )


@pytest.fixture
def admin() -> Principal:
    return Principal(
        id="ada",
        kind=PrincipalKind.HUMAN,
        display_name="Ada",
        groups=frozenset({"staff", "admins"}),
    )


@pytest.fixture
def support_agent() -> Principal:
    return Principal(
        id="support-agent",
        kind=PrincipalKind.AGENT,
        display_name="Support agent",
        attributes={"customer_key": "c-1001"},
    )
