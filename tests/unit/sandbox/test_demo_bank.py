"""The demo bank: consistent data, a valid catalog, and IAM that admits only the broker."""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent_zero import iam
from agent_zero.broker.containment import explore_access, prove_containment
from agent_zero.broker.guardrails import check_proposal
from agent_zero.broker.session_policy import compile_session_policy
from agent_zero.domain.catalog import Catalog, ResourceKind, Sensitivity
from agent_zero.domain.outcomes import ViolationCode
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from agent_zero.sandbox import demo_bank as demo_bank_package
from agent_zero.sandbox.demo_bank import (
    BROKER_HOST_USER_NAME,
    BROKER_ROLE_NAME,
    CUSTOMER_DATA_ROLE_NAME,
    NO_REVOCATIONS_SENTINEL,
    OPERATIONS_ROLE_NAME,
    REQUEST_ID_TAG,
    REVOCATION_POLICY_NAME,
    SANDBOX_ADMIN_USER_NAME,
    TARGET_ACCESS_POLICY_NAME,
    TARGET_ROLE_NAMES,
    DemoBank,
    DemoTable,
    KeyAttribute,
    RoleLabel,
    demo_bank,
)

V = ViolationCode
POOL_ID = "us-east-1_Fernhill01"
ACCOUNT = "123456789012"
BROKER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/{BROKER_ROLE_NAME}/broker-lambda"
MINT_CONTEXT = {
    "sts:SourceIdentity": "alice.moreau",
    f"aws:RequestTag/{REQUEST_ID_TAG}": "req-0001",
    "aws:TagKeys": [REQUEST_ID_TAG],
}


@pytest.fixture(scope="module")
def bank() -> DemoBank:
    return demo_bank()


@pytest.fixture(scope="module")
def catalog(bank: DemoBank) -> Catalog:
    return bank.catalog(POOL_ID)


def principal(bank: DemoBank, label: RoleLabel, index: int = 0) -> Principal:
    users = [user for user in bank.users if user.role_label is label]
    return users[index].principal()


def agent_for(bank: DemoBank, customer_key: str) -> Principal:
    # The broker binds the on-behalf-of customer's key to the agent per conversation.
    return bank.agent.principal().model_copy(update={"attributes": {"customer_key": customer_key}})


def customer_keys(bank: DemoBank) -> list[str]:
    return [user.customer_key for user in bank.users if user.customer_key is not None]


def policies_of(bank: DemoBank, role_name: str) -> list[dict[str, Any]]:
    return list(bank.role(role_name).inline_policies.values())


def table_arn(bank: DemoBank, key: str) -> str:
    return bank.table(key).arn(account_id=bank.account_id, region=bank.region)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def approve(*grants: tuple[str, tuple[str, ...]]) -> Proposal:
    return Proposal(
        decision=ProposalDecision.APPROVE,
        grants=tuple(Grant(resource_key=key, actions=actions) for key, actions in grants),
        duration_seconds=900,
    )


def violations(proposal: Proposal, who: Principal, catalog: Catalog) -> set[str]:
    return {v.code for v in check_proposal(proposal, principal=who, catalog=catalog)}


# --- The catalog and the tables -------------------------------------------------------


def test_the_catalog_validates_and_survives_a_round_trip(catalog: Catalog) -> None:
    assert Catalog.model_validate(catalog.model_dump()) == catalog
    assert {entry.key for entry in catalog} == {
        "customer-profiles",
        "account-balances",
        "transactions",
        "support-tickets",
        "operations-metrics",
        "transaction-ledger",
        "transaction-ledger-by-category",
        "user-directory",
        "policy-store",
        "principal-directory",
    }


def test_catalog_tables_and_indexes_are_exactly_the_seeded_ones(
    bank: DemoBank, catalog: Catalog
) -> None:
    seeded_tables = {(t.catalog_key, table_arn(bank, t.catalog_key)) for t in bank.tables}
    seeded_indexes = {
        (i.catalog_key, t.index_arn(i, account_id=ACCOUNT, region="us-east-1"))
        for t in bank.tables
        for i in t.indexes
    }
    by_kind = {
        kind: {(e.key, e.arn) for e in catalog if e.kind is kind}
        for kind in (ResourceKind.DYNAMODB_TABLE, ResourceKind.DYNAMODB_INDEX)
    }
    assert by_kind[ResourceKind.DYNAMODB_TABLE] == seeded_tables
    assert by_kind[ResourceKind.DYNAMODB_INDEX] == seeded_indexes


def test_customer_owned_tables_and_only_they_are_row_scoped(
    bank: DemoBank, catalog: Catalog
) -> None:
    for table in bank.tables:
        entry = catalog.get(table.catalog_key)
        assert entry is not None
        assert (entry.row_scope is not None) == table.customer_owned, table.name
        if table.customer_owned:
            assert entry.row_scope is not None
            assert entry.row_scope.partition_key == table.partition_key.name == "customer_id"
            assert not table.indexes, "indexes of customer tables bypass row scope"


def test_every_aws_entry_names_a_seeded_target_role(bank: DemoBank, catalog: Catalog) -> None:
    target_arns = {bank.role_arn(name) for name in TARGET_ROLE_NAMES}
    for entry in catalog:
        if entry.is_aws:
            assert entry.target_role_arn in target_arns, entry.key
        else:
            assert entry.internal_groups == {"admins"}, entry.key


def test_sensitivities_follow_what_the_data_is(catalog: Catalog) -> None:
    sensitivity = {entry.key: entry.sensitivity for entry in catalog}
    assert sensitivity["customer-profiles"] is Sensitivity.HIGH
    assert sensitivity["account-balances"] is Sensitivity.HIGH
    assert sensitivity["transactions"] is Sensitivity.HIGH
    assert sensitivity["support-tickets"] is Sensitivity.MEDIUM
    assert sensitivity["operations-metrics"] is Sensitivity.LOW
    assert sensitivity["transaction-ledger"] is Sensitivity.MEDIUM
    assert sensitivity["user-directory"] is Sensitivity.CRITICAL


def test_account_and_region_reach_every_arn() -> None:
    other = demo_bank(account_id="111122223333", region="eu-west-1")
    documents = json.dumps(
        [r.trust_policy for r in other.roles]
        + [p for r in other.roles for p in r.inline_policies.values()]
        + [p for u in other.iam_users for p in u.inline_policies.values()]
    )
    assert ACCOUNT not in documents
    assert "us-east-1" not in documents
    for entry in other.catalog("eu-west-1_Fernhill01"):
        assert entry.arn is None or ":111122223333:" in entry.arn
        assert entry.arn is None or ":eu-west-1:" in entry.arn


@pytest.mark.parametrize(("account_id", "region"), [("12345", "us-east-1"), (ACCOUNT, "moon")])
def test_a_malformed_account_or_region_is_refused(account_id: str, region: str) -> None:
    with pytest.raises(ValueError, match="not an AWS"):
        demo_bank(account_id=account_id, region=region)


def test_the_bank_is_the_same_on_every_call(bank: DemoBank) -> None:
    assert demo_bank() == bank


def test_customer_tables_hold_rows_of_both_demo_customers_and_of_others(bank: DemoBank) -> None:
    demo_keys = set(customer_keys(bank))
    for table in bank.tables:
        if not table.customer_owned:
            continue
        owners = {row["customer_id"] for row in table.rows}
        assert demo_keys <= owners, table.name
        assert owners - demo_keys, f"{table.name} has no other customer's rows"


def test_each_demo_customer_has_a_real_history(bank: DemoBank) -> None:
    transactions = bank.table("transactions").rows
    for key in customer_keys(bank):
        own = [row for row in transactions if row["customer_id"] == key]
        assert len(own) >= 10
        assert len({row["merchant"] for row in own}) >= 8
        assert {row["direction"] for row in own} == {"debit", "credit"}


def test_every_row_carries_its_tables_keys(bank: DemoBank) -> None:
    for table in bank.tables:
        keys = [key for key in (table.partition_key, table.sort_key) if key is not None]
        primaries = [tuple(row[key.name] for key in keys) for row in table.rows]
        assert all(isinstance(value, str) and value for p in primaries for value in p)
        assert len(set(primaries)) == len(primaries), table.name
        for index in table.indexes:
            assert all(index.partition_key.name in row for row in table.rows), index.name


def test_a_table_refuses_rows_without_its_keys() -> None:
    with pytest.raises(ValueError, match="key attributes"):
        DemoTable(
            catalog_key="broken",
            name="bank-broken",
            partition_key=KeyAttribute("customer_id"),
            sort_key=KeyAttribute("account_id"),
            rows=({"customer_id": "c-1"},),
        )


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def test_rows_hold_only_values_dynamodb_accepts(bank: DemoBank) -> None:
    # boto3 refuses floats; amounts are Decimals.
    allowed = (str, int, Decimal, bool, dict, list)
    for table in bank.tables:
        for row in table.rows:
            assert all(isinstance(value, allowed) for value in walk(row)), row
    amounts = [row["amount"] for row in bank.table("transactions").rows]
    assert all(isinstance(amount, Decimal) and amount > 0 for amount in amounts)


def test_the_ledger_names_no_customer_yet_mirrors_every_transaction(bank: DemoBank) -> None:
    ledger = bank.table("transaction-ledger").rows
    transactions = bank.table("transactions").rows
    assert len(ledger) == len(transactions)
    profiles = bank.table("customer-profiles").rows
    fields = ("customer_id", "full_name", "email", "phone")
    identifying = {str(row[field]) for row in profiles for field in fields}
    identifying |= {str(row["account_id"]) for row in bank.table("account-balances").rows}
    identifying |= {str(row["transaction_id"]) for row in transactions}
    for row in ledger:
        assert not {"customer_id", "account_id", "transaction_id"} & row.keys()
        assert not {v for v in walk(row) if isinstance(v, str)} & identifying, row
    assert sorted(str(r["amount"]) for r in ledger) == sorted(
        str(r["amount"]) for r in transactions
    )


def test_metrics_are_aggregates_not_customer_rows(bank: DemoBank) -> None:
    metrics = bank.table("operations-metrics").rows
    assert len(metrics) >= 20
    assert all("customer_id" not in row for row in metrics)


def test_tickets_point_at_the_customers_own_transactions(bank: DemoBank) -> None:
    owner = {row["transaction_id"]: row["customer_id"] for row in bank.table("transactions").rows}
    related = [
        row for row in bank.table("support-tickets").rows if "related_transaction_ids" in row
    ]
    assert related
    for ticket in related:
        ids = ticket["related_transaction_ids"]
        assert isinstance(ids, list)
        assert ids
        assert all(owner[str(tx)] == ticket["customer_id"] for tx in ids)


# --- People, groups and policies ------------------------------------------------------


def test_customer_keys_are_distinct_and_each_has_a_profile(bank: DemoBank) -> None:
    keys = customer_keys(bank)
    assert len(keys) == 2
    assert len(set(keys)) == 2
    profiles = {row["customer_id"] for row in bank.table("customer-profiles").rows}
    assert set(keys) <= profiles


@pytest.mark.parametrize(
    ("label", "cognito", "groups"),
    [
        (RoleLabel.ADMIN, {"admin", "employee"}, {"admins", "employees"}),
        (RoleLabel.ANALYST, {"employee"}, {"employees"}),
        (RoleLabel.SUPPORT_ENGINEER, {"employee"}, {"employees"}),
        (RoleLabel.CUSTOMER, {"customer"}, {"customers"}),
    ],
)
def test_group_sets_are_exactly_as_specified(
    bank: DemoBank, label: RoleLabel, cognito: set[str], groups: set[str]
) -> None:
    users = [user for user in bank.users if user.role_label is label]
    assert len(users) == (2 if label is RoleLabel.CUSTOMER else 1)
    for user in users:
        assert user.cognito_groups == cognito
        found = user.principal()
        assert found.groups == groups
        assert found.kind is PrincipalKind.HUMAN
        assert (found.attribute("customer_key") is not None) == (label is RoleLabel.CUSTOMER)


def test_every_cognito_group_a_user_is_in_is_created(bank: DemoBank) -> None:
    created = {group.name for group in bank.user_pool.groups}
    assert set().union(*(user.cognito_groups for user in bank.users)) == created


def test_the_agent_is_an_agent_without_groups_and_row_scoped_everywhere(
    bank: DemoBank, catalog: Catalog
) -> None:
    agent = bank.agent.principal()
    assert agent.kind is PrincipalKind.AGENT
    assert agent.groups == frozenset()
    assert agent.id not in {user.username for user in bank.users}
    for entry in catalog:
        if entry.row_scope is not None:
            assert entry.row_scoped_for(agent), entry.key


def test_every_principal_has_one_substantial_policy(bank: DemoBank) -> None:
    principals = {p.id for p in bank.principals()}
    by_principal = {policy.principal_id: policy for policy in bank.policies}
    assert len(bank.policies) == len(by_principal)
    assert by_principal.keys() == principals
    for policy in bank.policies:
        assert policy.version == 1
        assert policy.author_id != policy.principal_id
        assert len(policy.text) >= 500, policy.principal_id
        assert len(re.findall(r"[.!?](\s|$)", policy.text)) >= 5, policy.principal_id
    # Each policy speaks of its own principal, not a copy of someone else's.
    assert len({policy.text for policy in bank.policies}) == len(bank.policies)


# --- IAM: who may assume what ---------------------------------------------------------


def assume(
    bank: DemoBank, role_name: str, caller: str, identity: list[Any], **context: Any
) -> bool:
    role = bank.role(role_name)
    return iam.evaluate(
        action=context.pop("action", "sts:AssumeRole"),
        resource=role.arn(bank.account_id),
        principal=caller,
        identity_policies=identity,
        resource_policy=role.trust_policy,
        resource_policy_required=True,
        context=context or MINT_CONTEXT,
    ).allowed


@pytest.mark.parametrize("role_name", TARGET_ROLE_NAMES)
@pytest.mark.parametrize("action", ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"])
def test_the_broker_mints_target_sessions_with_a_source_identity(
    bank: DemoBank, role_name: str, action: str
) -> None:
    broker = policies_of(bank, BROKER_ROLE_NAME)
    assert assume(bank, role_name, BROKER_SESSION, broker, action=action, **MINT_CONTEXT)


@pytest.mark.parametrize("role_name", TARGET_ROLE_NAMES)
@pytest.mark.parametrize(
    "missing", ["sts:SourceIdentity", f"aws:RequestTag/{REQUEST_ID_TAG}", "aws:TagKeys"]
)
def test_the_broker_cannot_mint_without_source_identity_or_request_tag(
    bank: DemoBank, role_name: str, missing: str
) -> None:
    broker = policies_of(bank, BROKER_ROLE_NAME)
    context = {k: v for k, v in MINT_CONTEXT.items() if k != missing}
    action = "sts:TagSession" if missing == "aws:TagKeys" else "sts:AssumeRole"
    assert not assume(bank, role_name, BROKER_SESSION, broker, action=action, **context)


@pytest.mark.parametrize("role_name", TARGET_ROLE_NAMES)
def test_the_broker_cannot_pass_tags_it_does_not_own(bank: DemoBank, role_name: str) -> None:
    broker = policies_of(bank, BROKER_ROLE_NAME)
    tags = {"aws:TagKeys": [REQUEST_ID_TAG, "cost-center"], "sts:TransitiveTagKeys": []}
    assert not assume(bank, role_name, BROKER_SESSION, broker, action="sts:TagSession", **tags)
    transitive = {"aws:TagKeys": [REQUEST_ID_TAG], "sts:TransitiveTagKeys": [REQUEST_ID_TAG]}
    assert not assume(
        bank, role_name, BROKER_SESSION, broker, action="sts:TagSession", **transitive
    )


@pytest.mark.parametrize("role_name", TARGET_ROLE_NAMES)
def test_nobody_but_the_broker_role_may_assume_a_target_role(
    bank: DemoBank, role_name: str
) -> None:
    for user in (SANDBOX_ADMIN_USER_NAME, BROKER_HOST_USER_NAME, bank.agent.iam_user_name):
        caller = bank.iam_user(user)
        identity = list(caller.inline_policies.values())
        assert not assume(bank, role_name, caller.arn(ACCOUNT), identity), user
    # Nor a target session chaining into another target role (all-powerful identity).
    chained = f"arn:aws:sts::{ACCOUNT}:assumed-role/{CUSTOMER_DATA_ROLE_NAME}/alice"
    admin_like = [{"Version": "2012-10-17", "Statement": [allow_all()]}]
    assert not assume(bank, role_name, chained, admin_like)


def allow_all() -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "*", "Resource": "*"}


def test_only_the_broker_host_assumes_the_broker_role_and_without_identity(
    bank: DemoBank,
) -> None:
    host = bank.iam_user(BROKER_HOST_USER_NAME)
    host_policies = list(host.inline_policies.values())
    context = {"aws:PrincipalAccount": ACCOUNT}
    assert assume(bank, BROKER_ROLE_NAME, host.arn(ACCOUNT), host_policies, **context)
    # A SourceIdentity on the broker's own session would be inherited by every target session.
    assert not assume(
        bank,
        BROKER_ROLE_NAME,
        host.arn(ACCOUNT),
        host_policies,
        action="sts:SetSourceIdentity",
        **MINT_CONTEXT,
    )
    agent = bank.iam_user(bank.agent.iam_user_name)
    assert not assume(bank, BROKER_ROLE_NAME, agent.arn(ACCOUNT), [], **context)


# --- IAM: what the roles and users may do ---------------------------------------------


def allowed(policies: list[Any], action: str, resource: str, **context: Any) -> bool:
    caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/{CUSTOMER_DATA_ROLE_NAME}/probe"
    return iam.evaluate(
        action=action,
        resource=resource,
        principal=caller,
        identity_policies=policies,
        context=context,
    ).allowed


@pytest.mark.parametrize("role_name", [BROKER_ROLE_NAME, *TARGET_ROLE_NAMES])
def test_no_role_allows_everything(bank: DemoBank, role_name: str) -> None:
    policies = policies_of(bank, role_name)
    for document in policies:
        for statement in statements(document):
            if statement["Effect"] == "Allow":
                assert "*" not in as_list(statement["Action"])
                assert "*" not in as_list(statement["Resource"])
    outside = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/bank-not-in-the-catalog"
    assert not allowed(policies, "dynamodb:GetItem", outside)
    assert not allowed(policies, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/intruder")
    assert not allowed(policies, "s3:GetObject", "arn:aws:s3:::any-bucket/key")


def test_the_customer_role_reads_rows_but_never_past_them(bank: DemoBank) -> None:
    policies = policies_of(bank, CUSTOMER_DATA_ROLE_NAME)
    for table in bank.tables:
        arn = table_arn(bank, table.catalog_key)
        if not table.customer_owned:
            assert not allowed(policies, "dynamodb:GetItem", arn), table.name
            continue
        assert allowed(policies, "dynamodb:Query", arn)
        for action in (
            "dynamodb:Scan",
            "dynamodb:PartiQLSelect",
            "dynamodb:ExportTableToPointInTime",
            "dynamodb:PutResourcePolicy",
            "dynamodb:DeleteResourcePolicy",
            "dynamodb:DeleteTable",
        ):
            assert not allowed(policies, action, arn), (action, table.name)
        assert not allowed(policies, "dynamodb:Query", f"{arn}/index/any-index")
        assert not allowed(policies, "dynamodb:GetRecords", f"{arn}/stream/2026-01-01T00:00:00")


def test_the_operations_role_scans_operational_tables_only(bank: DemoBank) -> None:
    policies = policies_of(bank, OPERATIONS_ROLE_NAME)
    assert allowed(policies, "dynamodb:Scan", table_arn(bank, "operations-metrics"))
    assert allowed(policies, "dynamodb:Scan", table_arn(bank, "transaction-ledger"))
    assert not allowed(policies, "dynamodb:PutItem", table_arn(bank, "transaction-ledger"))
    assert not allowed(policies, "dynamodb:PutResourcePolicy", table_arn(bank, "transactions"))
    assert not allowed(policies, "dynamodb:GetItem", table_arn(bank, "customer-profiles"))


def test_the_directory_role_cannot_change_existing_groups_or_attributes(bank: DemoBank) -> None:
    policies = policies_of(bank, "agent-zero-target-directory")
    pool = f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/{POOL_ID}"
    assert allowed(policies, "cognito-idp:AdminDisableUser", pool)
    assert allowed(policies, "cognito-idp:AdminCreateUser", pool)  # onboarding
    assert not allowed(policies, "cognito-idp:AdminRemoveUserFromGroup", pool)
    assert not allowed(policies, "cognito-idp:AdminUpdateUserAttributes", pool)
    assert not allowed(policies, "dynamodb:GetItem", table_arn(bank, "transactions"))


def test_the_broker_role_mints_and_revokes_but_reads_no_data(bank: DemoBank) -> None:
    policies = policies_of(bank, BROKER_ROLE_NAME)
    for name in TARGET_ROLE_NAMES:
        target = bank.role_arn(name)
        assert allowed(policies, "sts:AssumeRole", target)
        assert allowed(policies, "iam:PutRolePolicy", target)
        assert not allowed(policies, "iam:AttachRolePolicy", target)
        assert not allowed(policies, "iam:UpdateAssumeRolePolicy", target)
    broker = bank.role_arn(BROKER_ROLE_NAME)
    assert not allowed(policies, "iam:PutRolePolicy", broker)
    assert not allowed(policies, "sts:AssumeRole", broker)
    assert not allowed(policies, "dynamodb:GetItem", table_arn(bank, "account-balances"))


def test_the_agents_iam_user_holds_no_permissions(bank: DemoBank) -> None:
    user = bank.iam_user(bank.agent.iam_user_name)
    assert user.inline_policies == {}
    caller = user.arn(ACCOUNT)
    for action, resource in (
        ("dynamodb:GetItem", table_arn(bank, "support-tickets")),
        ("sts:AssumeRole", bank.role_arn(CUSTOMER_DATA_ROLE_NAME)),
    ):
        result = iam.evaluate(
            action=action,
            resource=resource,
            principal=caller,
            identity_policies=list(user.inline_policies.values()),
        )
        assert not result.allowed


def test_the_broker_host_may_only_assume_the_broker_role(bank: DemoBank) -> None:
    policies = list(bank.iam_user(BROKER_HOST_USER_NAME).inline_policies.values())
    assert allowed(policies, "sts:AssumeRole", bank.role_arn(BROKER_ROLE_NAME))
    assert not allowed(policies, "sts:AssumeRole", bank.role_arn(CUSTOMER_DATA_ROLE_NAME))
    assert not allowed(policies, "dynamodb:GetItem", table_arn(bank, "account-balances"))


def test_the_initial_revocation_policy_is_live_but_matches_no_session(bank: DemoBank) -> None:
    for name in TARGET_ROLE_NAMES:
        assert bank.role(name).inline_policies.keys() == {
            TARGET_ACCESS_POLICY_NAME,
            REVOCATION_POLICY_NAME,
        }
    policies = policies_of(bank, CUSTOMER_DATA_ROLE_NAME)
    arn = table_arn(bank, "account-balances")
    assert allowed(policies, "dynamodb:GetItem", arn, **{"aws:SourceIdentity": "alice.moreau"})
    # The Deny is evaluated (it bites on its own value), and that value cannot be a
    # SourceIdentity, whose characters are [A-Za-z0-9_+=,.@-].
    assert not allowed(
        policies, "dynamodb:GetItem", arn, **{"aws:SourceIdentity": NO_REVOCATIONS_SENTINEL}
    )
    assert not re.fullmatch(r"[\w+=,.@-]{2,64}", NO_REVOCATIONS_SENTINEL)


def test_policies_fit_iams_size_limits(bank: DemoBank) -> None:
    def size(document: dict[str, Any]) -> int:
        return len(json.dumps(document, separators=(",", ":")))

    for role in bank.roles:
        assert size(role.trust_policy) <= 2_048, role.name
        assert sum(size(p) for p in role.inline_policies.values()) <= 10_240, role.name
        assert 3_600 <= role.max_session_duration <= 43_200
    for user in bank.iam_users:
        assert sum(size(p) for p in user.inline_policies.values()) <= 2_048, user.name


# --- The broker's rules over the demo data --------------------------------------------


def test_a_customer_may_read_their_own_balances(bank: DemoBank, catalog: Catalog) -> None:
    alice = principal(bank, RoleLabel.CUSTOMER)
    proposal = approve(("account-balances", ("dynamodb:GetItem", "dynamodb:Query")))
    assert check_proposal(proposal, principal=alice, catalog=catalog) == []


def test_a_support_engineer_may_read_and_update_tickets(bank: DemoBank, catalog: Catalog) -> None:
    kwame = principal(bank, RoleLabel.SUPPORT_ENGINEER)
    proposal = approve(("support-tickets", ("dynamodb:Query", "dynamodb:UpdateItem")))
    assert check_proposal(proposal, principal=kwame, catalog=catalog) == []


def test_an_analyst_may_read_metrics_and_the_ledger(bank: DemoBank, catalog: Catalog) -> None:
    tomas = principal(bank, RoleLabel.ANALYST)
    proposal = approve(
        ("operations-metrics", ("dynamodb:Query",)),
        ("transaction-ledger", ("dynamodb:Scan",)),
        ("transaction-ledger-by-category", ("dynamodb:Query",)),
    )
    assert check_proposal(proposal, principal=tomas, catalog=catalog) == []


def test_an_admin_may_manage_policies(bank: DemoBank, catalog: Catalog) -> None:
    priya = principal(bank, RoleLabel.ADMIN)
    proposal = approve(("policy-store", ("broker:ReadPolicy", "broker:WritePolicy")))
    assert check_proposal(proposal, principal=priya, catalog=catalog) == []


@pytest.mark.parametrize(
    ("grant", "expected"),
    [
        # Bulk reads of PII never pass, whatever the reviewer thinks of the reason.
        (("customer-profiles", ("dynamodb:Scan",)), {V.ACTION_NOT_ALLOWED, V.UNSCOPABLE_ACTION}),
        (("customer-profiles", ("dynamodb:DeleteItem",)), {V.ACTION_NOT_ALLOWED}),
        # Staff who are not admins never reach the directory or the broker's stores.
        (("user-directory", ("cognito-idp:ListUsers",)), {V.SENSITIVITY_TOO_HIGH}),
        (
            ("policy-store", ("broker:ReadPolicy",)),
            {V.SENSITIVITY_TOO_HIGH, V.BROKER_RESOURCE_NOT_ALLOWED},
        ),
    ],
)
def test_what_the_rules_refuse_an_analyst(
    bank: DemoBank, catalog: Catalog, grant: tuple[str, tuple[str, ...]], expected: set[str]
) -> None:
    tomas = principal(bank, RoleLabel.ANALYST)
    assert violations(approve(grant), tomas, catalog) == expected


def test_customer_data_and_operations_cannot_share_a_session(
    bank: DemoBank, catalog: Catalog
) -> None:
    kwame = principal(bank, RoleLabel.SUPPORT_ENGINEER)
    proposal = approve(
        ("support-tickets", ("dynamodb:Query",)), ("operations-metrics", ("dynamodb:Query",))
    )
    assert violations(proposal, kwame, catalog) == {V.MIXED_TARGET_ROLES}


def test_the_agent_needs_the_customers_key(bank: DemoBank, catalog: Catalog) -> None:
    tickets = approve(("support-tickets", ("dynamodb:Query", "dynamodb:PutItem")))
    assert violations(tickets, bank.agent.principal(), catalog) == {V.MISSING_OWNER_KEY}
    assert violations(tickets, agent_for(bank, "c-1001"), catalog) == set()


def test_under_default_limits_the_agent_reaches_tickets_but_not_balances(
    bank: DemoBank, catalog: Catalog
) -> None:
    # Agents' default ceiling is medium and balances are high: the wiring must raise
    # the agents' ceiling for the chat agent to answer balance questions.
    balances = approve(("account-balances", ("dynamodb:Query",)))
    assert violations(balances, agent_for(bank, "c-1001"), catalog) == {V.SENSITIVITY_TOO_HIGH}


def test_a_customers_grant_is_contained_to_their_own_rows(bank: DemoBank, catalog: Catalog) -> None:
    alice = principal(bank, RoleLabel.CUSTOMER)
    grants = [
        Grant(resource_key="account-balances", actions=("dynamodb:GetItem", "dynamodb:Query")),
        Grant(resource_key="transactions", actions=("dynamodb:Query",)),
    ]
    compiled = compile_session_policy(grants, catalog=catalog, principal=alice)
    assert compiled.target_role_arn == bank.role_arn(CUSTOMER_DATA_ROLE_NAME)
    role_policies = policies_of(bank, CUSTOMER_DATA_ROLE_NAME)
    assert (
        prove_containment(role_policies, compiled.text, grants, catalog=catalog, principal=alice)
        == []
    )
    reach = explore_access(
        role_policies, compiled.text, catalog=catalog, principal=alice, grants=grants
    )
    assert {(p.action, p.resource, p.leading_keys) for p in reach} == {
        ("dynamodb:GetItem", table_arn(bank, "account-balances"), ("c-1001",)),
        ("dynamodb:Query", table_arn(bank, "account-balances"), ("c-1001",)),
        ("dynamodb:Query", table_arn(bank, "transactions"), ("c-1001",)),
    }


def test_an_analysts_grant_is_contained_too(bank: DemoBank, catalog: Catalog) -> None:
    tomas = principal(bank, RoleLabel.ANALYST)
    grants = [
        Grant(resource_key="transaction-ledger", actions=("dynamodb:Scan",)),
        Grant(resource_key="transaction-ledger-by-category", actions=("dynamodb:Query",)),
    ]
    compiled = compile_session_policy(grants, catalog=catalog, principal=tomas)
    role_policies = policies_of(bank, OPERATIONS_ROLE_NAME)
    assert (
        prove_containment(role_policies, compiled.text, grants, catalog=catalog, principal=tomas)
        == []
    )


# --- Purity ---------------------------------------------------------------------------


def imported_modules() -> Iterator[tuple[str, str]]:
    package = Path(demo_bank_package.__file__).parent
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield from ((path.name, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                yield path.name, node.module or "."


def test_the_demo_bank_is_pure_data() -> None:
    allowed_internal = ("agent_zero.domain", "agent_zero.sandbox.demo_bank")
    impure = {"os", "random", "secrets", "uuid", "time", "socket", "sqlite3", "subprocess"}
    for module_file, name in imported_modules():
        top = name.split(".")[0]
        if top == "agent_zero":
            assert name.startswith(allowed_internal), (module_file, name)
        else:
            assert top in sys.stdlib_module_names, (module_file, name)
            assert top not in impure, (module_file, name)
