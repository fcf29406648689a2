"""Security review of AgentZeroStack's template: what an attacker holding one of the stack's
roles could do with it, read from the synthesized JSON."""

from __future__ import annotations

import json
from typing import Any

from agent_zero.sandbox.demo_bank import (
    BROKER_ROLE_NAME,
    TARGET_ACCESS_POLICY_NAME,
    TARGET_ROLE_NAMES,
    demo_bank,
)
from support.cdk_template import ACCOUNT, REGION, Synth, render, role_id, role_statements

BANK = demo_bank(account_id=ACCOUNT, region=REGION)
# IAM actions that would let a role change what bounds the target roles.
_BOUNDARY_CHANGES = {
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:AttachRolePolicy",
    "iam:UpdateAssumeRolePolicy",
}


def _managed_policy(synth: Synth, reference: Any) -> dict[str, Any]:
    assert set(reference) == {"Ref"}, reference
    resource = synth.template["Resources"][reference["Ref"]]
    assert resource["Type"] == "AWS::IAM::ManagedPolicy"
    return dict(resource["Properties"])


def test_a_target_role_rewritten_by_the_broker_stays_within_its_boundary(
    any_synth: Synth,
) -> None:
    # The broker role may PutRolePolicy on every target role (it keeps the revocation policy
    # there), and IAM has no condition key that limits which policy it writes. Without a
    # boundary, a broker function taken over would write "Allow *" and mint itself an
    # unrestricted session: account admin. The boundary caps each role at what it was
    # deployed to do, whatever its inline policies say later.
    (pool,) = any_synth.resources("AWS::Cognito::UserPool")
    for name in TARGET_ROLE_NAMES:
        role = any_synth.template["Resources"][role_id(any_synth, name)]["Properties"]
        assert "PermissionsBoundary" in role, name
        boundary = _managed_policy(any_synth, role["PermissionsBoundary"])
        deployed = BANK.role(name).inline_policies[TARGET_ACCESS_POLICY_NAME]
        # The sandbox's directory role reaches every pool in the region (its pool id comes
        # later); here the pool exists, and the boundary names it alone.
        expected = json.loads(
            json.dumps(deployed).replace(
                f'"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/*"', f'"${{{pool}.Arn}}"'
            )
        )
        assert render(boundary["PolicyDocument"]) == expected, name
        assert boundary.get("Roles") is None  # a boundary, not a grant
    directory = BANK.role(TARGET_ROLE_NAMES[-1]).inline_policies[TARGET_ACCESS_POLICY_NAME]
    assert ":userpool/*" in json.dumps(directory)  # the narrowing above is not vacuous


def test_the_broker_cannot_move_the_boundaries(any_synth: Synth) -> None:
    broker = role_statements(any_synth, role_id(any_synth, BROKER_ROLE_NAME))
    allowed = {a for s in broker if s["Effect"] == "Allow" for a in s["Action"]}
    assert not allowed & _BOUNDARY_CHANGES
    assert not [a for a in allowed if a.startswith("iam:") and "*" in a]


def test_the_chat_routes_read_sign_outs_and_nothing_more(demo: Synth) -> None:
    # The route function refuses a token whose web session was signed out ($connect and each
    # turn): it reads the sign-outs table, and only reads it.
    (revoked,) = [
        k
        for k, r in demo.resources("AWS::DynamoDB::Table").items()
        if r["Properties"]["TableName"] == "agent-zero-revoked-sessions"
    ]
    reaching = [
        s
        for s in role_statements(demo, role_id(demo, "agent-zero-agent-socket"))
        if f"${{{revoked}.Arn}}" in s["Resource"]
    ]
    assert [(s["Effect"], s["Action"]) for s in reaching] == [("Allow", ["dynamodb:GetItem"])]


def _dynamodb_actions(synth: Synth, role: str) -> set[str]:
    return {
        a
        for s in role_statements(synth, role_id(synth, role))
        if s["Effect"] == "Allow"
        for a in s["Action"]
        if a.startswith("dynamodb:")
    }


def test_the_broker_never_deletes_or_edits_its_records_in_place(demo: Synth) -> None:
    # Its stores only append and replace with conditional puts (transactions are authorized
    # per item). DeleteItem and UpdateItem let a broker function taken over erase requests,
    # principals, policy versions and audit records without a trace of the call.
    actions = _dynamodb_actions(demo, BROKER_ROLE_NAME)
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    }


def test_the_agent_worker_never_writes_a_connection(demo: Synth) -> None:
    # Only $connect creates a connection, with the user the token names; the worker reads it,
    # ends its turn and forgets it. A worker that could put one could bind any token it
    # learned to a connection of its choosing.
    assert _dynamodb_actions(demo, "agent-zero-agent") == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
