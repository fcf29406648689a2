"""Inputs an attacker or a careless caller could send the engine: each gets the
fail-closed answer or a clear error, never a crash or a surprising Allow."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_zero import iam
from agent_zero.domain.errors import InvalidInputError, MalformedPolicyError
from agent_zero.iam import Decision, PolicyKind, parse_policy
from agent_zero.iam.conditions import parse_date
from agent_zero.iam.parsing import load_policy_json
from agent_zero.iam.patterns import compile_glob, glob_matches

TABLE = "arn:aws:dynamodb:us-east-1:111122223333:table/Orders"
SESSION = "arn:aws:sts::111122223333:assumed-role/Target/req-1"
ROW_GUARD = {
    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]},
    "Null": {"dynamodb:LeadingKeys": "false"},
}


def allow(condition: dict[str, Any] | None = None, resource: str = TABLE) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "dynamodb:GetItem"}
    statement["Resource"] = resource
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def decide(policy: dict[str, Any], context: Any = None, resource: str = TABLE) -> Decision:
    return iam.evaluate(
        action="dynamodb:GetItem",
        resource=resource,
        principal=SESSION,
        identity_policies=[policy],
        context=context,
    ).decision


# --- empty strings are a null data set for set operators and Null alike ----------


@pytest.mark.parametrize("keys", [[""], ["", ""]])
def test_an_empty_row_key_does_not_pass_the_row_guard(keys: list[str]) -> None:
    # ForAllValues treats [""] as null (true); the Null guard must agree it is null.
    assert decide(allow(ROW_GUARD), {"dynamodb:LeadingKeys": keys}) is Decision.IMPLICIT_DENY


def test_an_empty_key_mixed_with_the_own_key_is_refused() -> None:
    context = {"dynamodb:LeadingKeys": ["c-1001", ""]}
    assert decide(allow(ROW_GUARD), context) is Decision.IMPLICIT_DENY


def test_for_any_value_over_only_empty_strings_is_false() -> None:
    condition = {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["*"]}}
    assert decide(allow(condition), {"dynamodb:LeadingKeys": [""]}) is Decision.IMPLICIT_DENY
    assert decide(allow(condition), {"dynamodb:LeadingKeys": ["x"]}) is Decision.ALLOW


def test_null_sees_an_empty_string_as_null() -> None:
    condition = {"Null": {"aws:RequestTag/team": "true"}}
    assert decide(allow(condition), {"aws:RequestTag/team": ""}) is Decision.ALLOW


# --- wildcard matching is linear and exact ----------------------------------------


def _reference_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL)


@given(
    pattern=st.text(alphabet="ab/*?", max_size=8),
    value=st.text(alphabet="ab/", max_size=10),
)
def test_glob_matching_agrees_with_the_regular_expression_semantics(
    pattern: str, value: str
) -> None:
    expected = _reference_regex(pattern).fullmatch(value) is not None
    assert glob_matches((pattern,), value) is expected


def test_a_pathological_pattern_is_matched_correctly() -> None:
    # The regex form of this pattern backtracks exponentially; the segment matcher
    # answers it in one pass (timings are in benchmarks/core.py, not here).
    pattern = "arn:aws:s3:::b/" + "*/" * 30 + "x"
    value = "arn:aws:s3:::b/" + "a/" * 1000 + "y"
    assert not compile_glob((pattern,), False).matches(value)
    assert compile_glob((pattern,), False).matches(value[:-1] + "x")


def test_a_question_mark_from_a_variable_is_literal() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/${aws:username}/*",
            }
        ],
    }

    def can_read(key: str) -> bool:
        return iam.evaluate(
            action="s3:GetObject",
            resource=f"arn:aws:s3:::b/{key}",
            principal=SESSION,
            identity_policies=[policy],
            context={"aws:username": "b?b"},
        ).allowed

    assert can_read("b?b/file")
    assert not can_read("bob/file")


# --- dates, numbers and case --------------------------------------------------------


def test_a_four_digit_date_is_a_year_not_epoch_seconds() -> None:
    assert parse_date("2027").year == 2027
    assert parse_date("2027-03").month == 3
    assert parse_date("1700000000").year == 2023


def test_a_year_in_a_policy_bounds_dates_as_written() -> None:
    before_2027 = {"DateLessThan": {"aws:CurrentTime": "2027"}}
    assert decide(allow(before_2027), {"aws:CurrentTime": "2026-11-26T00:00:00Z"}) is Decision.ALLOW
    assert decide(allow(before_2027), {"aws:CurrentTime": "2027-06-01T00:00:00Z"}) is (
        Decision.IMPLICIT_DENY
    )


@pytest.mark.parametrize(
    "value",
    [
        "1_0",
        "\u0661\u0660",  # Arabic-Indic "10"
        "\uff11\uff10",  # full-width "10"
        "1e1",
        "NaN",
        "Infinity",
    ],
)
def test_numbers_must_be_plain_ascii_decimals(value: str) -> None:
    with pytest.raises(MalformedPolicyError):
        parse_policy(allow({"NumericEquals": {"s3:max-keys": value}}))
    result = iam.evaluate(
        action="dynamodb:GetItem",
        resource=TABLE,
        principal=SESSION,
        identity_policies=[allow({"NumericEquals": {"s3:max-keys": "10"}})],
        context={"s3:max-keys": value},
    )
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.error is not None


def test_ignore_case_does_not_fold_sharp_s_into_ss() -> None:
    condition = {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "STRASSE"}}
    assert decide(allow(condition), {"aws:PrincipalTag/team": "straße"}) is Decision.IMPLICIT_DENY
    assert decide(allow(condition), {"aws:PrincipalTag/team": "Strasse"}) is Decision.ALLOW


@pytest.mark.parametrize(
    "digits",
    [
        "".join(chr(0x0660 + int(d)) for d in "111122223333"),  # Arabic-Indic
        "".join(chr(0xFF10 + int(d)) for d in "111122223333"),  # full-width
    ],
)
def test_account_ids_are_ascii_digits_only(digits: str) -> None:
    with pytest.raises(InvalidInputError):
        iam.evaluate(
            action="dynamodb:GetItem",
            resource=TABLE,
            principal=f"arn:aws:sts::{digits}:assumed-role/Target/s",
        )


# --- odd inputs are clear errors ----------------------------------------------------


@pytest.mark.parametrize(
    "context",
    [
        {"dynamodb:LeadingKeys": None},
        {"dynamodb:LeadingKeys": 1.5},
        {"dynamodb:LeadingKeys": b"c-1001"},
        {"dynamodb:LeadingKeys": ["c-1001", 7]},
        {"dynamodb:LeadingKeys": {"c-1001"}},
        {7: "c-1001"},
    ],
)
def test_context_values_of_the_wrong_type_are_refused(context: Any) -> None:
    with pytest.raises(InvalidInputError):
        decide(allow(ROW_GUARD), context)


def test_deeply_nested_policy_json_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedPolicyError, match="nested too deeply"):
        load_policy_json("[" * 100_000 + "]" * 100_000)


def test_a_non_string_condition_operator_is_malformed() -> None:
    policy = allow()
    policy["Statement"][0]["Condition"] = {1: {"aws:username": "bob"}}
    with pytest.raises(MalformedPolicyError, match="operators must be strings"):
        parse_policy(policy)


def test_an_empty_statement_list_is_malformed() -> None:
    with pytest.raises(MalformedPolicyError, match="at least one statement"):
        parse_policy({"Version": "2012-10-17", "Statement": []})


def test_a_resource_policy_cannot_be_reused_as_an_identity_policy() -> None:
    resource_policy = parse_policy(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "dynamodb:GetItem"}],
            }
        ),
        kind=PolicyKind.RESOURCE,
    )
    with pytest.raises(MalformedPolicyError, match="cannot be used"):
        parse_policy(resource_policy, kind=PolicyKind.IDENTITY)
    identity = parse_policy(allow(), kind=PolicyKind.IDENTITY)
    assert parse_policy(identity, kind=PolicyKind.SESSION).kind is PolicyKind.SESSION
