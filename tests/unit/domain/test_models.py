"""Requests, principals, proposals and errors: shapes that refuse bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from agent_zero.domain import errors
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from agent_zero.domain.requests import AccessRequest

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def test_requests_carry_no_resource_fields() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        AccessRequest(
            request_id="req-abcdef01",
            principal_id="alice",
            reason="read my balance",
            received_at=NOW,
            resources=["accounts"],
        )  # type: ignore[call-arg]


@pytest.mark.parametrize("reason", ["", "x" * 2001])
def test_reasons_are_bounded(reason: str) -> None:
    with pytest.raises(ValidationError):
        AccessRequest(
            request_id="req-abcdef01", principal_id="alice", reason=reason, received_at=NOW
        )


@pytest.mark.parametrize("bad_id", ["", "alice smith", "../etc", "a" * 200, "-leading"])
def test_principal_ids_are_plain_names(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        Principal(id=bad_id, kind=PrincipalKind.HUMAN, display_name="X")


def test_principal_attributes_and_groups() -> None:
    alice = Principal(
        id="alice@example.com",
        kind="human",
        display_name="Alice",
        groups=frozenset({"customers"}),
        attributes={"customer_key": "c-1", "empty": ""},
    )
    assert alice.attribute("customer_key") == "c-1"
    assert alice.attribute("empty") is None
    assert alice.in_any_group(frozenset({"customers", "staff"}))
    assert not alice.in_any_group(frozenset({"admins"}))
    with pytest.raises(ValidationError):
        Principal(id="x", kind="human", display_name="X", groups=frozenset({"Admins!"}))


def test_models_are_immutable() -> None:
    grant = Grant(resource_key="accounts", actions=("dynamodb:GetItem",))
    with pytest.raises(ValidationError):
        grant.resource_key = "vault"  # type: ignore[misc]


def test_proposals_keep_hostile_values_for_the_guardrails_to_judge() -> None:
    proposal = Proposal.model_validate_json(
        '{"decision": "approve", "duration_seconds": -1, "grants": '
        '[{"resource_key": "*", "actions": ["*"]}]}'
    )
    assert proposal.decision is ProposalDecision.APPROVE
    assert proposal.duration_seconds == -1
    assert proposal.grants[0].covers("*")


def test_grants_need_an_action_and_compare_case_insensitively() -> None:
    with pytest.raises(ValidationError):
        Grant(resource_key="accounts", actions=())
    assert Grant(resource_key="a", actions=("dynamodb:GetItem",)).covers("DYNAMODB:getitem")


def test_every_error_has_a_distinct_code_and_an_http_status() -> None:
    classes = [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, errors.AgentZeroError)
    ]
    assert len(classes) >= 12
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    assert all(cls.__name__.endswith("Error") for cls in classes)
    assert all(400 <= cls.http_status < 600 for cls in classes)
    assert all(cls.__name__ in (errors.__doc__ or "") for cls in classes)


def test_too_large_error_keeps_the_numbers() -> None:
    error = errors.SessionPolicyTooLargeError("too big", length=3000, limit=2048)
    assert (error.length, error.limit, error.code, error.http_status) == (
        3000,
        2048,
        "session_policy_too_large",
        422,
    )
    assert str(error) == "too big"
