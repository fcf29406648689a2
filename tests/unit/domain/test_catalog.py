"""The catalog refuses inconsistent entries at load time, with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agent_zero.domain.catalog import (
    Catalog,
    CatalogEntry,
    ResourceKind,
    Sensitivity,
    is_unscopable_row_action,
)
from agent_zero.domain.principals import Principal, PrincipalKind
from support.bank import CUSTOMER_ROWS, DYNAMODB_ROLE, bank_entries, table_arn


def entry(**overrides: Any) -> CatalogEntry:
    fields: dict[str, Any] = {
        "key": "orders",
        "kind": ResourceKind.DYNAMODB_TABLE,
        "description": "Orders.",
        "sensitivity": Sensitivity.MEDIUM,
        "allowed_actions": frozenset({"dynamodb:GetItem"}),
        "arn": table_arn("Orders"),
        "target_role_arn": DYNAMODB_ROLE,
    }
    fields.update(overrides)
    return CatalogEntry(**fields)


def test_a_valid_entry_loads() -> None:
    assert entry().is_aws


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"allowed_actions": frozenset()}, "allowed_actions is empty"),
        ({"allowed_actions": frozenset({"s3:GetObject"})}, "not dynamodb actions"),
        ({"allowed_actions": frozenset({"dynamodb:*"})}, "String should match pattern"),
        (
            {"allowed_actions": frozenset({"dynamodb:GetItem", "dynamodb:PutResourcePolicy"})},
            "permissions-management actions ['dynamodb:PutResourcePolicy']",
        ),
        ({"arn": "arn:aws:s3:::orders"}, "not a dynamodb_table ARN"),
        ({"arn": table_arn("Orders") + "*"}, "not a dynamodb_table ARN"),
        ({"arn": None}, "not a dynamodb_table ARN"),
        ({"target_role_arn": "arn:aws:iam::111122223333:user/bob"}, "target_role_arn"),
        (
            {"row_scope": CUSTOMER_ROWS, "allowed_actions": frozenset({"dynamodb:Scan"})},
            "cannot allow ['dynamodb:Scan']",
        ),
        (
            {
                "kind": ResourceKind.S3_BUCKET,
                "arn": "arn:aws:s3:::orders",
                "allowed_actions": frozenset({"s3:GetObject"}),
                "row_scope": CUSTOMER_ROWS,
            },
            "only DynamoDB tables",
        ),
        ({"max_session_seconds": 600}, "greater than or equal to 900"),
        ({"key": "Orders Table"}, "String should match pattern"),
        ({"surprise": True}, "Extra inputs are not permitted"),
        ({"parent_key": "orders-root"}, "only an index"),
        (
            {
                "kind": ResourceKind.BROKER_POLICY_STORE,
                "allowed_actions": frozenset({"broker:Read"}),
                "arn": None,
                "target_role_arn": None,
            },
            "must name internal_groups",
        ),
        (
            {
                "kind": ResourceKind.BROKER_POLICY_STORE,
                "allowed_actions": frozenset({"broker:Read"}),
                "internal_groups": frozenset({"admins"}),
            },
            "no ARN",
        ),
    ],
)
def test_inconsistent_entries_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        entry(**overrides)


def test_catalog_keys_and_arns_are_unique() -> None:
    with pytest.raises(ValidationError, match="keys must be unique"):
        Catalog(entries=(entry(), entry(arn=table_arn("Other"))))
    with pytest.raises(ValidationError, match="ARNs must be unique"):
        Catalog(entries=(entry(), entry(key="orders-copy")))


def test_indexes_must_belong_to_a_catalog_table() -> None:
    index = entry(
        key="orders-by-date",
        kind=ResourceKind.DYNAMODB_INDEX,
        arn=table_arn("Orders") + "/index/ByDate",
        parent_key="orders",
        allowed_actions=frozenset({"dynamodb:Query"}),
    )
    assert Catalog(entries=(entry(), index)).parent_of(index) is not None
    with pytest.raises(ValidationError, match="is not a catalog table"):
        Catalog(entries=(index,))
    stray = index.model_copy(update={"arn": table_arn("Elsewhere") + "/index/ByDate"})
    with pytest.raises(ValidationError, match="not under its parent"):
        Catalog(entries=(entry(), stray))


def test_lookup_and_services() -> None:
    catalog = Catalog(entries=tuple(bank_entries()))
    assert catalog.get("accounts") is not None
    assert catalog.get("nope") is None
    assert catalog.services() == {"dynamodb", "s3", "cognito-idp"}
    assert len(catalog) == len(bank_entries())


def test_row_scoping_applies_by_kind_or_group() -> None:
    scoped = entry(row_scope=CUSTOMER_ROWS)
    customer = Principal(
        id="c", kind=PrincipalKind.HUMAN, display_name="C", groups=frozenset({"customers"})
    )
    staff = Principal(
        id="s", kind=PrincipalKind.HUMAN, display_name="S", groups=frozenset({"staff"})
    )
    agent = Principal(id="a", kind=PrincipalKind.AGENT, display_name="A")
    assert scoped.row_scoped_for(customer)
    assert scoped.row_scoped_for(agent)
    assert not scoped.row_scoped_for(staff)
    assert not entry().row_scoped_for(customer)


@pytest.mark.parametrize(
    "action",
    [
        "dynamodb:Scan",
        "dynamodb:PartiQLSelect",
        "dynamodb:PartiQLUpdate",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:DescribeStream",
        "dynamodb:ListStreams",
        "dynamodb:ExportTableToPointInTime",
        "dynamodb:ImportTable",
        "dynamodb:CreateBackup",
        "dynamodb:RestoreTableFromBackup",
        "dynamodb:RestoreTableToPointInTime",
        "DYNAMODB:scan",
    ],
)
def test_unscopable_actions(action: str) -> None:
    assert is_unscopable_row_action(action)


@pytest.mark.parametrize(
    "action",
    [
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "s3:GetObject",
    ],
)
def test_row_keyed_actions_are_not_unscopable(action: str) -> None:
    assert not is_unscopable_row_action(action)
