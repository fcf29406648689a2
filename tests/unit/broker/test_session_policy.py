"""The session-policy compiler: closed grammar, row scoping, size and charset limits."""

from __future__ import annotations

import json

import pytest

from agent_zero import iam
from agent_zero.broker.session_policy import SESSION_POLICY_MAX_CHARS, compile_session_policy
from agent_zero.domain.catalog import Catalog
from agent_zero.domain.errors import SessionPolicyError, SessionPolicyTooLargeError
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Grant
from support.bank import DYNAMODB_ROLE, broad_role_policy, dynamodb_table, table_arn

SESSION = "arn:aws:sts::111122223333:assumed-role/agent-zero-dynamodb/req-test01"


def grant(key: str, *actions: str) -> Grant:
    return Grant(resource_key=key, actions=actions)


def allowed(policy_text: str, action: str, resource: str, keys: list[str] | None) -> bool:
    context = {} if keys is None else {"dynamodb:LeadingKeys": keys}
    return iam.evaluate(
        action=action,
        resource=resource,
        principal=SESSION,
        identity_policies=[broad_role_policy()],
        session_policy=policy_text,
        context=context,
    ).allowed


def test_row_scoped_grant_compiles_to_the_exact_closed_form(
    catalog: Catalog, customer: Principal
) -> None:
    compiled = compile_session_policy(
        [grant("accounts", "dynamodb:Query", "dynamodb:GetItem")],
        catalog=catalog,
        principal=customer,
    )
    assert json.loads(compiled.text) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                "Resource": table_arn("Accounts"),
                "Condition": {
                    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]},
                    "Null": {"dynamodb:LeadingKeys": "false"},
                },
            }
        ],
    }
    assert " " not in compiled.text  # minified
    assert "\n" not in compiled.text
    assert compiled.target_role_arn == DYNAMODB_ROLE


def test_the_compiled_policy_behaves_as_intended_under_iam(
    catalog: Catalog, customer: Principal
) -> None:
    text = compile_session_policy(
        [grant("accounts", "dynamodb:GetItem")], catalog=catalog, principal=customer
    ).text
    accounts = table_arn("Accounts")
    assert allowed(text, "dynamodb:GetItem", accounts, ["c-1001"])
    assert not allowed(text, "dynamodb:GetItem", accounts, ["c-2002"])
    assert not allowed(text, "dynamodb:GetItem", accounts, ["c-1001", "c-2002"])
    assert not allowed(text, "dynamodb:GetItem", accounts, None)
    assert not allowed(text, "dynamodb:Scan", accounts, None)
    assert not allowed(text, "dynamodb:GetItem", table_arn("Transactions"), ["c-1001"])
    assert not allowed(text, "dynamodb:GetItem", accounts + "/index/ByOwner", ["c-1001"])


def test_unscoped_principal_gets_no_row_condition(catalog: Catalog, staff: Principal) -> None:
    compiled = compile_session_policy(
        [grant("accounts", "dynamodb:GetItem")], catalog=catalog, principal=staff
    )
    assert "Condition" not in json.loads(compiled.text)["Statement"][0]


def test_action_spelling_comes_from_the_catalog(catalog: Catalog, customer: Principal) -> None:
    compiled = compile_session_policy(
        [grant("accounts", "DYNAMODB:getitem")], catalog=catalog, principal=customer
    )
    assert json.loads(compiled.text)["Statement"][0]["Action"] == "dynamodb:GetItem"


def test_resources_with_the_same_actions_and_scope_share_a_statement(
    catalog: Catalog, customer: Principal
) -> None:
    compiled = compile_session_policy(
        [
            grant("accounts", "dynamodb:GetItem"),
            grant("transactions", "dynamodb:GetItem"),
            grant("products", "dynamodb:GetItem"),
        ],
        catalog=catalog,
        principal=customer,
    )
    statements = json.loads(compiled.text)["Statement"]
    assert len(statements) == 2  # scoped (Accounts + Transactions) and unscoped (Products)
    scoped = next(s for s in statements if "Condition" in s)
    assert scoped["Resource"] == [table_arn("Accounts"), table_arn("Transactions")]


def test_compilation_is_deterministic(catalog: Catalog, customer: Principal) -> None:
    grants = [grant("transactions", "dynamodb:Query"), grant("accounts", "dynamodb:GetItem")]
    first = compile_session_policy(grants, catalog=catalog, principal=customer).text
    second = compile_session_policy(
        list(reversed(grants)), catalog=catalog, principal=customer
    ).text
    assert first == second


def test_broker_internal_grants_stay_out_of_the_aws_policy(
    catalog: Catalog, admin: Principal
) -> None:
    compiled = compile_session_policy(
        [grant("policy-store", "broker:ReadPolicy")], catalog=catalog, principal=admin
    )
    assert json.loads(compiled.text)["Statement"] == []
    assert not compiled.grants_aws_access
    assert [g.resource_key for g in compiled.broker_grants] == ["policy-store"]


@pytest.mark.parametrize(
    ("grants", "message"),
    [
        ([grant("vault", "dynamodb:GetItem")], "not in the catalog"),
        ([grant("accounts", "dynamodb:DeleteItem")], "not allowed"),
        ([grant("accounts", "dynamodb:*")], "not allowed"),
        (
            [grant("products", "dynamodb:GetItem"), grant("statements-archive", "s3:GetObject")],
            "more than one target role",
        ),
    ],
)
def test_refuses_what_it_cannot_express_safely(
    catalog: Catalog, admin: Principal, grants: list[Grant], message: str
) -> None:
    with pytest.raises(SessionPolicyError, match=message):
        compile_session_policy(grants, catalog=catalog, principal=admin)


def test_refuses_row_scoped_grant_for_a_principal_without_a_key(catalog: Catalog) -> None:
    keyless = Principal(id="bob", kind="human", display_name="Bob", groups=frozenset({"customers"}))
    with pytest.raises(SessionPolicyError, match="customer_key"):
        compile_session_policy(
            [grant("accounts", "dynamodb:GetItem")], catalog=catalog, principal=keyless
        )


def test_too_large_policies_are_refused_with_the_length(customer: Principal) -> None:
    entries = [
        dynamodb_table(
            f"t{i:02d}", f"Table{i:02d}-{'x' * 60}", {"GetItem", "Query"}, scoped=i % 2 == 0
        )
        for i in range(40)
    ]
    big = Catalog(entries=tuple(entries))
    # Alternate action sets so statements cannot merge.
    grants = [
        grant(e.key, "dynamodb:GetItem" if i % 3 else "dynamodb:Query")
        for i, e in enumerate(entries)
    ]
    with pytest.raises(SessionPolicyTooLargeError) as raised:
        compile_session_policy(grants, catalog=big, principal=customer)
    assert raised.value.length > SESSION_POLICY_MAX_CHARS
    assert raised.value.limit == SESSION_POLICY_MAX_CHARS
    assert "Request fewer resources" in raised.value.message


def test_keys_outside_latin1_are_refused(catalog: Catalog, customer: Principal) -> None:
    emoji_key = customer.model_copy(update={"attributes": {"customer_key": "c-\U0001f600"}})
    with pytest.raises(SessionPolicyError, match="Latin-1"):
        compile_session_policy(
            [grant("accounts", "dynamodb:GetItem")], catalog=catalog, principal=emoji_key
        )


def test_latin1_keys_are_kept_verbatim(catalog: Catalog, customer: Principal) -> None:
    accented = customer.model_copy(update={"attributes": {"customer_key": "c-Zoë"}})
    text = compile_session_policy(
        [grant("accounts", "dynamodb:GetItem")], catalog=catalog, principal=accented
    ).text
    assert "c-Zoë" in text
    assert allowed(text, "dynamodb:GetItem", table_arn("Accounts"), ["c-Zoë"])


@pytest.mark.parametrize("hostile_key", ["${aws:username}", "c-*", "c-?", "$"])
def test_keys_that_look_like_variables_or_wildcards_match_only_themselves(
    catalog: Catalog, customer: Principal, hostile_key: str
) -> None:
    principal = customer.model_copy(update={"attributes": {"customer_key": hostile_key}})
    text = compile_session_policy(
        [grant("accounts", "dynamodb:GetItem")], catalog=catalog, principal=principal
    ).text
    accounts = table_arn("Accounts")
    assert allowed(text, "dynamodb:GetItem", accounts, [hostile_key])
    assert not allowed(text, "dynamodb:GetItem", accounts, ["c-1001"])
    assert not allowed(text, "dynamodb:GetItem", accounts, ["bob"])
