"""The store conformance suite, run once more over DynamoDB (moto behind the IAM gateway).

The suite's tests take their stores from the ``backend`` fixture of this directory's
conftest, which is parametrized over memory and SQLite. This module imports every
test of the suite and overrides ``backend`` with a DynamoDB one, so the same tests
run here against DynamoDB, and a test added to the suite later runs here too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import integration.stores.test_store_conformance as conformance
from integration.stores.conftest import Backend
from integration.stores.dynamodb_backend import DynamoDBSandbox, running_dynamodb

# pytest collects the test functions it finds in a module's namespace, imported ones included.
globals().update(
    {name: test for name, test in vars(conformance).items() if name.startswith("test_")}
)


@pytest.fixture(scope="module")
def dynamodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBSandbox]:
    with running_dynamodb(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture
def backend(dynamodb: DynamoDBSandbox) -> Backend:
    return dynamodb.backend()
