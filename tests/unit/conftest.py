"""Fixtures for unit tests: the small bank from ``support.bank`` and its principals."""

from __future__ import annotations

from typing import Any

import pytest

from agent_zero.domain.catalog import Catalog
from support.bank import bank_entries, broad_role_policy


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(entries=tuple(bank_entries()))


@pytest.fixture
def dynamodb_role_policies() -> list[dict[str, Any]]:
    return [broad_role_policy()]
