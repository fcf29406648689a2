"""The stores on DynamoDB: moto behind our IAM gateway, reached as a least-privilege IAM user.

One sandbox serves a whole test module; each backend gets tables of its own. The
stores call DynamoDB as the IAM user ``broker``, whose policy allows exactly the
actions the adapters need on tables with the module's prefix, so a test also shows
what the production role must grant. An outage is an explicit Deny put on that user
for one table: the gateway judges every request by the policies as they are now.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from agent_zero.adapters.dynamodb import (
    DynamoDBAuditLog,
    DynamoDBPolicyStore,
    DynamoDBPrincipalDirectory,
    DynamoDBRequestStore,
    DynamoDBTables,
    create_tables,
)
from agent_zero.sandbox.runtime import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, Sandbox
from integration.stores.conftest import Backend

BROKER_USER = "broker"
# What the adapters call; transactions are authorized per item as these single-item actions.
BROKER_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
    "dynamodb:Scan",
]


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:table/{name}"


def _policy(effect: str, actions: list[str], resources: list[str]) -> str:
    statement = {"Effect": effect, "Action": actions, "Resource": resources}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@dataclass
class DynamoDBSandbox:
    """A started sandbox, a root client for setup and tampering, and the broker's client."""

    sandbox: Sandbox
    prefix: str
    root: Any  # DynamoDB, as the account's root
    iam: Any  # IAM, as the account's root
    broker: Any  # DynamoDB, as the broker user
    broker_keys: dict[str, str]

    def broker_client(self) -> Any:
        """Another DynamoDB client of the broker user (as another process would have)."""
        return client(self.sandbox, "dynamodb", **self.broker_keys)

    def fresh_tables(self) -> DynamoDBTables:
        """Four new tables, created as root."""
        tables = DynamoDBTables.with_prefix(f"{self.prefix}{uuid.uuid4().hex[:8]}-")
        create_tables(self.root, tables)
        return tables

    @contextmanager
    def outage(self, table: str) -> Iterator[None]:
        """Every call of the broker on ``table`` (and its indexes) is denied for a while."""
        denied = [table_arn(table), f"{table_arn(table)}/index/*"]
        self.iam.put_user_policy(
            UserName=BROKER_USER,
            PolicyName=f"outage-{table}",
            PolicyDocument=_policy("Deny", ["dynamodb:*"], denied),
        )
        try:
            yield
        finally:
            self.iam.delete_user_policy(UserName=BROKER_USER, PolicyName=f"outage-{table}")

    def backend(self) -> Backend:
        """The four stores on fresh tables, as the broker user."""
        tables = self.fresh_tables()
        return Backend(
            directory=DynamoDBPrincipalDirectory(client=self.broker, table=tables.principals),
            policies=DynamoDBPolicyStore(client=self.broker, table=tables.policies),
            requests=DynamoDBRequestStore(client=self.broker, table=tables.requests),
            audit=DynamoDBAuditLog(client=self.broker, table=tables.audit),
            audit_outage=lambda: self.outage(tables.audit),
        )


def client(sandbox: Sandbox, service: str, *, access_key_id: str, secret_access_key: str) -> Any:
    """A boto3 client of the sandbox's endpoint with these keys."""
    return boto3.client(
        service,
        endpoint_url=sandbox.endpoint_url,
        region_name=DEFAULT_REGION,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
    )


@contextmanager
def running_dynamodb(data_dir: Path) -> Iterator[DynamoDBSandbox]:
    """A sandbox on 127.0.0.1 (port 0) with a broker user allowed on ``t-<random>-*`` tables."""
    # Snapshots pickle all of moto under its lock; the tests need none until the last.
    sandbox = Sandbox(data_dir, gateway_port=0, snapshot_interval=3_600)
    sandbox.start()
    try:
        root_keys = {
            "access_key_id": sandbox.root.access_key_id,
            "secret_access_key": sandbox.root.secret_access_key,
        }
        prefix = f"t-{uuid.uuid4().hex[:6]}-"
        iam = client(sandbox, "iam", **root_keys)
        iam.create_user(UserName=BROKER_USER)
        allowed = [table_arn(f"{prefix}*"), f"{table_arn(f'{prefix}*')}/index/*"]
        iam.put_user_policy(
            UserName=BROKER_USER,
            PolicyName="broker-tables",
            PolicyDocument=_policy("Allow", BROKER_ACTIONS, allowed),
        )
        key = iam.create_access_key(UserName=BROKER_USER)["AccessKey"]
        broker_keys = {
            "access_key_id": key["AccessKeyId"],
            "secret_access_key": key["SecretAccessKey"],
        }
        yield DynamoDBSandbox(
            sandbox,
            prefix,
            root=client(sandbox, "dynamodb", **root_keys),
            iam=iam,
            broker=client(sandbox, "dynamodb", **broker_keys),
            broker_keys=broker_keys,
        )
    finally:
        sandbox.stop()
