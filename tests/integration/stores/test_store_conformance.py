"""The store ports' contracts, checked against every backend (in-memory and SQLite)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone

import pytest

from agent_zero.broker.ports import AuditLog, PolicyStore, PrincipalDirectory, RequestStore
from agent_zero.domain.audit import GENESIS_HASH, AuditEvent, AuditValue, verify_chain
from agent_zero.domain.credentials import IssuedSession
from agent_zero.domain.errors import ConflictError, UnavailableError
from agent_zero.domain.outcomes import Outcome, OutcomeStatus
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.domain.proposals import Grant, Proposal, ProposalDecision, Risk
from agent_zero.domain.requests import AccessRequest, RequestRecord, RequestState

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
THREADS = 8


def principal(principal_id: str, *, name: str = "Someone") -> Principal:
    return Principal(
        id=principal_id,
        kind=PrincipalKind.HUMAN,
        display_name=name,
        groups=frozenset({"customers", "staff"}),
        attributes={"customer_key": "c-1001"},
    )


def request_record(
    request_id: str,
    *,
    principal_id: str = "alice",
    at: datetime = T0,
    client_request_id: str | None = None,
    state: RequestState = RequestState.RECEIVED,
) -> RequestRecord:
    return RequestRecord(
        request=AccessRequest(
            request_id=request_id,
            principal_id=principal_id,
            reason="I want to check my balance.",
            received_at=at,
            client_request_id=client_request_id,
        ),
        state=state,
    )


def decided(record: RequestRecord) -> RequestRecord:
    """The record one step on, approved with everything a decision carries."""
    grant = Grant(resource_key="accounts", actions=("dynamodb:GetItem", "dynamodb:Query"))
    return record.model_copy(
        update={
            "state": RequestState.APPROVED,
            "revision": record.revision + 1,
            "policy_version": 3,
            "proposal": Proposal(decision=ProposalDecision.APPROVE, grants=(grant,)),
            "outcome": Outcome(
                request_id=record.request_id,
                principal_id=record.request.principal_id,
                status=OutcomeStatus.APPROVED,
                grants=(grant,),
                duration_seconds=900,
                expires_at=T0 + timedelta(minutes=15),
                risk=Risk.LOW,
                reasons=("within policy",),
            ),
            "session": IssuedSession(
                request_id=record.request_id,
                principal_id=record.request.principal_id,
                access_key_id="ASIAEXAMPLE0000001",
                role_arn="arn:aws:iam::123456789012:role/bank-reader",
                session_name=record.request_id,
                source_identity=record.request.principal_id,
                issued_at=T0,
                expires_at=T0 + timedelta(minutes=15),
            ),
            "updated_at": T0 + timedelta(seconds=5),
        }
    )


# --- the principal directory -------------------------------------------------------------


def test_a_principal_is_stored_whole_and_unknown_ones_are_none(
    directory: PrincipalDirectory,
) -> None:
    alice = principal("alice")
    directory.put(alice)
    assert directory.get("alice") == alice
    assert directory.get("nobody") is None


def test_put_replaces_and_list_is_ordered_by_id(directory: PrincipalDirectory) -> None:
    for principal_id in ["carol", "alice", "bob"]:
        directory.put(principal(principal_id))
    renamed = principal("alice", name="Alice Again").model_copy(update={"enabled": False})
    directory.put(renamed)
    assert [p.id for p in directory.list()] == ["alice", "bob", "carol"]
    assert directory.get("alice") == renamed


# --- the policy store ---------------------------------------------------------------------


def test_policies_are_numbered_versions_kept_oldest_first(policy_store: PolicyStore) -> None:
    assert policy_store.current("alice") is None
    assert list(policy_store.history("alice")) == []
    first = policy_store.write("alice", text="One.", author_id="ada", at=T0, expected_version=0)
    later = T0 + timedelta(hours=1)
    second = policy_store.write("alice", text="Two.", author_id="sam", at=later, expected_version=1)
    policy_store.write("bob", text="Bob's.", author_id="ada", at=T0, expected_version=0)
    assert (first.version, second.version) == (1, 2)
    assert (second.text, second.author_id, second.created_at) == ("Two.", "sam", later)
    assert policy_store.current("alice") == second
    assert list(policy_store.history("alice")) == [first, second]
    assert [p.version for p in policy_store.history("bob")] == [1]


@pytest.mark.parametrize("stale", [0, 1, 3])
def test_a_write_over_the_wrong_version_conflicts_and_changes_nothing(
    policy_store: PolicyStore, stale: int
) -> None:
    policy_store.write("alice", text="One.", author_id="ada", at=T0, expected_version=0)
    policy_store.write("alice", text="Two.", author_id="ada", at=T0, expected_version=1)
    with pytest.raises(ConflictError):
        policy_store.write("alice", text="Lost.", author_id="sam", at=T0, expected_version=stale)
    assert [p.text for p in policy_store.history("alice")] == ["One.", "Two."]


def test_concurrent_policy_writers_leave_exactly_one_winner_per_version(
    policy_store: PolicyStore,
) -> None:
    rounds = 5
    start_together = threading.Barrier(THREADS)

    def writer(number: int) -> list[int]:
        won: list[int] = []
        for version in range(rounds):
            start_together.wait(timeout=10)  # every writer read the same version
            try:
                policy_store.write(
                    "alice",
                    text=f"Written by writer {number}.",
                    author_id=f"writer-{number}",
                    at=T0,
                    expected_version=version,
                )
            except ConflictError:
                continue
            won.append(version + 1)
        return won

    with ThreadPoolExecutor(THREADS) as pool:
        wins = dict(enumerate(pool.map(writer, range(THREADS))))
    winners = {version: number for number, versions in wins.items() for version in versions}
    assert sorted(winners) == list(range(1, rounds + 1))
    assert sum(len(versions) for versions in wins.values()) == rounds
    history = policy_store.history("alice")
    assert [p.version for p in history] == list(range(1, rounds + 1))
    assert [p.author_id for p in history] == [f"writer-{winners[p.version]}" for p in history]


# --- the request store --------------------------------------------------------------------


def test_a_request_is_stored_whole_and_unknown_ones_are_none(request_store: RequestStore) -> None:
    record = request_record("req-000001", client_request_id="client-1")
    assert request_store.create(record) == record
    assert request_store.get("req-000001") == record
    assert request_store.get("req-999999") is None


def test_replace_is_compare_and_set_on_the_revision(request_store: RequestStore) -> None:
    record = request_store.create(request_record("req-000001"))
    approved = decided(record)
    assert request_store.replace(approved) == approved
    assert request_store.get("req-000001") == approved
    with pytest.raises(ConflictError):
        request_store.replace(decided(record))  # written over revision 1, which is gone
    with pytest.raises(ConflictError):
        request_store.replace(decided(decided(approved)))  # skips revision 3
    assert request_store.get("req-000001") == approved


def test_replacing_an_unknown_request_conflicts(request_store: RequestStore) -> None:
    with pytest.raises(ConflictError):
        request_store.replace(decided(request_record("req-000001")))
    assert request_store.get("req-000001") is None


def test_a_second_request_with_the_same_id_conflicts(request_store: RequestStore) -> None:
    first = request_store.create(request_record("req-000001"))
    with pytest.raises(ConflictError):
        request_store.create(request_record("req-000001", principal_id="bob"))
    assert request_store.get("req-000001") == first


def test_a_retried_create_returns_the_first_record_of_that_principal_only(
    request_store: RequestStore,
) -> None:
    first = request_store.create(request_record("req-000001", client_request_id="retry-1"))
    retry = request_record("req-000002", client_request_id="retry-1", at=T0 + timedelta(seconds=1))
    assert request_store.create(retry) == first
    assert request_store.get("req-000002") is None
    bobs = request_record("req-000003", principal_id="bob", client_request_id="retry-1")
    assert request_store.create(bobs) == bobs
    approved = request_store.replace(decided(first))
    assert request_store.create(retry) == approved  # the record as it is now
    assert [r.request_id for r in request_store.list()] == ["req-000001", "req-000003"]


def test_requests_without_a_client_request_id_are_never_merged(
    request_store: RequestStore,
) -> None:
    request_store.create(request_record("req-000001"))
    request_store.create(request_record("req-000002"))
    assert len(request_store.list()) == 2


def test_concurrent_retries_create_one_request(request_store: RequestStore) -> None:
    start_together = threading.Barrier(THREADS)

    def create(number: int) -> RequestRecord:
        start_together.wait(timeout=10)
        return request_store.create(
            request_record(f"req-retry-{number:04d}", client_request_id="same-retry")
        )

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(create, range(THREADS)))
    assert len({r.request_id for r in results}) == 1
    assert list(request_store.list()) == [results[0]]


def test_list_is_newest_first_and_filters_by_state_and_principal(
    request_store: RequestStore,
) -> None:
    paris = timezone(timedelta(hours=1))
    for request_id, principal_id, at, state in [
        ("req-000001", "alice", T0, RequestState.PENDING),
        ("req-000002", "bob", T0 + timedelta(minutes=2), RequestState.PENDING),
        ("req-000003", "alice", T0 + timedelta(minutes=1), RequestState.DENIED),
        # 12:30 in Paris is 11:30 UTC: the oldest, whatever its wall-clock digits say.
        ("req-000004", "alice", datetime(2026, 11, 25, 12, 30, tzinfo=paris), RequestState.PENDING),
    ]:
        request_store.create(
            request_record(request_id, principal_id=principal_id, at=at, state=state)
        )

    def ids(records: Sequence[RequestRecord]) -> list[str]:
        return [r.request_id for r in records]

    assert ids(request_store.list()) == ["req-000002", "req-000003", "req-000001", "req-000004"]
    pending = request_store.list(state=RequestState.PENDING)
    assert ids(pending) == ["req-000002", "req-000001", "req-000004"]
    assert ids(request_store.list(principal_id="alice")) == [
        "req-000003",
        "req-000001",
        "req-000004",
    ]
    both = request_store.list(state=RequestState.PENDING, principal_id="alice")
    assert ids(both) == ["req-000001", "req-000004"]
    assert ids(request_store.list(state=RequestState.APPROVED)) == []
    assert ids(request_store.list(principal_id="nobody")) == []


def test_list_follows_the_state_a_replacement_sets(request_store: RequestStore) -> None:
    record = request_store.create(request_record("req-000001", state=RequestState.PENDING))
    request_store.replace(decided(record))
    assert list(request_store.list(state=RequestState.PENDING)) == []
    assert [r.revision for r in request_store.list(state=RequestState.APPROVED)] == [2]


# --- the audit log ------------------------------------------------------------------------


def test_appends_are_chained_kept_in_order_and_filterable_by_request(audit_log: AuditLog) -> None:
    details: dict[str, AuditValue] = {
        "grants": ("accounts", "cards"),
        "duration": 900,
        "human": True,
        "note": None,
    }
    first = audit_log.append(
        AuditEvent.RECEIVED, at=T0, request_id="req-000001", principal_id="alice", details={}
    )
    second = audit_log.append(
        AuditEvent.POLICY_CHANGED, at=T0, request_id=None, principal_id="ada", details={}
    )
    third = audit_log.append(
        AuditEvent.ISSUED,
        at=T0 + timedelta(seconds=1),
        request_id="req-000001",
        principal_id="alice",
        details=details,
    )
    assert (first.sequence, first.previous_hash) == (1, GENESIS_HASH)
    assert (third.sequence, third.previous_hash) == (3, second.hash)
    assert third.details == details
    assert list(audit_log.records()) == [first, second, third]
    assert list(audit_log.records(request_id="req-000001")) == [first, third]
    assert list(audit_log.records(request_id="req-999999")) == []
    assert verify_chain(list(audit_log.records())) == []


def test_concurrent_appends_make_one_unbroken_chain(audit_log: AuditLog) -> None:
    per_thread = 50
    start_together = threading.Barrier(THREADS)

    def append_many(number: int) -> None:
        start_together.wait(timeout=10)
        for step in range(per_thread):
            audit_log.append(
                AuditEvent.REVIEWED,
                at=T0,
                request_id=f"req-thread-{number}",
                principal_id="alice",
                details={"thread": number, "step": step},
            )

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(append_many, range(THREADS)))
    records = list(audit_log.records())
    assert [r.sequence for r in records] == list(range(1, THREADS * per_thread + 1))
    assert verify_chain(records) == []
    for number in range(THREADS):
        mine = audit_log.records(request_id=f"req-thread-{number}")
        assert [r.details["step"] for r in mine] == list(range(per_thread))


def test_a_failed_append_raises_unavailable_and_stores_nothing(
    audit_log: AuditLog, audit_outage: Callable[[], AbstractContextManager[None]]
) -> None:
    first = audit_log.append(
        AuditEvent.RECEIVED, at=T0, request_id="req-000001", principal_id="alice", details={}
    )
    with audit_outage(), pytest.raises(UnavailableError):
        audit_log.append(
            AuditEvent.MINTING, at=T0, request_id="req-000001", principal_id="alice", details={}
        )
    assert list(audit_log.records()) == [first]
    after = audit_log.append(
        AuditEvent.MINT_FAILED, at=T0, request_id="req-000001", principal_id="alice", details={}
    )
    assert (after.sequence, after.previous_hash) == (2, first.hash)
