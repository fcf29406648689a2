"""The suite's own machinery: the probe finds over- and under-grants, the tally fails the run.

A probe that never found anything would make every "0 over-grants" meaningless, so it is
run once with credentials that may do everything (the sandbox's administrator) against
narrow grants, and once with a customer's session against grants it does not have. These
cases are not recorded in the ledger.
"""

from __future__ import annotations

from pathlib import Path

from security.conftest import World
from security.ledger import (
    CATEGORIES,
    MIN_CASES,
    Entry,
    Ledger,
    Outcome,
    read_entries,
    summary_rows,
    verdict,
)
from security.probe import Call, is_permitted
from security.verdicts import ALICE
from support.model_server import Structured

QUERY = frozenset({"dynamodb:Query"})


def test_the_probe_reports_every_call_an_all_powerful_key_makes_outside_the_grants(
    world: World,
) -> None:
    admin = world.stack.record.admin_credentials
    credentials = {
        "access_key_id": admin.access_key_id,
        "secret_access_key": admin.secret_access_key,
    }
    report = world.prober.probe(
        credentials, {"transactions": QUERY}, owner_key="c-1001", mine="c-1001", other="c-1002"
    )
    over = {finding.call.name for finding in report.over_grants}
    assert {"transactions:Query:c-1002", "transactions:Scan", "transactions:GetItem:c-1001"} <= over
    assert "transactions:ExecuteStatement" in over
    assert "transactions:GetItem:c-1001:us-west-2" in over  # IAM let it through (moto: no table)
    assert {"iam:ListRoles", "iam:PutRolePolicy", "cognito:ListUsers"} <= over
    assert "transactions:Query:c-1001" not in over
    assert not report.under_grants


def test_the_probe_reports_grants_the_session_does_not_have(world: World) -> None:
    world.script(
        Structured(
            {
                "decision": "approve",
                "grants": [{"resource_key": "transactions", "actions": ["dynamodb:Query"]}],
                "duration_seconds": 900,
                "risk": "low",
                "rationale": "Her own payments.",
            }
        )
    )
    answer = world.request_access(world.bearer("alice.moreau")).json()
    claimed = {"transactions": QUERY | {"dynamodb:GetItem"}}
    report = world.prober.probe(
        answer["credentials"],
        claimed,
        owner_key=ALICE.owner_key,
        mine=ALICE.mine,
        other=ALICE.other,
    )
    assert {f.call.name for f in report.under_grants} == {"transactions:GetItem:c-1001"}
    assert not report.over_grants
    assert report.caller_arn.endswith("/" + answer["request_id"])


def test_row_scoped_calls_are_permitted_only_on_the_owners_keys() -> None:
    scoped = frozenset({"transactions"})
    grants = {"transactions": QUERY | {"dynamodb:BatchGetItem"}}

    def call(action: str, *rows: str, region: str = "us-east-1") -> Call:
        return Call("c", "dynamodb", "op", {}, action, "transactions", rows, region)

    assert is_permitted(call("dynamodb:Query", "c-1001"), grants, owner_key="c-1001", scoped=scoped)
    assert not is_permitted(
        call("dynamodb:Query", "c-1002"), grants, owner_key="c-1001", scoped=scoped
    )
    assert not is_permitted(
        call("dynamodb:BatchGetItem", "c-1001", "c-1002"), grants, owner_key="c-1001", scoped=scoped
    )
    assert not is_permitted(
        call("dynamodb:query"), grants, owner_key="c-1001", scoped=scoped
    )  # keyless
    assert not is_permitted(
        call("dynamodb:Query", "c-1001", region="us-west-2"),
        grants,
        owner_key="c-1001",
        scoped=scoped,
    )
    assert is_permitted(call("dynamodb:Query", "c-1002"), grants, owner_key=None, scoped=scoped)
    assert not is_permitted(
        call("dynamodb:GetItem", "c-1001"), grants, owner_key="c-1001", scoped=scoped
    )


def test_the_tally_fails_on_any_over_grant_and_on_a_small_full_run(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, "gw0")
    for category in CATEGORIES:
        ledger.record(Entry(category, "a", Outcome.DENIED))
    ledger.record(Entry("injections", "b", Outcome.MINTED, probes=40))
    Ledger(tmp_path, "gw1").record(Entry("bodies", "c", Outcome.PENDING))
    entries = read_entries(tmp_path)
    assert verdict(entries) == [f"only 8 cases ran; the corpus must hold at least {MIN_CASES}"]
    assert summary_rows(entries)[-1] == ("total", 8, 6, 1, 1, 0)
    ledger.record(Entry("injections", "b", Outcome.MINTED, over_grants=2))  # the latest record wins
    entries = read_entries(tmp_path)
    assert verdict(entries)[0] == "2 over-grant(s): a minted session did more than its grants"
    partial = [entry for entry in entries if entry.category == "tokens"]
    assert verdict(partial) == []  # one category alone: no minimum
