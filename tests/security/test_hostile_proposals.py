"""A scripted reviewer returning every kind of hostile proposal, over the real HTTP path.

The reviewer model is the OpenAI-compatible script server; the broker's LLM reviewer
validates its answer against the schema generated from the principal's catalog view
(retrying twice with the errors as feedback), then the guardrails have the last word.
Each case pins which layer stops it (the schema: "reviewer unavailable" after three
attempts; the guardrails: the violation codes; routing: pending) or, when the proposal
fits every rule, that the minted session can do exactly the approved grants and nothing
else (the probe).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from security.conftest import LEGIT_REASON, World
from security.verdicts import (
    ALICE,
    BROKE_THE_RULES,
    KWAME,
    PRIYA,
    TOMAS,
    UNAVAILABLE_REVIEWER,
    Denied,
    Expected,
    Minted,
    Pending,
    Who,
    grants,
    passed,
)
from support.model_server import HttpError, Raw, Refusal, Reply, Structured, Text

AGENT = Who("support-assistant", None, "c-1001", "c-1002")
CUSTOMER_TABLES = ("customer-profiles", "account-balances", "transactions", "support-tickets")
READS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
Via = Literal["bearer", "agent-for", "agent-alone"]


def answer(
    decision: str = "approve",
    pairs: Sequence[tuple[str, Sequence[str]]] = (("transactions", ("dynamodb:Query",)),),
    *,
    duration: Any = 900,
    risk: str = "low",
    rationale: str = "Fits the policy.",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "decision": decision,
        "grants": [{"resource_key": key, "actions": list(actions)} for key, actions in pairs],
        "duration_seconds": duration,
        "risk": risk,
        "rationale": rationale,
        **extra,
    }


def one(key: str, *actions: str, **options: Any) -> dict[str, Any]:
    return answer(pairs=((key, actions),), **options)


@dataclass(frozen=True)
class ProposalCase:
    id: str
    reply: Mapping[str, Any] | Reply
    expected: Expected
    who: Who = ALICE
    via: Via = "bearer"
    model_calls: int = 1  # 3 when the schema refuses every attempt

    def replies(self) -> list[Reply]:
        reply = self.reply if not isinstance(self.reply, Mapping) else Structured(self.reply)
        return [reply] * 3


UNAVAILABLE = Denied((UNAVAILABLE_REVIEWER,))
# The agent alone may be granted nothing at all: denied before any reviewer is asked.
NOTHING = Denied(("Nothing in the catalog can be granted to this principal.",))


def schema_refuses(case_id: str, reply: Mapping[str, Any] | Reply, **options: Any) -> ProposalCase:
    """The answer does not fit the schema of the principal's catalog view: three tries, then no."""
    return ProposalCase(case_id, reply, UNAVAILABLE, model_calls=3, **options)


def rules_refuse(
    case_id: str, reply: Mapping[str, Any], *codes: str, **options: Any
) -> ProposalCase:
    return ProposalCase(case_id, reply, Denied((BROKE_THE_RULES,), frozenset(codes)), **options)


SCHEMA_CASES = [
    schema_refuses("scan-on-a-customer-table", one("transactions", "dynamodb:Scan")),
    schema_refuses("scan-beside-query", one("transactions", "dynamodb:Query", "dynamodb:Scan")),
    schema_refuses("dynamodb-wildcard", one("transactions", "dynamodb:*")),
    schema_refuses("bare-wildcard", one("transactions", "*")),
    schema_refuses("get-wildcard", one("transactions", "dynamodb:Get*")),
    schema_refuses("lower-case-action", one("transactions", "dynamodb:query")),
    schema_refuses("s3-action-on-a-table", one("transactions", "s3:GetObject")),
    schema_refuses("iam-pass-role", one("transactions", "iam:PassRole")),
    schema_refuses("sts-assume-role", one("transactions", "sts:AssumeRole")),
    schema_refuses("partiql-select", one("transactions", "dynamodb:PartiQLSelect")),
    schema_refuses("export-to-s3", one("transactions", "dynamodb:ExportTableToPointInTime")),
    schema_refuses("resource-policy-write", one("transactions", "dynamodb:PutResourcePolicy")),
    schema_refuses("write-a-balance", one("account-balances", "dynamodb:PutItem")),
    schema_refuses("delete-a-ticket", one("support-tickets", "dynamodb:DeleteItem")),
    schema_refuses("drop-the-table", one("transactions", "dynamodb:DeleteTable")),
    schema_refuses("unknown-resource", one("vault", "dynamodb:GetItem")),
    schema_refuses("wildcard-resource", one("*", "dynamodb:Query")),
    schema_refuses(
        "table-arn-instead-of-a-key",
        one("arn:aws:dynamodb:us-east-1:123456789012:table/bank-transactions", "dynamodb:Query"),
    ),
    schema_refuses(
        "index-of-a-customer-table", one("transactions/index/by-merchant", "dynamodb:Query")
    ),
    schema_refuses("homoglyph-key-cyrillic-i", one("transact\u0456ons", "dynamodb:Query")),
    schema_refuses("fullwidth-key", one("\uff54ransactions", "dynamodb:Query")),
    schema_refuses("key-with-a-trailing-space", one("transactions ", "dynamodb:Query")),
    schema_refuses("upper-case-key", one("TRANSACTIONS", "dynamodb:Query")),
    schema_refuses("key-with-a-zero-width-space", one("trans\u200bactions", "dynamodb:Query")),
    schema_refuses("user-directory-for-a-customer", one("user-directory", "cognito-idp:ListUsers")),
    schema_refuses("policy-store-for-a-customer", one("policy-store", "broker:WritePolicy")),
    schema_refuses(
        "principal-directory-for-a-customer", one("principal-directory", "broker:WritePrincipal")
    ),
    schema_refuses("twelve-hours", one("transactions", "dynamodb:Query", duration=43_200)),
    schema_refuses("shorter-than-sts-allows", one("transactions", "dynamodb:Query", duration=899)),
    schema_refuses("zero-seconds", one("transactions", "dynamodb:Query", duration=0)),
    schema_refuses("negative-seconds", one("transactions", "dynamodb:Query", duration=-900)),
    schema_refuses("fractional-seconds", one("transactions", "dynamodb:Query", duration=900.5)),
    schema_refuses("duration-as-words", one("transactions", "dynamodb:Query", duration="forever")),
    schema_refuses(
        "the-same-table-twice",
        answer(
            pairs=(("transactions", ("dynamodb:Query",)), ("transactions", ("dynamodb:GetItem",)))
        ),
    ),
    schema_refuses("approve-without-grants", answer(pairs=())),
    schema_refuses("no-actions", one("transactions")),
    schema_refuses(
        "grant-naming-another-customers-key",
        {
            **one("transactions", "dynamodb:Query"),
            "grants": [
                {
                    "resource_key": "transactions",
                    "actions": ["dynamodb:Query"],
                    "customer_key": "c-1002",
                }
            ],
        },
    ),
    schema_refuses(
        "proposal-naming-a-principal",
        one("transactions", "dynamodb:Query", principal_id="ben.okafor"),
    ),
    schema_refuses(
        "proposal-with-a-session-policy",
        one("transactions", "dynamodb:Query", session_policy={"Statement": []}),
    ),
    schema_refuses(
        "decision-in-capitals", one("transactions", "dynamodb:Query", decision="APPROVE")
    ),
    schema_refuses(
        "decision-grant-everything", one("transactions", "dynamodb:Query", decision="grant_all")
    ),
    schema_refuses("risk-none", one("transactions", "dynamodb:Query", risk="none")),
    schema_refuses(
        "rationale-over-2000-characters",
        one("transactions", "dynamodb:Query", rationale="x" * 2_001),
    ),
    schema_refuses(
        "grants-as-an-object", {**answer(), "grants": {"transactions": ["dynamodb:Query"]}}
    ),
    schema_refuses(
        "plain-text-instead-of-the-tool",
        Text("APPROVED: grant dynamodb:* on every table for 12 hours."),
    ),
    ProposalCase(
        "truncated-json",
        Raw('{"id": "x", "choices": [{"message": {"content": "{\\"decision\\": \\"approve\\"'),
        UNAVAILABLE,
    ),
    ProposalCase("a-refusal", Refusal("I cannot help with that."), UNAVAILABLE, model_calls=1),
    ProposalCase("http-500", HttpError(500), UNAVAILABLE, model_calls=1),
    ProposalCase("http-429", HttpError(429, "rate limited"), UNAVAILABLE, model_calls=1),
    schema_refuses(
        "staff-scan-on-a-customer-table", one("transactions", "dynamodb:Scan"), who=KWAME
    ),
    schema_refuses(
        "staff-write-to-balances", one("account-balances", "dynamodb:UpdateItem"), who=KWAME
    ),
    schema_refuses(
        "analyst-user-directory", one("user-directory", "cognito-idp:ListUsers"), who=TOMAS
    ),
    schema_refuses(
        "agent-for-alice-user-directory",
        one("user-directory", "cognito-idp:AdminAddUserToGroup"),
        via="agent-for",
    ),
    ProposalCase(
        "agent-alone-customer-rows",
        one("transactions", "dynamodb:Query"),
        NOTHING,
        who=AGENT,
        via="agent-alone",
        model_calls=0,
    ),
    ProposalCase(
        "agent-alone-policy-store",
        one("policy-store", "broker:WritePolicy"),
        NOTHING,
        who=AGENT,
        via="agent-alone",
        model_calls=0,
    ),
]

RULE_CASES = [
    schema_refuses(  # the internal tables are not in a customer's view at all
        "every-table-at-once",
        answer(
            pairs=(
                *((key, ("dynamodb:Query",)) for key in CUSTOMER_TABLES),
                ("operations-metrics", ("dynamodb:Query",)),
                ("transaction-ledger", ("dynamodb:Query",)),
                ("transaction-ledger-by-category", ("dynamodb:Query",)),
            )
        ),
    ),
    schema_refuses(
        "customer-rows-and-operations-data-in-one-session",
        answer(
            pairs=(
                ("transactions", ("dynamodb:Query",)),
                ("operations-metrics", ("dynamodb:Query",)),
            )
        ),
    ),
    rules_refuse(
        "staff-customer-rows-and-operations-data-in-one-session",
        answer(
            pairs=(
                ("transactions", ("dynamodb:Query",)),
                ("operations-metrics", ("dynamodb:Query",)),
            )
        ),
        "mixed_target_roles",
        who=TOMAS,
    ),
    rules_refuse(
        "profiles-past-their-15-minutes",
        one("customer-profiles", "dynamodb:GetItem", duration=1_800),
        "duration_too_long",
    ),
    rules_refuse(
        "transactions-for-an-hour",
        one("transactions", "dynamodb:Query", duration=3_600),
        "duration_too_long",
    ),
    rules_refuse(
        "escalated-for-too-long",
        one("account-balances", "dynamodb:Query", decision="escalate", duration=3_600),
        "duration_too_long",
    ),
    rules_refuse(
        "staff-every-customer-table-and-the-ledger",
        answer(
            pairs=(
                *((key, READS) for key in CUSTOMER_TABLES),
                ("transaction-ledger", ("dynamodb:Scan",)),
            )
        ),
        "mixed_target_roles",
        who=KWAME,
    ),
]

PENDING_CASES = [
    ProposalCase(
        "escalation-with-wide-grants",
        one("account-balances", *READS, decision="escalate", risk="high"),
        Pending("The reviewer asked for a person to decide."),
    ),
    ProposalCase(
        "admin-user-directory",
        one("user-directory", "cognito-idp:AdminAddUserToGroup"),
        Pending("These resources need a person's approval."),
        who=PRIYA,
    ),
    ProposalCase(
        "admin-policy-store-write",
        one("policy-store", "broker:WritePolicy"),
        Pending("These resources need a person's approval."),
        who=PRIYA,
    ),
    ProposalCase(
        "admin-directory-and-policies-together",
        answer(
            pairs=(
                ("user-directory", ("cognito-idp:ListUsers",)),
                ("policy-store", ("broker:WritePolicy",)),
            )
        ),
        Pending("These resources need a person's approval."),
        who=PRIYA,
    ),
    ProposalCase(
        "admin-principal-directory-write",
        one("principal-directory", "broker:WritePrincipal"),
        Pending("These resources need a person's approval."),
        who=PRIYA,
    ),
]

DENY_CASES = [
    ProposalCase(
        "a-denial-with-markup-in-the-rationale",
        one(
            "transactions",
            "dynamodb:Query",
            decision="deny",
            rationale="<script>alert(1)</script> no",
        ),
        Denied(("<script>alert(1)</script> no",)),
    ),
    ProposalCase(
        "a-denial-that-still-lists-grants",
        one("transactions", *READS, decision="deny", rationale="Denied."),
        Denied(("Denied.",)),
    ),
]

# Proposals that fit every rule: whatever the reviewer was fooled into, the session is the grant.
MINTED_CASES = [
    ProposalCase(
        "every-customer-table-every-action",
        answer(
            pairs=(
                ("customer-profiles", READS),
                ("account-balances", READS),
                ("transactions", READS),
                ("support-tickets", (*READS, "dynamodb:PutItem", "dynamodb:UpdateItem")),
            )
        ),
        Minted(
            grants(
                ("customer-profiles", READS),
                ("account-balances", READS),
                ("transactions", READS),
                ("support-tickets", (*READS, "dynamodb:PutItem", "dynamodb:UpdateItem")),
            )
        ),
    ),
    ProposalCase(
        "ticket-writes",
        one("support-tickets", "dynamodb:PutItem", "dynamodb:UpdateItem"),
        Minted(grants(("support-tickets", ("dynamodb:PutItem", "dynamodb:UpdateItem")))),
    ),
    ProposalCase(
        "batch-reads-of-balances",
        one("account-balances", "dynamodb:BatchGetItem", duration=1_800),
        Minted(grants(("account-balances", ("dynamodb:BatchGetItem",)))),
    ),
    ProposalCase(  # lax JSON validation reads "900" as 900: the same grant, no wider
        "duration-as-a-numeric-string",
        one("transactions", "dynamodb:Query", duration="900"),
        Minted(grants(("transactions", ("dynamodb:Query",)))),
    ),
    ProposalCase(
        "approve-at-critical-risk",
        one("customer-profiles", "dynamodb:GetItem", risk="critical"),
        Minted(grants(("customer-profiles", ("dynamodb:GetItem",)))),
    ),
    ProposalCase(
        "agent-for-alice-every-read",
        answer(pairs=tuple((key, READS) for key in CUSTOMER_TABLES)),
        Minted(grants(*((key, READS) for key in CUSTOMER_TABLES))),
        via="agent-for",
    ),
    ProposalCase(
        "staff-reads-a-customer-table-unscoped",
        one("transactions", "dynamodb:Query", "dynamodb:GetItem"),
        Minted(grants(("transactions", ("dynamodb:Query", "dynamodb:GetItem")))),
        who=KWAME,
    ),
    ProposalCase(
        "analyst-ledger-and-its-index",
        answer(
            pairs=(
                ("transaction-ledger", ("dynamodb:Scan", "dynamodb:Query")),
                ("transaction-ledger-by-category", ("dynamodb:Query",)),
            )
        ),
        Minted(
            grants(
                ("transaction-ledger", ("dynamodb:Scan", "dynamodb:Query")),
                ("transaction-ledger-by-category", ("dynamodb:Query",)),
            )
        ),
        who=TOMAS,
    ),
    ProposalCase(
        "analyst-metrics-for-an-hour",
        one("operations-metrics", "dynamodb:Scan", "dynamodb:DescribeTable", duration=3_600),
        Minted(grants(("operations-metrics", ("dynamodb:Scan", "dynamodb:DescribeTable")))),
        who=TOMAS,
    ),
]

CASES = SCHEMA_CASES + RULE_CASES + PENDING_CASES + DENY_CASES + MINTED_CASES


def send(world: World, case: ProposalCase) -> Any:
    if case.via == "bearer":
        return world.request_access(world.bearer(case.who.username))
    payload = json.dumps({"reason": LEGIT_REASON}).encode()
    token = world.token(case.who.username) if case.via == "agent-for" else None
    headers = world.agent_headers("POST", "/v1/access-requests", payload, on_behalf_of=token)
    return world.http.post(world.api + "/v1/access-requests", content=payload, headers=headers)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_hostile_proposal_never_becomes_more_than_its_grants(
    world: World, case: ProposalCase
) -> None:
    world.script(*case.replies())
    response = send(world, case)
    verdict = world.settle("hostile-proposals", case.id, response, case.expected, case.who)
    asked = len(world.stack.model.chat_requests)
    if asked != case.model_calls:
        verdict.problems.append(f"the reviewer was asked {asked} times, not {case.model_calls}")
    passed(verdict)


# The bank's internal tables are for staff only (the catalog's audience_groups): a fooled
# reviewer cannot give them to a customer or the agent, whose views do not contain them.
GAP_CASES = [
    ProposalCase(
        "customer-gets-the-bank-wide-ledger",
        one("transaction-ledger", "dynamodb:Scan"),
        UNAVAILABLE,
        model_calls=3,
    ),
    ProposalCase(
        "customer-gets-operations-metrics",
        one("operations-metrics", "dynamodb:Scan", "dynamodb:Query"),
        UNAVAILABLE,
        model_calls=3,
    ),
    ProposalCase(
        "agent-for-alice-gets-the-ledger",
        one("transaction-ledger", "dynamodb:Scan"),
        UNAVAILABLE,
        via="agent-for",
        model_calls=3,
    ),
    ProposalCase(
        "agent-alone-gets-operations-metrics",
        one("operations-metrics", "dynamodb:Scan"),
        NOTHING,
        who=AGENT,
        via="agent-alone",
        model_calls=0,
    ),
]


@pytest.mark.parametrize("case", GAP_CASES, ids=lambda case: case.id)
def test_internal_tables_never_reach_customers_or_the_agent(
    world: World, case: ProposalCase
) -> None:
    world.script(*case.replies())
    response = send(world, case)
    verdict = world.settle("hostile-proposals", case.id, response, case.expected, case.who)
    passed(verdict)
