"""Fixtures for unit tests: the small bank from ``support.bank`` and its principals."""

from __future__ import annotations

from typing import Any

import pytest

from agent_zero.domain.catalog import Catalog
from agent_zero.domain.principals import Principal, PrincipalKind
from support.bank import bank_entries, broad_role_policy


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(entries=tuple(bank_entries()))


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


@pytest.fixture
def dynamodb_role_policies() -> list[dict[str, Any]]:
    return [broad_role_policy()]
