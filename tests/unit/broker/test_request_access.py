"""request_access over the in-memory fakes: every path ends in credentials only when it should."""

from __future__ import annotations

import dataclasses
import json

import pytest

from agent_zero.adapters.memory import (
    ScriptedReviewer,
)
from agent_zero.broker.access import AccessCommand, catalog_view, request_access
from agent_zero.broker.guardrails import GuardrailLimits
from agent_zero.broker.ports import ReviewInput
from agent_zero.domain.audit import AuditEvent, verify_chain
from agent_zero.domain.catalog import Catalog
from agent_zero.domain.errors import InvalidInputError, ReviewerUnavailableError, UnavailableError
from agent_zero.domain.outcomes import OutcomeStatus, ViolationCode
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision
from agent_zero.domain.requests import RequestState
from support.bank import DYNAMODB_ROLE, bank_entries, table_arn
from support.broker_world import APPROVE_READ, REASON, World


@pytest.fixture
def world(
    customer: Principal, staff: Principal, admin: Principal, support_agent: Principal
) -> World:
    return World([customer, staff, admin, support_agent], ScriptedReviewer(APPROVE_READ))


def test_an_approved_request_mints_one_scoped_session_with_a_complete_audit_trail(
    world: World, customer: Principal
) -> None:
    result = world.ask(customer.id)
    assert result.credentials is not None
    assert result.record.state is RequestState.APPROVED
    assert result.outcome.status is OutcomeStatus.APPROVED
    assert result.outcome.policy_version == 3
    [minted] = world.minter.minted
    assert minted.role_arn == DYNAMODB_ROLE
    assert minted.session_name == result.record.request_id
    assert minted.source_identity == customer.id
    assert minted.tags["agent-zero-request-id"] == result.record.request_id
    assert minted.tags["agent-zero-principal-kind"] == "human"
    statement = json.loads(minted.session_policy)["Statement"][0]
    assert statement["Resource"] == table_arn("Accounts")
    assert statement["Condition"]["ForAllValues:StringEquals"] == {
        "dynamodb:LeadingKeys": ["c-1001"]
    }
    assert world.events() == [
        AuditEvent.RECEIVED,
        AuditEvent.REVIEWED,
        AuditEvent.MINTING,
        AuditEvent.ISSUED,
    ]
    assert verify_chain(list(world.audit.records())) == []
    assert result.record.session is not None
    assert result.record.session.access_key_id == result.credentials.access_key_id
    # The secret never reaches the audit log or the stored record.
    secret = result.credentials.secret_access_key.get_secret_value()
    assert secret not in repr(world.audit.records())
    assert secret not in result.record.model_dump_json()
    assert secret not in repr(result.credentials)


def test_the_reviewer_sees_the_reason_as_data_and_only_grantable_resources(
    world: World, support_agent: Principal
) -> None:
    world.ask(support_agent.id, reason="Customer c-1001 asks about a card payment.")
    [seen] = world.reviewer.seen
    assert seen.reason == "Customer c-1001 asks about a card payment."
    keys = {entry.key for entry in seen.catalog}
    assert "policy-store" not in keys  # broker-internal, admins only
    assert "statements-archive" not in keys  # critical, above an agent's ceiling
    assert "accounts" in keys


def test_a_principal_without_a_policy_is_denied_without_asking_the_reviewer(
    customer: Principal,
) -> None:
    nopolicy = customer.model_copy(update={"id": "nopolicy"})
    world = World([nopolicy], ScriptedReviewer(APPROVE_READ))
    result = world.ask("nopolicy")
    assert result.outcome.status is OutcomeStatus.DENIED
    assert result.outcome.reasons == ("The principal has no access policy.",)
    assert world.reviewer.seen == []
    assert world.minter.minted == []


@pytest.mark.parametrize(
    ("principal_id", "reason"),
    [("stranger", "The principal is unknown or disabled.")],
)
def test_unknown_principals_are_denied(world: World, principal_id: str, reason: str) -> None:
    result = world.ask(principal_id)
    assert result.outcome.reasons == (reason,)
    assert world.minter.minted == []


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001, "read\x00balance", "hi\u202ethere"])
def test_bad_reasons_are_refused_before_anything_is_stored(
    world: World, customer: Principal, reason: str
) -> None:
    with pytest.raises(InvalidInputError):
        world.ask(customer.id, reason=reason)
    assert world.requests.list() == []
    assert world.audit.records() == []


def test_a_reviewer_failure_denies_or_waits_for_a_person(
    customer: Principal,
) -> None:
    failing = ScriptedReviewer(ReviewerUnavailableError("model timed out"))
    world = World([customer], failing)
    assert world.ask(customer.id).outcome.status is OutcomeStatus.DENIED
    waiting = World([customer], ScriptedReviewer(ReviewerUnavailableError("down")))
    waiting.broker = dataclasses.replace(waiting.broker, escalate_when_reviewer_fails=True)
    assert waiting.ask(customer.id).outcome.status is OutcomeStatus.PENDING
    assert world.minter.minted == waiting.minter.minted == []


def approve(key: str, *actions: str, duration: int = 900) -> Proposal:
    grant = Grant(resource_key=key, actions=actions)
    return Proposal(decision=ProposalDecision.APPROVE, grants=(grant,), duration_seconds=duration)


@pytest.mark.parametrize(
    ("proposal", "code"),
    [
        (approve("accounts", "dynamodb:Scan"), ViolationCode.UNSCOPABLE_ACTION),
        (approve("vault", "dynamodb:GetItem"), ViolationCode.UNKNOWN_RESOURCE),
        (approve("accounts", "dynamodb:*"), ViolationCode.WILDCARD_ACTION),
        (approve("accounts", "dynamodb:GetItem", duration=43_200), ViolationCode.DURATION_TOO_LONG),
        (approve("policy-store", "broker:WritePolicy"), ViolationCode.BROKER_RESOURCE_NOT_ALLOWED),
        (
            approve("transactions-by-date", "dynamodb:Query"),
            ViolationCode.INDEX_OF_ROW_SCOPED_TABLE,
        ),
    ],
)
def test_hostile_proposals_end_in_denial_with_the_broken_rule(
    customer: Principal, proposal: Proposal, code: ViolationCode
) -> None:
    world = World([customer], ScriptedReviewer(proposal))
    result = world.ask(customer.id)
    assert result.outcome.status is OutcomeStatus.DENIED
    assert code in {v.code for v in result.outcome.violations}
    assert world.minter.minted == []
    assert result.credentials is None


def test_escalations_and_critical_resources_wait_for_a_person(
    customer: Principal, admin: Principal
) -> None:
    escalate = World(
        [customer],
        ScriptedReviewer(APPROVE_READ.model_copy(update={"decision": ProposalDecision.ESCALATE})),
    )
    assert escalate.ask(customer.id).record.state is RequestState.PENDING
    archive = Grant(resource_key="statements-archive", actions=("s3:GetObject",))
    critical = World(
        [admin], ScriptedReviewer(Proposal(decision=ProposalDecision.APPROVE, grants=(archive,)))
    )
    result = critical.ask(admin.id)
    assert result.record.state is RequestState.PENDING
    assert result.outcome.grants == (archive,)
    assert escalate.minter.minted == critical.minter.minted == []


def test_the_reviewer_saying_no_is_final(world: World, customer: Principal) -> None:
    world.reviewer.script = Proposal(decision=ProposalDecision.DENY, rationale="Not a fit.")
    result = world.ask(customer.id)
    assert result.outcome.reasons == ("Not a fit.",)
    assert world.minter.minted == []


def test_no_credentials_without_the_write_ahead_record(world: World, customer: Principal) -> None:
    world.audit.fail_on = {AuditEvent.MINTING}
    with pytest.raises(UnavailableError):
        world.ask(customer.id)
    assert world.minter.minted == []


def test_a_minting_failure_is_recorded_and_reported(world: World, customer: Principal) -> None:
    world.minter.failure = UnavailableError("STS said no")
    with pytest.raises(UnavailableError, match="nothing was granted"):
        world.ask(customer.id)
    assert world.events()[-2:] == [AuditEvent.MINTING, AuditEvent.MINT_FAILED]
    [record] = world.requests.list()
    assert record.state is RequestState.FAILED


def test_a_retried_request_returns_the_first_outcome_and_no_second_credential(
    world: World, customer: Principal
) -> None:
    first = world.ask(customer.id, client_request_id="retry-1")
    again = world.ask(customer.id, client_request_id="retry-1")
    assert first.credentials is not None
    assert again.credentials is None
    assert again.record.request_id == first.record.request_id
    assert again.outcome == first.outcome
    assert len(world.minter.minted) == 1
    other = world.ask(customer.id, client_request_id="retry-2")
    assert other.record.request_id != first.record.request_id


def test_an_agent_acting_for_a_person_is_recorded_and_tagged(
    world: World, customer: Principal, support_agent: Principal
) -> None:
    result = world.ask(customer.id, acting_agent_id=support_agent.id)
    assert world.minter.minted[0].tags["agent-zero-acting-agent"] == support_agent.id
    received = world.audit.records(request_id=result.record.request_id)[0]
    assert received.details["acting_agent"] == support_agent.id
    assert world.ask(customer.id, acting_agent_id="ghost-agent").outcome.reasons == (
        "The acting agent is unknown or disabled.",
    )


def test_the_catalog_view_offers_only_what_the_rules_would_grant(
    staff: Principal, customer: Principal
) -> None:
    catalog = Catalog(entries=tuple(bank_entries()))
    for_staff = {entry.key: entry for entry in catalog_view(catalog, staff, GuardrailLimits())}
    for_customer = {e.key: e for e in catalog_view(catalog, customer, GuardrailLimits())}
    for view in (for_staff, for_customer):
        assert "transactions-by-date" not in view  # never an index of a row-scoped table
        assert "policy-store" not in view  # admins only
    # Scan stays on the unscoped products table; keyed actions only where rows are scoped.
    assert "dynamodb:Scan" in for_customer["products"].allowed_actions
    assert "dynamodb:Scan" in for_staff["fraud-cases"].allowed_actions
    assert (
        "fraud-cases" not in for_customer
        or "dynamodb:Scan" in for_customer["fraud-cases"].allowed_actions
    )
    assert for_customer["accounts"].allowed_actions == frozenset(
        {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"}
    )


def test_review_input_carries_the_policy_version_text(world: World, customer: Principal) -> None:
    world.ask(customer.id)
    seen: ReviewInput = world.reviewer.seen[0]
    assert seen.policy.version == 3
    assert seen.principal.id == customer.id


def test_an_issue_that_cannot_be_recorded_is_withdrawn(world: World, customer: Principal) -> None:
    world.audit.fail_on = {AuditEvent.ISSUED}
    with pytest.raises(UnavailableError, match="could not be recorded"):
        world.ask(customer.id)
    [minted] = world.minter.minted
    # The credentials never left the broker, and the session they belong to is denied.
    assert world.revoker.revoked == [(minted.role_arn, minted.session_name)]
    [record] = world.requests.list()
    assert record.state is RequestState.FAILED


@pytest.mark.parametrize(
    ("principal_id", "agent", "verified_by", "allowed"),
    [
        ("alice", None, "cognito", True),
        ("support-agent", None, "cognito", False),  # a user token named like an agent
        ("support-agent", None, "sigv4", True),
        ("alice", None, "sigv4", False),  # a bare agent key cannot be a person
        ("alice", "support-agent", "sigv4", True),
        ("alice", "sam", "sigv4", False),  # only agents act for people
    ],
)
def test_the_principal_kind_must_fit_how_the_identity_was_proven(
    world: World, principal_id: str, agent: str | None, verified_by: str, allowed: bool
) -> None:
    world.broker.directory.put(
        Principal(id="sam", kind=PrincipalKind.HUMAN, display_name="Sam", groups=frozenset())
    )
    result = request_access(
        world.broker,
        AccessCommand(
            principal_id=principal_id, reason=REASON, acting_agent_id=agent, verified_by=verified_by
        ),
    )
    assert (result.credentials is not None) is allowed


def test_an_agent_acting_for_staff_gets_no_console_link(
    world: World, staff: Principal, support_agent: Principal
) -> None:
    class Console:
        def url_for(self, credentials: object) -> str:
            return "https://console.example/secret-link"

    world.broker = dataclasses.replace(world.broker, console=Console())
    own = world.ask(staff.id, console=True)
    assert own.console_url == "https://console.example/secret-link"
    for_them = world.ask(staff.id, console=True, acting_agent_id=support_agent.id)
    assert for_them.credentials is not None
    assert for_them.console_url is None
