"""The containment proof: compiled policies prove empty; widened ones are caught."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_zero.broker.containment import (
    OTHER_KEY,
    Probe,
    ProbeSpace,
    explore_access,
    prove_containment,
)
from agent_zero.broker.session_policy import compile_session_policy
from agent_zero.domain.catalog import Catalog
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import Grant
from support.bank import ACCOUNT, REGION, broad_role_policy, table_arn

ACCOUNTS = table_arn("Accounts")
READ = Grant(resource_key="accounts", actions=("dynamodb:GetItem", "dynamodb:Query"))
ROW_GUARD = {
    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]},
    "Null": {"dynamodb:LeadingKeys": "false"},
}


def session(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: Any, resources: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def over_grants(
    policy: str, catalog: Catalog, principal: Principal, grants: tuple[Grant, ...] = (READ,)
) -> list[Probe]:
    return prove_containment(
        [broad_role_policy()], policy, grants, catalog=catalog, principal=principal
    )


def test_the_compiled_policy_is_contained(catalog: Catalog, customer: Principal) -> None:
    compiled = compile_session_policy([READ], catalog=catalog, principal=customer)
    assert over_grants(compiled.text, catalog, customer) == []


def test_what_the_compiled_policy_allows_is_exactly_the_own_rows(
    catalog: Catalog, customer: Principal
) -> None:
    compiled = compile_session_policy([READ], catalog=catalog, principal=customer)
    allowed = explore_access(
        [broad_role_policy()], compiled.text, catalog=catalog, principal=customer, grants=[READ]
    )
    assert {(p.action, p.resource, p.leading_keys) for p in allowed} == {
        ("dynamodb:GetItem", ACCOUNTS, ("c-1001",)),
        ("dynamodb:Query", ACCOUNTS, ("c-1001",)),
    }


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(
            session(
                allow(
                    ["dynamodb:GetItem"],
                    ACCOUNTS,
                    {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]}},
                )
            ),
            Probe("dynamodb:GetItem", ACCOUNTS, None),
            id="missing-null-guard-lets-keyless-reads-through",
        ),
        pytest.param(
            session(
                allow(
                    ["dynamodb:GetItem", "dynamodb:Scan"],
                    ACCOUNTS,
                    {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]}},
                )
            ),
            Probe("dynamodb:Scan", ACCOUNTS, None),
            id="scan-with-vacuous-forallvalues",
        ),
        pytest.param(
            session(allow("dynamodb:GetItem", ACCOUNTS + "*", ROW_GUARD)),
            Probe("dynamodb:GetItem", ACCOUNTS + "/index/probe-index", ("c-1001",)),
            id="trailing-wildcard-reaches-indexes",
        ),
        pytest.param(
            session(allow("dynamodb:Get*", ACCOUNTS, ROW_GUARD)),
            Probe("dynamodb:GetRecords", ACCOUNTS, ("c-1001",)),
            id="wildcard-action",
        ),
        pytest.param(
            session(
                allow(
                    "dynamodb:GetItem",
                    ACCOUNTS,
                    {
                        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["c-*"]},
                        "Null": {"dynamodb:LeadingKeys": "false"},
                    },
                )
            ),
            Probe("dynamodb:GetItem", ACCOUNTS, ("c-10010",)),
            id="widened-key-pattern",
        ),
        pytest.param(
            session(
                allow(
                    "dynamodb:GetItem",
                    ACCOUNTS,
                    {"ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]}},
                )
            ),
            Probe("dynamodb:GetItem", ACCOUNTS, ("c-1001", OTHER_KEY)),
            id="foranyvalue-lets-a-batch-mix-in-another-customer",
        ),
        pytest.param(
            session(
                allow(
                    "dynamodb:GetItem",
                    ACCOUNTS,
                    {
                        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001", "c-2002"]},
                        "Null": {"dynamodb:LeadingKeys": "false"},
                    },
                )
            ),
            Probe("dynamodb:GetItem", ACCOUNTS, ("c-2002",)),
            id="second-customer-key-named-in-the-policy",
        ),
        pytest.param(
            session(allow("dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Secret")),
            Probe("dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Secret", None),
            id="resource-outside-the-catalog-named-by-the-policy",
        ),
        pytest.param(
            session({"Effect": "Allow", "NotAction": "dynamodb:DeleteTable", "Resource": ACCOUNTS}),
            Probe("dynamodb:Scan", ACCOUNTS, None),
            id="notaction-allows-everything-else",
        ),
        pytest.param(
            session(allow("dynamodb:GetItem", "*", ROW_GUARD)),
            Probe("dynamodb:GetItem", table_arn("Transactions"), ("c-1001",)),
            id="any-resource",
        ),
    ],
)
def test_widened_session_policies_are_caught(
    catalog: Catalog, customer: Principal, policy: str, expected: Probe
) -> None:
    assert expected in over_grants(policy, catalog, customer)


def test_role_policy_still_bounds_the_session(catalog: Catalog, customer: Principal) -> None:
    wide_session = session(
        allow(["dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Scan"], ACCOUNTS)
    )
    role_reads_accounts_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": ACCOUNTS,
                "Condition": ROW_GUARD,
            }
        ],
    }
    found = prove_containment(
        [role_reads_accounts_only], wide_session, [READ], catalog=catalog, principal=customer
    )
    assert found == []


def test_a_revocation_deny_on_the_role_removes_everything(
    catalog: Catalog, customer: Principal
) -> None:
    revoked = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}},
            }
        ],
    }
    allowed = explore_access(
        [broad_role_policy(), revoked],
        session(allow("dynamodb:*", "*")),
        catalog=catalog,
        principal=customer,
        context={"aws:SourceIdentity": "alice"},
    )
    assert allowed == []


def test_pruned_and_exhaustive_exploration_agree(catalog: Catalog, customer: Principal) -> None:
    dynamodb_only = Catalog(entries=tuple(e for e in catalog if e.kind.service == "dynamodb"))
    policy = session(
        allow(
            ["dynamodb:GetItem", "dynamodb:Scan"],
            ACCOUNTS,
            {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]}},
        ),
        allow("dynamodb:Query", table_arn("Transactions") + "*", ROW_GUARD),
        {"Effect": "Allow", "Action": "dynamodb:DescribeTable", "NotResource": ACCOUNTS},
    )
    kwargs: dict[str, Any] = {"catalog": dynamodb_only, "principal": customer, "grants": [READ]}
    pruned = explore_access([broad_role_policy()], policy, **kwargs)
    exhaustive = explore_access([broad_role_policy()], policy, exhaustive=True, **kwargs)
    assert set(pruned) == set(exhaustive)
    assert len(pruned) > 10


def test_a_prebuilt_probe_space_gives_the_same_answer(
    catalog: Catalog, customer: Principal
) -> None:
    policy = session(allow(["dynamodb:GetItem", "dynamodb:Scan"], ACCOUNTS))
    space = ProbeSpace.for_catalog(catalog)
    assert over_grants(policy, catalog, customer) == prove_containment(
        [broad_role_policy()],
        policy,
        [READ],
        catalog=catalog,
        principal=customer,
        probe_space=space,
    )


def test_probe_space_covers_sub_resources_and_every_service_action(catalog: Catalog) -> None:
    space = ProbeSpace.for_catalog(catalog)
    assert ACCOUNTS + "/stream/2024-01-01T00:00:00.000" in space.resource_set
    assert "arn:aws:s3:::bank-statements-archive/probe-object" in space.resource_set
    assert {"dynamodb:Scan", "s3:PutObject", "cognito-idp:AdminDeleteUser"} <= set(space.actions)
    assert not any(a.startswith("broker:") for a in space.actions)


def test_probe_descriptions_are_readable() -> None:
    assert Probe("dynamodb:Scan", ACCOUNTS, None).describe() == (
        f"dynamodb:Scan on {ACCOUNTS} with no row key"
    )


def test_an_empty_row_key_is_probed_and_refused_by_the_compiled_guard(
    catalog: Catalog, customer: Principal
) -> None:
    compiled = compile_session_policy([READ], catalog=catalog, principal=customer)
    allowed = explore_access(
        [broad_role_policy()], compiled.text, catalog=catalog, principal=customer, grants=[READ]
    )
    assert not any(p.leading_keys == ("",) for p in allowed)
    without_null_guard = session(
        allow(
            "dynamodb:GetItem",
            ACCOUNTS,
            {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["c-1001"]}},
        )
    )
    assert Probe("dynamodb:GetItem", ACCOUNTS, ("",)) in over_grants(
        without_null_guard, catalog, customer
    )


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        (allow("dynamodb:*", ACCOUNTS, ROW_GUARD), "actions are not an exact list"),
        (allow("dynamodb:GetItem", "*", ROW_GUARD), "resources are not an exact list"),
        (
            {"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": ACCOUNTS},
            "resources are not an exact list",
        ),
        (
            allow(
                "dynamodb:GetItem",
                ACCOUNTS,
                {**ROW_GUARD, "StringEquals": {"aws:SourceVpce": "vpce-1"}},
            ),
            "conditions on ['aws:sourcevpce']",
        ),
        (allow("s3:ListBucket", "arn:aws:s3:::bank-statements-archive/*"), "resources"),
        (allow("s3:GetObject", "arn:aws:s3:::bank-*/*"), "resources"),
    ],
)
def test_statements_outside_the_closed_grammar_are_unprovable(
    catalog: Catalog, customer: Principal, statement: dict[str, Any], reason: str
) -> None:
    # A finite probe space cannot enumerate a wildcard's reach (another region,
    # another service), so the proof refuses to call such a policy contained.
    found = over_grants(session(statement), catalog, customer)
    unprovable = [p for p in found if p.unprovable is not None]
    assert len(unprovable) == 1
    assert reason in unprovable[0].describe()


def test_wildcards_reaching_other_regions_accounts_and_sts_are_seen(
    catalog: Catalog, customer: Principal
) -> None:
    role = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["dynamodb:*", "sts:*"], "Resource": "*"}],
    }
    allowed = explore_access(
        [role],
        session(allow(["dynamodb:GetItem", "sts:AssumeRole"], "*")),
        catalog=catalog,
        principal=customer,
    )
    reached = {(p.action, p.resource) for p in allowed}
    other_region = f"arn:aws:dynamodb:agent-zero-probe-region:{ACCOUNT}:table/Accounts"
    other_account = f"arn:aws:dynamodb:{REGION}:000000000000:table/Accounts"
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/agent-zero-probe-role"
    assert {
        ("dynamodb:GetItem", other_region),
        ("dynamodb:GetItem", other_account),
        ("sts:AssumeRole", role_arn),
    } <= reached


def test_s3_object_grants_compile_to_the_bucket_objects_and_prove_contained(
    catalog: Catalog, admin: Principal
) -> None:
    grant = Grant(resource_key="statements-archive", actions=("s3:GetObject", "s3:ListBucket"))
    compiled = compile_session_policy([grant], catalog=catalog, principal=admin)
    statements = json.loads(compiled.text)["Statement"]
    bucket = "arn:aws:s3:::bank-statements-archive"
    assert {(s["Action"], s["Resource"]) for s in statements} == {
        ("s3:GetObject", bucket + "/*"),
        ("s3:ListBucket", bucket),
    }
    role = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    assert prove_containment([role], compiled.text, [grant], catalog=catalog, principal=admin) == []
    allowed = explore_access([role], compiled.text, catalog=catalog, principal=admin)
    assert ("s3:GetObject", bucket + "/probe-object") in {(p.action, p.resource) for p in allowed}
    assert ("s3:GetObject", bucket) not in {(p.action, p.resource) for p in allowed}
