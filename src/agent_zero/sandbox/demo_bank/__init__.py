"""Fernhill Bank, the sandbox's demo bank, as pure data for the seeder.

``demo_bank()`` returns everything the seeder turns into Cognito, DynamoDB and
IAM calls, plus the broker's view of it: principals, their policies and the
catalog. No I/O, no randomness: the same arguments give the same bank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent_zero.domain.catalog import Catalog
from agent_zero.domain.policies import PrincipalPolicy
from agent_zero.domain.principals import Principal
from agent_zero.sandbox.demo_bank.catalog import CUSTOMER_ROWS, demo_catalog
from agent_zero.sandbox.demo_bank.models import (
    COGNITO_GROUPS,
    CUSTOMER_KEY_ATTRIBUTE,
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    PRINCIPAL_GROUP_OF,
    AttributeValue,
    CognitoGroup,
    CognitoGroupSpec,
    DemoAgent,
    DemoIamUser,
    DemoRole,
    DemoTable,
    DemoUser,
    DemoUserPool,
    GlobalSecondaryIndex,
    Item,
    KeyAttribute,
    PolicyDocument,
    RoleLabel,
)
from agent_zero.sandbox.demo_bank.people import BANK_NAME, demo_agent, demo_user_pool, demo_users
from agent_zero.sandbox.demo_bank.policies import POLICY_AUTHOR, demo_policies
from agent_zero.sandbox.demo_bank.roles import (
    BROKER_HOST_USER_NAME,
    BROKER_ROLE_NAME,
    CUSTOMER_DATA_ROLE_NAME,
    DIRECTORY_ROLE_NAME,
    NO_REVOCATIONS_SENTINEL,
    OPERATIONS_ROLE_NAME,
    REQUEST_ID_TAG,
    REVOCATION_POLICY_NAME,
    SANDBOX_ADMIN_USER_NAME,
    SESSION_TAG_KEYS,
    TARGET_ACCESS_POLICY_NAME,
    TARGET_ROLE_NAMES,
    broker_role,
    customer_data_role,
    demo_iam_users,
    directory_role,
    operations_role,
    role_arn,
)
from agent_zero.sandbox.demo_bank.tables import demo_tables

__all__ = [
    "BANK_NAME",
    "BROKER_HOST_USER_NAME",
    "BROKER_ROLE_NAME",
    "COGNITO_GROUPS",
    "CUSTOMER_DATA_ROLE_NAME",
    "CUSTOMER_KEY_ATTRIBUTE",
    "CUSTOMER_ROWS",
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "DIRECTORY_ROLE_NAME",
    "NO_REVOCATIONS_SENTINEL",
    "OPERATIONS_ROLE_NAME",
    "POLICY_AUTHOR",
    "PRINCIPAL_GROUP_OF",
    "REQUEST_ID_TAG",
    "REVOCATION_POLICY_NAME",
    "SANDBOX_ADMIN_USER_NAME",
    "SESSION_TAG_KEYS",
    "TARGET_ACCESS_POLICY_NAME",
    "TARGET_ROLE_NAMES",
    "AttributeValue",
    "CognitoGroup",
    "CognitoGroupSpec",
    "DemoAgent",
    "DemoBank",
    "DemoIamUser",
    "DemoRole",
    "DemoTable",
    "DemoUser",
    "DemoUserPool",
    "GlobalSecondaryIndex",
    "Item",
    "KeyAttribute",
    "PolicyDocument",
    "RoleLabel",
    "demo_bank",
    "demo_catalog",
    "role_arn",
]

_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")


@dataclass(frozen=True, slots=True)
class DemoBank:
    """Everything the sandbox seeds, in one account and region."""

    account_id: str
    region: str
    user_pool: DemoUserPool
    users: tuple[DemoUser, ...]
    agent: DemoAgent
    policies: tuple[PrincipalPolicy, ...]
    tables: tuple[DemoTable, ...]
    roles: tuple[DemoRole, ...]
    iam_users: tuple[DemoIamUser, ...]

    def principals(self) -> tuple[Principal, ...]:
        """Every user and the agent as the broker's directory knows them."""
        return (*(user.principal() for user in self.users), self.agent.principal())

    def catalog(self, user_pool_id: str) -> Catalog:
        """The catalog, once Cognito has assigned the user pool its id."""
        return demo_catalog(
            account_id=self.account_id, region=self.region, user_pool_id=user_pool_id
        )

    def role(self, name: str) -> DemoRole:
        """A role by name; KeyError if the bank has none by that name."""
        return {role.name: role for role in self.roles}[name]

    def role_arn(self, name: str) -> str:
        """The ARN of the role ``name`` in this bank's account."""
        return self.role(name).arn(self.account_id)

    def table(self, catalog_key: str) -> DemoTable:
        """A table by its catalog key; KeyError if there is none."""
        return {table.catalog_key: table for table in self.tables}[catalog_key]

    def iam_user(self, name: str) -> DemoIamUser:
        """An IAM user by name; KeyError if there is none."""
        return {user.name: user for user in self.iam_users}[name]


def _roles(account_id: str, region: str, tables: tuple[DemoTable, ...]) -> tuple[DemoRole, ...]:
    customer_arns = [
        t.arn(account_id=account_id, region=region) for t in tables if t.customer_owned
    ]
    operational_arns: list[str] = []
    for table in tables:
        if table.customer_owned:
            continue
        operational_arns.append(table.arn(account_id=account_id, region=region))
        operational_arns += [
            table.index_arn(index, account_id=account_id, region=region) for index in table.indexes
        ]
    return (
        broker_role(account_id),
        customer_data_role(account_id, customer_arns),
        operations_role(account_id, operational_arns),
        directory_role(account_id, region),
    )


def demo_bank(*, account_id: str = DEFAULT_ACCOUNT_ID, region: str = DEFAULT_REGION) -> DemoBank:
    """The whole demo bank for ``account_id`` and ``region``; ValueError if either is malformed."""
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise ValueError(f"not an AWS account id: {account_id!r}")
    if not _REGION.fullmatch(region):
        raise ValueError(f"not an AWS region: {region!r}")
    users = demo_users()
    tables = demo_tables()
    customer_names = {u.username: u.display_name for u in users if u.customer_key is not None}
    return DemoBank(
        account_id=account_id,
        region=region,
        user_pool=demo_user_pool(),
        users=users,
        agent=demo_agent(),
        policies=demo_policies(customer_names),
        tables=tables,
        roles=_roles(account_id, region, tables),
        iam_users=demo_iam_users(account_id),
    )
