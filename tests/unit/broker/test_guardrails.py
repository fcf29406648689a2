"""Guardrails: each rule, on structured facts, as a violation with a code."""

from __future__ import annotations

import pytest

from agent_zero.broker.guardrails import GuardrailLimits, check_proposal
from agent_zero.domain.catalog import Catalog, CatalogEntry, ResourceKind, Sensitivity
from agent_zero.domain.outcomes import ViolationCode
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from support.bank import DYNAMODB_ROLE, bank_entries, table_arn

V = ViolationCode


def approve(*grants: tuple[str, tuple[str, ...]], duration: int = 900) -> Proposal:
    return Proposal(
        decision=ProposalDecision.APPROVE,
        grants=tuple(Grant(resource_key=key, actions=actions) for key, actions in grants),
        duration_seconds=duration,
    )


def codes(proposal: Proposal, principal: Principal, catalog: Catalog, **limits: object) -> set[str]:
    found = check_proposal(
        proposal,
        principal=principal,
        catalog=catalog,
        limits=GuardrailLimits.model_validate(limits) if limits else None,
    )
    return {violation.code for violation in found}


def test_a_narrow_customer_read_passes(catalog: Catalog, customer: Principal) -> None:
    proposal = approve(
        ("accounts", ("dynamodb:GetItem", "dynamodb:Query")), ("transactions", ("dynamodb:Query",))
    )
    assert check_proposal(proposal, principal=customer, catalog=catalog) == []


def test_action_names_are_case_insensitive_like_iam(catalog: Catalog, customer: Principal) -> None:
    assert codes(approve(("accounts", ("DynamoDB:getitem",))), customer, catalog) == set()


@pytest.mark.parametrize(
    ("grant", "expected"),
    [
        (("vault", ("dynamodb:GetItem",)), V.UNKNOWN_RESOURCE),
        (("accounts", ("dynamodb:DeleteItem",)), V.ACTION_NOT_ALLOWED),
        (("accounts", ("dynamodb:*",)), V.WILDCARD_ACTION),
        (("accounts", ("dynamodb:Get*",)), V.WILDCARD_ACTION),
        (("accounts", ("*",)), V.WILDCARD_ACTION),
        (("accounts", ("dynamodb:Scan",)), V.UNSCOPABLE_ACTION),
        (("accounts", ("dynamodb:PartiQLSelect",)), V.UNSCOPABLE_ACTION),
        (("accounts", ("dynamodb:GetRecords",)), V.UNSCOPABLE_ACTION),
        (("accounts", ("dynamodb:ExportTableToPointInTime",)), V.UNSCOPABLE_ACTION),
        (("accounts", ("dynamodb:CreateBackup",)), V.UNSCOPABLE_ACTION),
        (("accounts", ("dynamodb:DescribeTable",)), V.ACTION_WITHOUT_LEADING_KEYS),
        (("transactions-by-date", ("dynamodb:Query",)), V.INDEX_OF_ROW_SCOPED_TABLE),
        (("policy-store", ("broker:ReadPolicy",)), V.BROKER_RESOURCE_NOT_ALLOWED),
        (("statements-archive", ("s3:GetObject",)), V.SENSITIVITY_TOO_HIGH),
    ],
)
def test_customer_violations(
    catalog: Catalog, customer: Principal, grant: tuple[str, tuple[str, ...]], expected: str
) -> None:
    assert expected in codes(approve(grant), customer, catalog)


def test_unscoped_principal_still_never_gets_scan_on_a_row_scoped_table(
    catalog: Catalog, staff: Principal
) -> None:
    # Row scoping is not mandatory for staff, but Scan on a customer-owned table is refused for all.
    assert V.UNSCOPABLE_ACTION in codes(approve(("accounts", ("dynamodb:Scan",))), staff, catalog)
    assert codes(approve(("products", ("dynamodb:Scan",))), staff, catalog) == set()


def test_describe_table_needs_no_leading_keys_when_rows_are_not_scoped(
    catalog: Catalog, staff: Principal, customer: Principal
) -> None:
    # DescribeTable is not in the allowed set at all, so both are refused, but only the
    # scoped customer hits the LeadingKeys rule.
    assert V.ACTION_WITHOUT_LEADING_KEYS not in codes(
        approve(("products", ("dynamodb:GetItem",))), customer, catalog
    )
    staff_codes = codes(approve(("accounts", ("dynamodb:DescribeTable",))), staff, catalog)
    assert V.ACTION_WITHOUT_LEADING_KEYS not in staff_codes
    assert V.ACTION_NOT_ALLOWED in staff_codes


def test_scoped_principal_without_a_key_is_refused(catalog: Catalog) -> None:
    keyless = Principal(
        id="bob", kind=PrincipalKind.HUMAN, display_name="Bob", groups=frozenset({"customers"})
    )
    assert V.MISSING_OWNER_KEY in codes(
        approve(("accounts", ("dynamodb:GetItem",))), keyless, catalog
    )


def test_agents_are_capped_below_humans(
    catalog: Catalog, support_agent: Principal, staff: Principal
) -> None:
    proposal = approve(("fraud-cases", ("dynamodb:GetItem",)))
    assert V.SENSITIVITY_TOO_HIGH in codes(proposal, support_agent, catalog)
    assert codes(proposal, staff, catalog) == set()


def test_admin_group_raises_the_ceiling_and_opens_broker_resources(
    catalog: Catalog, admin: Principal
) -> None:
    assert codes(approve(("policy-store", ("broker:WritePolicy",))), admin, catalog) == set()
    assert codes(approve(("statements-archive", ("s3:GetObject",))), admin, catalog) == set()


def test_limits_are_configurable_per_kind(catalog: Catalog, support_agent: Principal) -> None:
    proposal = approve(("fraud-cases", ("dynamodb:GetItem",)))
    relaxed = {"sensitivity_by_kind": {PrincipalKind.AGENT: Sensitivity.HIGH}}
    assert codes(proposal, support_agent, catalog, **relaxed) == set()


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (899, V.DURATION_TOO_SHORT),
        (0, V.DURATION_TOO_SHORT),
        (-5, V.DURATION_TOO_SHORT),
        (3601, V.DURATION_TOO_LONG),
        (43_200, V.DURATION_TOO_LONG),
        (10**12, V.DURATION_TOO_LONG),
    ],
)
def test_duration_bounds(
    catalog: Catalog, customer: Principal, duration: int, expected: str
) -> None:
    assert codes(
        approve(("accounts", ("dynamodb:GetItem",)), duration=duration), customer, catalog
    ) == {expected}


@pytest.mark.parametrize("duration", [900, 3600])
def test_duration_edges_are_allowed(catalog: Catalog, customer: Principal, duration: int) -> None:
    assert (
        codes(approve(("accounts", ("dynamodb:GetItem",)), duration=duration), customer, catalog)
        == set()
    )


def test_catalog_maximum_lowers_the_duration_ceiling(catalog: Catalog, customer: Principal) -> None:
    entries = [
        e.model_copy(update={"max_session_seconds": 1200}) if e.key == "accounts" else e
        for e in catalog.entries
    ]
    short = Catalog(entries=tuple(entries))
    assert codes(approve(("accounts", ("dynamodb:GetItem",)), duration=1500), customer, short) == {
        V.DURATION_TOO_LONG
    }


def test_grant_count_cap_and_duplicates(catalog: Catalog, staff: Principal) -> None:
    grant = ("products", ("dynamodb:GetItem",))
    assert V.TOO_MANY_GRANTS in codes(approve(*[grant] * 6), staff, catalog)
    assert V.DUPLICATE_GRANT in codes(approve(grant, grant), staff, catalog)


def test_approval_without_grants_and_disabled_principal(
    catalog: Catalog, customer: Principal
) -> None:
    assert codes(approve(), customer, catalog) == {V.NO_GRANTS}
    disabled = customer.model_copy(update={"enabled": False})
    assert V.PRINCIPAL_DISABLED in codes(
        approve(("accounts", ("dynamodb:GetItem",))), disabled, catalog
    )


def test_grants_across_target_roles_must_be_requested_separately(
    catalog: Catalog, admin: Principal
) -> None:
    proposal = approve(
        ("products", ("dynamodb:GetItem",)), ("statements-archive", ("s3:GetObject",))
    )
    assert codes(proposal, admin, catalog) == {V.MIXED_TARGET_ROLES}


def test_a_deny_has_nothing_to_check(catalog: Catalog, customer: Principal) -> None:
    proposal = Proposal(
        decision=ProposalDecision.DENY, grants=(Grant(resource_key="vault", actions=("*",)),)
    )
    assert check_proposal(proposal, principal=customer, catalog=catalog) == []


def test_escalations_are_checked_so_the_approver_sees_problems(
    catalog: Catalog, customer: Principal
) -> None:
    proposal = Proposal(
        decision=ProposalDecision.ESCALATE,
        grants=(Grant(resource_key="accounts", actions=("dynamodb:Scan",)),),
    )
    assert V.UNSCOPABLE_ACTION in codes(proposal, customer, catalog)


def test_violations_carry_readable_sentences_without_echoing_huge_input(
    catalog: Catalog, customer: Principal
) -> None:
    hostile = "dynamodb:" + "A" * 100
    found = check_proposal(approve(("accounts", (hostile,))), principal=customer, catalog=catalog)
    assert found
    assert all(len(v.message) < 300 and v.message.endswith(".") for v in found)


@pytest.mark.parametrize(
    "action", ["dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy", "s3:PutBucketPolicy"]
)
def test_permissions_management_is_never_granted(
    catalog: Catalog, staff: Principal, action: str
) -> None:
    # A session that may write a resource policy could name itself in it and keep
    # access after its session policy and its expiry no longer apply.
    key = "fraud-cases" if action.startswith("dynamodb") else "statements-archive"
    assert V.PERMISSIONS_MANAGEMENT_ACTION in codes(approve((key, (action,))), staff, catalog)


def test_an_index_is_as_sensitive_as_its_table(support_agent: Principal) -> None:
    index = CatalogEntry(
        key="fraud-by-date",
        kind=ResourceKind.DYNAMODB_INDEX,
        description="Fraud cases by date.",
        sensitivity=Sensitivity.LOW,  # mislabelled: the rows are the high table's
        allowed_actions=frozenset({"dynamodb:Query"}),
        arn=table_arn("FraudCases") + "/index/ByDate",
        target_role_arn=DYNAMODB_ROLE,
        parent_key="fraud-cases",
    )
    catalog = Catalog(entries=(*bank_entries(), index))
    found = codes(approve(("fraud-by-date", ("dynamodb:Query",))), support_agent, catalog)
    assert V.SENSITIVITY_TOO_HIGH in found


def test_a_staff_only_table_is_refused_to_customers_and_agents_whatever_is_proposed(
    customer: Principal, support_agent: Principal, staff: Principal
) -> None:
    from support.bank import dynamodb_table

    metrics = dynamodb_table(
        "metrics", "Metrics", {"Query", "Scan"}, scoped=False, sensitivity="low"
    )
    staff_only = metrics.model_copy(update={"audience_groups": frozenset(staff.groups)})
    catalog = Catalog(entries=(staff_only,))
    proposal = approve(("metrics", ("dynamodb:Scan",)))
    assert V.OUTSIDE_AUDIENCE in codes(proposal, customer, catalog)
    assert V.OUTSIDE_AUDIENCE in codes(proposal, support_agent, catalog)
    assert codes(proposal, staff, catalog) == set()
    # Without an audience, the same low-sensitivity table is open to anyone the rules allow.
    assert codes(proposal, customer, Catalog(entries=(metrics,))) == set()
