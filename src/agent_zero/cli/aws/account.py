"""The deployed stack as these commands see it: its outputs, what it holds, and the changes.

Reads go only to the demo's own keys (BatchGetItem of the demo rows, AdminGetUser of the demo
usernames, GetItem of the demo principals), so a large production table costs nothing extra.
Writes are conditional where a row could have appeared since the plan was made.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from agent_zero.adapters.dynamodb import (
    DynamoDBPolicyStore,
    DynamoDBPrincipalDirectory,
    DynamoDBTables,
)
from agent_zero.cli.aws.plan import Inventory, Plan, RowKey, key_names
from agent_zero.domain.errors import InvalidInputError, UnavailableError

if TYPE_CHECKING:
    from agent_zero.sandbox.demo_bank import DemoBank, DemoTable, Item
    from agent_zero.sandbox.record import UserRecord

DEFAULT_BROKER_TABLE_PREFIX = "agent-zero-"
Progress = Callable[[str], None]
_BATCH_GET_LIMIT = 100
_BATCH_ATTEMPTS = 8
_RANDOM_BYTES = 24  # token_urlsafe: 32 characters, 192 bits
_CHARACTER_CLASSES: tuple[Callable[[str], bool], ...] = (
    str.islower,
    str.isupper,
    str.isdigit,
    lambda c: c in "-_",  # Cognito counts both as symbols
)
_SERIALIZER, _DESERIALIZER = TypeSerializer(), TypeDeserializer()


@dataclass(frozen=True, slots=True)
class StackOutputs:
    """What these commands need to know of the deployed stack."""

    user_pool_id: str
    region: str
    broker_tables: DynamoDBTables
    demo_bank: bool | None = None  # None: the stack does not say
    demo_tables: Mapping[str, str] = field(default_factory=dict)  # catalog key → table name
    agent_role_arn: str | None = None

    @classmethod
    def parse(cls, values: Mapping[str, object], *, source: str) -> StackOutputs:
        """The outputs a stack declared; InvalidInputError without ``UserPoolId``."""
        pool = values.get("UserPoolId")
        if not isinstance(pool, str) or not pool:
            raise InvalidInputError(f"{source} has no UserPoolId output")
        named = DynamoDBTables.with_prefix(
            str(values.get("TablePrefix") or DEFAULT_BROKER_TABLE_PREFIX)
        )
        tables = {
            label: str(values.get(f"{label.title()}Table") or getattr(named, label))
            for label in ("principals", "policies", "requests", "audit")
        }
        demo = values.get("DemoBank")
        return cls(
            user_pool_id=pool,
            region=str(values.get("Region") or pool.partition("_")[0]),  # ids are <region>_<id>
            broker_tables=DynamoDBTables(**tables),
            demo_bank=None if demo is None else str(demo).lower() == "true",
            demo_tables=_table_names(values.get("DemoBankTables"), source=source),
            agent_role_arn=str(values["AgentRoleArn"]) if values.get("AgentRoleArn") else None,
        )

    def deployed(self, bank: DemoBank) -> DemoBank:
        """The demo bank with its tables under the names the stack gave them."""
        tables = tuple(
            replace(table, name=self.demo_tables.get(table.catalog_key, table.name))
            for table in bank.tables
        )
        return replace(bank, tables=tables)


def _table_names(value: object, *, source: str) -> dict[str, str]:
    """``DemoBankTables``: catalog key → table name, as JSON (CloudFormation) or an object."""
    try:
        names = json.loads(value) if isinstance(value, str) else (value or {})
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
        raise InvalidInputError(f"{source}: DemoBankTables is not a JSON object of table names")
    return {str(key): str(name) for key, name in names.items()}


def read_outputs_file(path: Path, stack: str) -> StackOutputs:
    """The stack's outputs from the file ``cdk deploy --outputs-file`` wrote."""
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise InvalidInputError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError:
        raise InvalidInputError(
            f"{path} is not the JSON `cdk deploy --outputs-file` writes"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get(stack), dict):
        found = ", ".join(sorted(document)) if isinstance(document, dict) else ""
        raise InvalidInputError(f"{path} has no outputs of {stack} (stacks: {found or 'none'})")
    return StackOutputs.parse(document[stack], source=f"{path} ({stack})")


def describe_outputs(cloudformation: Any, stack: str) -> StackOutputs:
    """The stack's outputs as CloudFormation describes them."""
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        if error_code(error) == "ValidationError":  # CloudFormation's answer for an unknown stack
            raise InvalidInputError(f"there is no stack {stack} in this region") from None
        raise
    values = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return StackOutputs.parse(values, source=f"stack {stack}")


def error_code(error: ClientError) -> str:
    """AWS's error code."""
    return str(error.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True, slots=True)
class AwsAccount:
    """The clients and broker stores these commands work through, built once."""

    dynamodb: Any
    cognito: Any
    user_pool_id: str
    tables: DynamoDBTables
    directory: DynamoDBPrincipalDirectory
    policies: DynamoDBPolicyStore

    @classmethod
    def of(cls, *, dynamodb: Any, cognito: Any, outputs: StackOutputs) -> AwsAccount:
        """The account behind these clients, with the stack's user pool and broker tables."""
        tables = outputs.broker_tables
        return cls(
            dynamodb=dynamodb,
            cognito=cognito,
            user_pool_id=outputs.user_pool_id,
            tables=tables,
            directory=DynamoDBPrincipalDirectory(client=dynamodb, table=tables.principals),
            policies=DynamoDBPolicyStore(client=dynamodb, table=tables.policies),
        )


# --- reading ----------------------------------------------------------------------------------


def take_inventory(account: AwsAccount, bank: DemoBank) -> Inventory:
    """Read which demo tables, rows, users, principals and policies exist."""
    wanted = [t.name for t in bank.tables] + [account.tables.principals, account.tables.policies]
    missing = frozenset(name for name in wanted if not _table_exists(account.dynamodb, name))
    pool = _user_pool(account)
    pages = account.cognito.get_paginator("list_groups").paginate(UserPoolId=account.user_pool_id)
    groups = {group["GroupName"] for page in pages for group in page["Groups"]}
    attributes = {attribute["Name"] for attribute in pool.get("SchemaAttributes", [])}
    users = {
        user.username: found.get("email")
        for user in bank.users
        if (found := _user_attributes(account, user.username)) is not None
    }
    ready = not {account.tables.principals, account.tables.policies} & missing
    principals = {
        p.id: held
        for p in (bank.principals() if ready else ())
        if (held := account.directory.get(p.id)) is not None
    }
    policies = frozenset(
        p.principal_id
        for p in (bank.policies if ready else ())
        if account.policies.current(p.principal_id) is not None
    )
    password_policy = pool.get("Policies", {}).get("PasswordPolicy", {})
    return Inventory(
        missing_tables=missing,
        missing_groups=frozenset(g.name for g in bank.user_pool.groups) - groups,
        missing_attributes=frozenset(f"custom:{a}" for a in bank.user_pool.custom_attributes)
        - attributes,
        rows={
            t.name: _present_keys(account.dynamodb, t) for t in bank.tables if t.name not in missing
        },
        users=users,
        principals=principals,
        policies=policies,
        password_length=int(password_policy.get("MinimumLength", 8)),
    )


def _table_exists(dynamodb: Any, name: str) -> bool:
    try:
        dynamodb.describe_table(TableName=name)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return False
        raise
    return True


def _user_pool(account: AwsAccount) -> dict[str, Any]:
    try:
        answer = account.cognito.describe_user_pool(UserPoolId=account.user_pool_id)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise InvalidInputError(
                f"there is no user pool {account.user_pool_id}: check the UserPoolId output"
            ) from None
        raise
    pool: dict[str, Any] = answer["UserPool"]
    return pool


def _user_attributes(account: AwsAccount, username: str) -> dict[str, str] | None:
    try:
        found = account.cognito.admin_get_user(UserPoolId=account.user_pool_id, Username=username)
    except ClientError as error:
        if error_code(error) == "UserNotFoundException":
            return None
        raise
    return {a["Name"]: a["Value"] for a in found.get("UserAttributes", [])}


def _key_item(table: DemoTable, row: Item) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(row[name]) for name in key_names(table)}


def _present_keys(dynamodb: Any, table: DemoTable) -> frozenset[RowKey]:
    """Which of the table's demo rows exist (BatchGetItem of their keys, nothing else)."""
    names = key_names(table)
    projection = {
        "ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(names))),
        "ExpressionAttributeNames": {f"#k{i}": name for i, name in enumerate(names)},
        "ConsistentRead": True,
    }
    keys = [_key_item(table, row) for row in table.rows]
    present: set[RowKey] = set()
    for start in range(0, len(keys), _BATCH_GET_LIMIT):
        pending = {table.name: {"Keys": keys[start : start + _BATCH_GET_LIMIT], **projection}}
        for attempt in range(_BATCH_ATTEMPTS):
            answer = dynamodb.batch_get_item(RequestItems=pending)
            for item in answer["Responses"].get(table.name, []):
                present.add(tuple(_DESERIALIZER.deserialize(item[name]) for name in names))
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(0.1 * 2**attempt)  # DynamoDB is busy: back off
        else:
            raise UnavailableError(f"DynamoDB is too busy to read {table.name}: try again")
    return frozenset(present)


# --- changing -------------------------------------------------------------------------------


def strong_password(minimum_length: int = 8) -> str:
    """A random password with lower and upper case, a digit and a symbol, as Cognito asks."""
    while True:
        candidate = secrets.token_urlsafe(max(_RANDOM_BYTES, minimum_length))
        if all(any(test(c) for c in candidate) for test in _CHARACTER_CLASSES):
            return candidate


def apply_seed(
    plan: Plan, account: AwsAccount, bank: DemoBank, *, password_length: int, progress: Progress
) -> list[UserRecord]:
    """Create what the plan lists, users last; the new users and their passwords."""
    from agent_zero.adapters.system import SystemClock
    from agent_zero.sandbox.seed import seed_user
    from agent_zero.wiring import seed_directory

    for change in plan.tables:
        if change.rows:
            progress(f"writing {len(change.rows)} rows to {change.table.name}")
            for row in change.rows:
                _put_if_absent(account.dynamodb, change.table, row)
    if plan.principals or plan.policies:
        progress(f"adding {len(plan.principals)} principals, {len(plan.policies)} policies")
        # Creates only what is missing: a principal or policy edited since is kept.
        seed_directory(account.directory, account.policies, bank, clock=SystemClock())
    created = []
    for user in plan.users:  # last: nobody signs in before the broker knows them
        progress(f"creating Cognito user {user.username}")
        password = strong_password(password_length)
        created.append(seed_user(account.cognito, account.user_pool_id, user, password))
    return created


def _put_if_absent(dynamodb: Any, table: DemoTable, row: Item) -> None:
    names = {f"#k{i}": name for i, name in enumerate(key_names(table))}
    try:
        dynamodb.put_item(
            TableName=table.name,
            Item={name: _SERIALIZER.serialize(value) for name, value in row.items()},
            ConditionExpression=" AND ".join(f"attribute_not_exists({n})" for n in names),
            ExpressionAttributeNames=names,
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":  # written since the plan
            raise


def apply_teardown(plan: Plan, account: AwsAccount, *, progress: Progress) -> None:
    """Delete what the plan lists, users first so nobody signs in meanwhile."""
    for user in plan.users:
        progress(f"deleting Cognito user {user.username}")
        try:
            account.cognito.admin_delete_user(
                UserPoolId=account.user_pool_id, Username=user.username
            )
        except ClientError as error:
            if error_code(error) != "UserNotFoundException":
                raise
    if plan.principals:
        progress(f"deleting {len(plan.principals)} principals")
    for principal in plan.principals:
        # The directory port has no delete; this is the DynamoDB directory's key.
        account.dynamodb.delete_item(
            TableName=account.tables.principals, Key={"principal_id": {"S": principal.id}}
        )
    for change in plan.tables:
        if change.rows:
            progress(f"deleting {len(change.rows)} rows from {change.table.name}")
            for row in change.rows:
                account.dynamodb.delete_item(
                    TableName=change.table.name, Key=_key_item(change.table, row)
                )
