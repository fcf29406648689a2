"""A small bank: catalog entries and target-role policies shared by tests and fixtures."""

from __future__ import annotations

from typing import Any

from agent_zero.domain.catalog import (
    CatalogEntry,
    PrincipalSelector,
    ResourceKind,
    RowScope,
    Sensitivity,
)
from agent_zero.domain.principals import PrincipalKind

ACCOUNT = "111122223333"
REGION = "us-east-1"
DYNAMODB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/agent-zero-dynamodb"
S3_ROLE = f"arn:aws:iam::{ACCOUNT}:role/agent-zero-s3"
COGNITO_ROLE = f"arn:aws:iam::{ACCOUNT}:role/agent-zero-cognito"
CUSTOMER_ROWS = RowScope(
    partition_key="customer_id",
    owner_attribute="customer_key",
    mandatory_for=PrincipalSelector(
        kinds=frozenset({PrincipalKind.AGENT}), groups=frozenset({"customers"})
    ),
)


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def dynamodb_table(
    key: str, name: str, actions: set[str], *, scoped: bool, sensitivity: str = "medium"
) -> CatalogEntry:
    return CatalogEntry(
        key=key,
        kind=ResourceKind.DYNAMODB_TABLE,
        description=f"The bank's {name} table.",
        sensitivity=Sensitivity(sensitivity),
        allowed_actions=frozenset(f"dynamodb:{a}" for a in actions),
        arn=table_arn(name),
        target_role_arn=DYNAMODB_ROLE,
        row_scope=CUSTOMER_ROWS if scoped else None,
    )


def bank_entries() -> list[CatalogEntry]:
    return [
        dynamodb_table(
            "accounts", "Accounts", {"GetItem", "Query", "BatchGetItem", "UpdateItem"}, scoped=True
        ),
        dynamodb_table("transactions", "Transactions", {"GetItem", "Query"}, scoped=True),
        dynamodb_table(
            "support-tickets",
            "SupportTickets",
            {"GetItem", "Query", "PutItem", "UpdateItem"},
            scoped=True,
            sensitivity="low",
        ),
        dynamodb_table(
            "products", "Products", {"GetItem", "Query", "Scan"}, scoped=False, sensitivity="low"
        ),
        dynamodb_table(
            "fraud-cases",
            "FraudCases",
            {"GetItem", "Query", "Scan", "PutItem"},
            scoped=False,
            sensitivity="high",
        ),
        CatalogEntry(
            key="transactions-by-date",
            kind=ResourceKind.DYNAMODB_INDEX,
            description="Transactions by date, across customers.",
            sensitivity=Sensitivity.MEDIUM,
            allowed_actions=frozenset({"dynamodb:Query"}),
            arn=table_arn("Transactions") + "/index/ByDate",
            target_role_arn=DYNAMODB_ROLE,
            parent_key="transactions",
        ),
        CatalogEntry(
            key="statements-archive",
            kind=ResourceKind.S3_BUCKET,
            description="Archived monthly statements.",
            sensitivity=Sensitivity.CRITICAL,
            allowed_actions=frozenset({"s3:GetObject", "s3:ListBucket"}),
            arn="arn:aws:s3:::bank-statements-archive",
            target_role_arn=S3_ROLE,
        ),
        CatalogEntry(
            key="customer-pool",
            kind=ResourceKind.COGNITO_USER_POOL,
            description="The customers' sign-in directory.",
            sensitivity=Sensitivity.HIGH,
            allowed_actions=frozenset({"cognito-idp:AdminGetUser", "cognito-idp:AdminCreateUser"}),
            arn=f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_Bank01",
            target_role_arn=COGNITO_ROLE,
        ),
        CatalogEntry(
            key="policy-store",
            kind=ResourceKind.BROKER_POLICY_STORE,
            description="The principals' access policies.",
            sensitivity=Sensitivity.CRITICAL,
            allowed_actions=frozenset({"broker:ReadPolicy", "broker:WritePolicy"}),
            internal_groups=frozenset({"admins"}),
        ),
        CatalogEntry(
            key="principal-directory",
            kind=ResourceKind.BROKER_DIRECTORY,
            description="The broker's directory of people and agents.",
            sensitivity=Sensitivity.CRITICAL,
            allowed_actions=frozenset({"broker:ReadPrincipal", "broker:WritePrincipal"}),
            internal_groups=frozenset({"admins"}),
        ),
    ]


def broad_role_policy(
    resource: str = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/*",
) -> dict[str, Any]:
    """The target role's policy: broad on purpose; the session policy narrows it."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": resource}],
    }
