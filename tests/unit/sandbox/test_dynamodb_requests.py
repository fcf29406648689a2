"""Reading DynamoDB calls into IAM checks: the row keys AWS would send, and none it would not."""

from __future__ import annotations

from typing import Any

import pytest

from agent_zero.sandbox.aws_errors import AwsError
from agent_zero.sandbox.dynamodb_requests import Check, dynamodb_checks
from agent_zero.sandbox.moto_host import TableKeys

REGION = "eu-west-1"
ACCOUNT = "123456789012"
ACCOUNTS = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Accounts"
TABLES = {
    "Accounts": TableKeys("customer_id", "account_id", {"ByBranch": "branch"}),
    "Ledger": TableKeys("day", None, {}),
}


def checks(action: str, body: dict[str, Any]) -> list[Check]:
    return dynamodb_checks(action, body, region=REGION, account=ACCOUNT, keys_of=TABLES.get)


def leading(check: Check) -> object:
    return check.context.get("dynamodb:LeadingKeys")


def s(value: str) -> dict[str, str]:
    return {"S": value}


@pytest.mark.parametrize(
    ("action", "item_field"),
    [("GetItem", "Key"), ("DeleteItem", "Key"), ("UpdateItem", "Key"), ("PutItem", "Item")],
)
def test_single_item_calls_send_their_partition_key(action: str, item_field: str) -> None:
    body = {"TableName": "Accounts", item_field: {"customer_id": s("c-1"), "account_id": s("a")}}
    [check] = checks(action, body)
    assert check == Check(f"dynamodb:{action}", ACCOUNTS, check.context)
    assert leading(check) == ["c-1"]


@pytest.mark.parametrize(
    ("expression", "names", "expected"),
    [
        ("customer_id = :c", {}, ["c-1"]),
        (":c = customer_id", {}, ["c-1"]),
        ("#pk = :c AND begins_with(account_id, :p)", {"#pk": "customer_id"}, ["c-1"]),
        ("(customer_id = :c) AND account_id BETWEEN :a AND :b", {}, ["c-1"]),
        ("account_id = :c", {}, None),  # the sort key is not the row owner
        ("#a = :c", {"#a": "account_id"}, None),
        # Every pin of the partition key is sent, so ForAllValues must accept them all.
        ("customer_id = :c AND customer_id = :a", {}, ["c-1", "a"]),
        # Any other use of it leaves the rows unknown: no key is sent, the guard denies.
        ("begins_with(customer_id, :c)", {}, None),
        ("customer_id BETWEEN :a AND :b", {}, None),
        ("customer_id = :c AND customer_id > :a", {}, None),
    ],
)
def test_query_sends_the_partition_key_of_its_key_condition(
    expression: str, names: dict[str, str], expected: object
) -> None:
    body: dict[str, Any] = {
        "TableName": "Accounts",
        "KeyConditionExpression": expression,
        "ExpressionAttributeValues": {":c": s("c-1"), ":p": s("x"), ":a": s("a"), ":b": s("b")},
    }
    if names:
        body["ExpressionAttributeNames"] = names
    [check] = checks("Query", body)
    assert leading(check) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "customer_id = :c-x",  # moto reads ":c-x"; a lenient reader would see ":c"
        "customer_id = :c.x",
        "customer_id = :cé",
        "customer_id = c-2002",  # literals are not allowed
        "#c-x = :c",
        "customer_id = :missing",
        "#undefined = :c",
    ],
)
def test_key_conditions_dynamodb_would_reject_are_refused(expression: str) -> None:
    body = {
        "TableName": "Accounts",
        "KeyConditionExpression": expression,
        "ExpressionAttributeNames": {"#c-x": "customer_id"},
        "ExpressionAttributeValues": {":c": s("c-1"), ":c-x": s("c-2")},
    }
    with pytest.raises(AwsError) as raised:
        checks("Query", body)
    assert raised.value.code == "ValidationException"


def test_an_expression_and_legacy_key_conditions_together_are_refused() -> None:
    body = {
        "TableName": "Accounts",
        "KeyConditionExpression": "customer_id = :c",
        "ExpressionAttributeValues": {":c": s("c-2")},
        "KeyConditions": {
            "customer_id": {"ComparisonOperator": "EQ", "AttributeValueList": [s("c-1")]}
        },
    }
    with pytest.raises(AwsError, match="both expression and non-expression"):
        checks("Query", body)


@pytest.mark.parametrize(
    ("statement", "action", "table"),
    [
        ('SELECT "x from Transactions" FROM "Accounts"', "dynamodb:PartiQLSelect", "Accounts"),
        ('select*from "Accounts"', "dynamodb:PartiQLSelect", "Accounts"),
        ("SELECT * FROM Accounts WHERE note = 'from Ledger'", "dynamodb:PartiQLSelect", "Accounts"),
        (
            'SELECT * FROM "Accounts"."ByBranch"',
            "dynamodb:PartiQLSelect",
            "Accounts/index/ByBranch",
        ),
        ("INSERT INTO \"Ledger\" VALUE {'day': 'x'}", "dynamodb:PartiQLInsert", "Ledger"),
        (
            "DELETE FROM \"Accounts\" WHERE customer_id = 'c-1'",
            "dynamodb:PartiQLDelete",
            "Accounts",
        ),
    ],
)
def test_partiql_statements_are_read_past_quotes(statement: str, action: str, table: str) -> None:
    [check] = checks("ExecuteStatement", {"Statement": statement})
    assert (check.action, check.resource) == (action, ACCOUNTS.replace("Accounts", table))


def test_legacy_key_conditions_are_read_too() -> None:
    body = {
        "TableName": "Accounts",
        "KeyConditions": {
            "customer_id": {"ComparisonOperator": "EQ", "AttributeValueList": [s("c-9")]}
        },
    }
    assert leading(checks("Query", body)[0]) == ["c-9"]


def test_an_index_query_is_checked_against_the_index_and_its_own_partition_key() -> None:
    body = {
        "TableName": "Accounts",
        "IndexName": "ByBranch",
        "KeyConditionExpression": "branch = :b",
        "ExpressionAttributeValues": {":b": s("north")},
    }
    [check] = checks("Query", body)
    assert check.resource == ACCOUNTS + "/index/ByBranch"
    assert leading(check) == ["north"]


def test_scan_and_partiql_never_carry_row_keys() -> None:
    [scan] = checks("Scan", {"TableName": "Accounts"})
    assert "dynamodb:LeadingKeys" not in scan.context
    [select] = checks(
        "ExecuteStatement", {"Statement": "SELECT * FROM \"Accounts\" WHERE customer_id='c-1'"}
    )
    assert select == Check("dynamodb:PartiQLSelect", ACCOUNTS)
    [update] = checks("ExecuteStatement", {"Statement": 'UPDATE "Accounts" SET x=1'})
    assert update.action == "dynamodb:PartiQLUpdate"


def test_batches_send_every_key_per_table() -> None:
    body = {
        "RequestItems": {
            "Accounts": {
                "Keys": [
                    {"customer_id": s("c-1"), "account_id": s("a")},
                    {"customer_id": s("c-2"), "account_id": s("b")},
                ]
            },
            "Ledger": {"Keys": [{"day": s("2026-11-01")}]},
        }
    }
    by_table = {check.resource: leading(check) for check in checks("BatchGetItem", body)}
    assert by_table == {
        ACCOUNTS: ["c-1", "c-2"],
        ACCOUNTS.replace("Accounts", "Ledger"): ["2026-11-01"],
    }
    writes = checks(
        "BatchWriteItem",
        {
            "RequestItems": {
                "Accounts": [
                    {"PutRequest": {"Item": {"customer_id": s("c-1"), "account_id": s("a")}}},
                    {"DeleteRequest": {"Key": {"customer_id": s("c-3"), "account_id": s("a")}}},
                ]
            }
        },
    )
    assert [leading(check) for check in writes] == [["c-1", "c-3"]]


def test_transactions_are_authorized_per_item_as_single_item_actions() -> None:
    body = {
        "TransactItems": [
            {
                "Get": {
                    "TableName": "Accounts",
                    "Key": {"customer_id": s("c-1"), "account_id": s("a")},
                }
            },
            {
                "Update": {
                    "TableName": "Accounts",
                    "Key": {"customer_id": s("c-2"), "account_id": s("a")},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": "Accounts",
                    "Key": {"customer_id": s("c-3"), "account_id": s("a")},
                }
            },
        ]
    }
    found = [(check.action, leading(check)) for check in checks("TransactWriteItems", body)]
    assert found == [
        ("dynamodb:GetItem", ["c-1"]),
        ("dynamodb:UpdateItem", ["c-2"]),
        ("dynamodb:ConditionCheckItem", ["c-3"]),
    ]


def test_a_key_that_cannot_be_read_sends_no_row_key() -> None:
    # No LeadingKeys means a row-scoped policy's Null guard denies: fail closed.
    [check] = checks("GetItem", {"TableName": "Accounts", "Key": {"customer_id": {"SS": ["a"]}}})
    assert leading(check) is None
    [unknown] = checks("GetItem", {"TableName": "Nope", "Key": {"customer_id": s("c-1")}})
    assert leading(unknown) is None


def test_attributes_and_select_reach_the_context() -> None:
    [query] = checks(
        "Query",
        {
            "TableName": "Accounts",
            "KeyConditionExpression": "customer_id = :c",
            "ExpressionAttributeValues": {":c": s("c-1")},
            "ProjectionExpression": "#b, account_id",
            "ExpressionAttributeNames": {"#b": "balance"},
            "Select": "SPECIFIC_ATTRIBUTES",
        },
    )
    assert query.context["dynamodb:Attributes"] == ["account_id", "balance"]
    assert query.context["dynamodb:Select"] == "SPECIFIC_ATTRIBUTES"


def test_tables_named_by_arn_and_account_wide_calls() -> None:
    [by_arn] = checks("DescribeTable", {"TableName": ACCOUNTS})
    assert by_arn.resource == ACCOUNTS
    assert checks("ListTables", {}) == [Check("dynamodb:ListTables", "*")]


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("GetItem", {}),
        ("BatchGetItem", {"RequestItems": {}}),
        ("TransactGetItems", {"TransactItems": [{"Steal": {}}]}),
        ("ExecuteStatement", {"Statement": "DROP EVERYTHING"}),
    ],
)
def test_malformed_calls_are_refused_before_moto(action: str, body: dict[str, Any]) -> None:
    with pytest.raises(AwsError) as raised:
        checks(action, body)
    assert raised.value.code == "ValidationException"


@pytest.mark.parametrize(
    "statement",
    ['SELECT * -- FROM "Accounts"\nFROM "Transactions"', 'SELECT * /* x */ FROM "Accounts"'],
)
def test_partiql_comments_are_refused(statement: str) -> None:
    with pytest.raises(AwsError, match="comments"):
        checks("ExecuteStatement", {"Statement": statement})


def test_a_batch_write_naming_both_a_put_and_a_delete_is_refused() -> None:
    both = {
        "PutRequest": {"Item": {"customer_id": s("c-1"), "account_id": s("a")}},
        "DeleteRequest": {"Key": {"customer_id": s("c-2"), "account_id": s("a")}},
    }
    with pytest.raises(AwsError):
        checks("BatchWriteItem", {"RequestItems": {"Accounts": [both]}})


def test_attribute_updates_may_not_rewrite_a_key() -> None:
    body = {
        "TableName": "Accounts",
        "Key": {"customer_id": s("c-1"), "account_id": s("a")},
        "AttributeUpdates": {"customer_id": {"Action": "PUT", "Value": s("c-2")}},
    }
    with pytest.raises(AwsError, match="part of the key"):
        checks("UpdateItem", body)
    body["AttributeUpdates"] = {"branch": {"Action": "PUT", "Value": s("south")}}  # an index key
    with pytest.raises(AwsError, match="part of the key"):
        checks("UpdateItem", body)
    body["AttributeUpdates"] = {"balance": {"Action": "PUT", "Value": {"N": "1"}}}
    assert checks("UpdateItem", body)[0].action == "dynamodb:UpdateItem"
