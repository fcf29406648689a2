"""The broker API over HTTP semantics (in-process ASGI), with fake identities and fake AWS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from agent_zero.adapters.memory import ScriptedReviewer
from agent_zero.domain.errors import AuthenticationError
from agent_zero.domain.principals import Principal
from agent_zero.domain.proposals import ProposalDecision
from agent_zero.sandbox.sigv4 import HttpRequest
from agent_zero.web.api import RateLimiter, create_app
from support.broker_world import APPROVE_READ, READ_OWN, World


@dataclass(frozen=True)
class Identity:
    principal_id: str
    acting_agent_id: str | None = None
    method: str = "test-token"


class TokenAuthenticator:
    """'Bearer <principal>' or 'Bearer <agent>:for:<principal>': a stand-in for verified tokens."""

    def authenticate(self, request: HttpRequest) -> Identity:
        value = request.headers.get("authorization", "")
        if not value.startswith("Bearer ") or len(value) < 8:
            raise AuthenticationError("a bearer token is required")
        agent, _, principal = value[7:].partition(":for:")
        return Identity(principal, agent) if principal else Identity(agent)


def client_for(world: World, **kw: object) -> TestClient:
    return TestClient(create_app(world.broker, TokenAuthenticator(), **kw))  # type: ignore[arg-type]


def auth(principal: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {principal}"}


@pytest.fixture
def world(customer: Principal, admin: Principal, support_agent: Principal) -> World:
    return World([customer, admin, support_agent], ScriptedReviewer(APPROVE_READ))


def test_an_approved_request_returns_credentials_once_with_the_policy(
    world: World, customer: Principal
) -> None:
    with client_for(world) as client:
        answer = client.post(
            "/v1/access-requests", json={"reason": "my balance"}, headers=auth(customer.id)
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] == "approved"
        assert body["credentials"]["access_key_id"].startswith("ASIA")
        assert body["credentials"]["secret_access_key"]
        assert '"dynamodb:LeadingKeys":["c-1001"]' in body["session_policy"]
        assert answer.headers["cache-control"] == "no-store"
        again = client.get(f"/v1/access-requests/{body['request_id']}", headers=auth(customer.id))
        assert again.status_code == 200
        assert "credentials" not in again.json()  # only the response that minted them


def test_identity_comes_only_from_the_verified_caller(world: World, customer: Principal) -> None:
    with client_for(world) as client:
        assert client.post("/v1/access-requests", json={"reason": "x"}).status_code == 401
        for smuggled in (
            {"reason": "x", "principal_id": "ada"},
            {"reason": "x", "resource_key": "accounts"},
            {"reason": "x", "actions": ["dynamodb:Scan"]},
            {"reason": "x", "is_staff": True},
        ):
            answer = client.post("/v1/access-requests", json=smuggled, headers=auth(customer.id))
            assert answer.status_code == 400
            assert answer.json()["error"] == "invalid_input"
    assert world.minter.minted == []


@pytest.mark.parametrize(
    ("body", "status"),
    [({"reason": ""}, 400), ({"reason": "x" * 2001}, 400), ({"reason": "a\x00b"}, 400)],
)
def test_bad_reasons_are_400(
    world: World, customer: Principal, body: dict[str, str], status: int
) -> None:
    with client_for(world) as client:
        answer = client.post("/v1/access-requests", json=body, headers=auth(customer.id))
    assert answer.status_code == status
    assert set(answer.json()) == {"error", "message"}


def test_denials_are_403_with_reasons(customer: Principal) -> None:
    world = World(
        [customer],
        ScriptedReviewer(
            APPROVE_READ.model_copy(update={"decision": ProposalDecision.DENY, "rationale": "No."})
        ),
    )
    with client_for(world) as client:
        answer = client.post("/v1/access-requests", json={"reason": "x"}, headers=auth(customer.id))
    assert answer.status_code == 403
    assert answer.json()["reasons"] == ["No."]
    assert "credentials" not in answer.json()


def test_a_person_approves_and_the_requester_collects(
    customer: Principal, admin: Principal
) -> None:
    escalate = APPROVE_READ.model_copy(update={"decision": ProposalDecision.ESCALATE})
    world = World([customer, admin], ScriptedReviewer(escalate))
    with client_for(world) as client:
        pending = client.post(
            "/v1/access-requests", json={"reason": "x"}, headers=auth(customer.id)
        )
        assert pending.status_code == 202
        request_id = pending.json()["request_id"]
        queue = client.get("/v1/access-requests?status=pending", headers=auth(admin.id)).json()
        assert [r["request_id"] for r in queue["requests"]] == [request_id]
        mine = client.get("/v1/access-requests", headers=auth(customer.id)).json()
        assert [r["request_id"] for r in mine["requests"]] == [request_id]
        grant = {"resource_key": READ_OWN.resource_key, "actions": list(READ_OWN.actions)}
        own = client.post(
            f"/v1/access-requests/{request_id}/approve",
            json={"grants": [grant], "duration_seconds": 900},
            headers=auth(customer.id),
        )
        assert own.status_code == 403
        approved = client.post(
            f"/v1/access-requests/{request_id}/approve",
            json={"grants": [grant], "duration_seconds": 900},
            headers=auth(admin.id),
        )
        assert approved.status_code == 200
        as_admin = client.get(f"/v1/access-requests/{request_id}", headers=auth(admin.id))
        assert "credentials" not in as_admin.json()
        collected = client.get(f"/v1/access-requests/{request_id}", headers=auth(customer.id))
        assert collected.status_code == 200
        assert collected.json()["credentials"]["access_key_id"]
        second = client.get(f"/v1/access-requests/{request_id}", headers=auth(customer.id))
        assert second.status_code == 409
        revoked = client.post(f"/v1/grants/{request_id}/revoke", headers=auth(customer.id))
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"]
    assert len(world.minter.minted) == 1
    assert len(world.revoker.revoked) == 1


def test_other_peoples_requests_do_not_exist(
    world: World, customer: Principal, support_agent: Principal
) -> None:
    with client_for(world) as client:
        made = client.post("/v1/access-requests", json={"reason": "x"}, headers=auth(customer.id))
        request_id = made.json()["request_id"]
        answer = client.get(f"/v1/access-requests/{request_id}", headers=auth(support_agent.id))
        assert answer.status_code == 404
        assert (
            client.post(
                f"/v1/grants/{request_id}/revoke", headers=auth(support_agent.id)
            ).status_code
            == 404
        )


def test_an_agent_acting_for_a_person_is_recorded(
    world: World, customer: Principal, support_agent: Principal
) -> None:
    with client_for(world) as client:
        answer = client.post(
            "/v1/access-requests",
            json={"reason": "customer asks about rent"},
            headers=auth(f"{support_agent.id}:for:{customer.id}"),
        )
    assert answer.json()["principal_id"] == customer.id
    assert answer.json()["acting_agent_id"] == support_agent.id
    received = world.audit.records(request_id=answer.json()["request_id"])[0]
    assert received.details["verified_by"] == "test-token"
    assert received.details["reason"] == "customer asks about rent"


def test_retries_with_an_idempotency_key_get_the_first_outcome(
    world: World, customer: Principal
) -> None:
    with client_for(world) as client:
        headers = {**auth(customer.id), "Idempotency-Key": "k-1"}
        first = client.post("/v1/access-requests", json={"reason": "x"}, headers=headers)
        second = client.post("/v1/access-requests", json={"reason": "x"}, headers=headers)
    assert first.json()["request_id"] == second.json()["request_id"]
    assert "credentials" in first.json()
    assert "credentials" not in second.json()
    assert len(world.minter.minted) == 1


def test_rate_limits_and_body_limits(world: World, customer: Principal) -> None:
    with client_for(world, limiter=RateLimiter(per_minute=1, burst=2)) as client:
        codes = [
            client.post(
                "/v1/access-requests", json={"reason": "x"}, headers=auth(customer.id)
            ).status_code
            for _ in range(3)
        ]
        assert codes[-1] == 429
        big = client.post(
            "/v1/access-requests",
            content=b'{"reason": "' + b"x" * 70_000 + b'"}',
            headers={**auth(customer.id), "Content-Type": "application/json"},
        )
        assert big.status_code == 413


def test_a_broken_authenticator_fails_closed(world: World, customer: Principal) -> None:
    class Broken:
        def authenticate(self, request: HttpRequest) -> Identity:
            raise RuntimeError("bug")

    with TestClient(create_app(world.broker, Broken())) as client:  # type: ignore[arg-type]
        answer = client.post("/v1/access-requests", json={"reason": "x"}, headers=auth(customer.id))
    assert answer.status_code == 401
    assert world.minter.minted == []


def test_admin_endpoints_read_for_admins_and_write_only_with_a_grant(
    world: World, customer: Principal, admin: Principal
) -> None:
    with client_for(world) as client:
        client.post("/v1/access-requests", json={"reason": "x"}, headers=auth(customer.id))
        audit = client.get("/v1/admin/audit?limit=2", headers=auth(admin.id))
        assert audit.status_code == 200
        assert len(audit.json()["records"]) == 2
        assert client.get("/v1/admin/audit", headers=auth(customer.id)).status_code == 403
        verified = client.get("/v1/admin/audit/verify", headers=auth(admin.id)).json()
        assert verified == {"verified": True, "problems": []}
        history = client.get(f"/v1/admin/policies/{customer.id}", headers=auth(admin.id)).json()
        assert history["current"]["version"] == 3
        write = client.put(
            f"/v1/admin/policies/{customer.id}",
            json={"text": "Read own accounts.", "expected_version": 3},
            headers=auth(admin.id),
        )
        assert write.status_code == 403
        assert "grant" in write.json()["message"]
        catalog = client.get("/v1/admin/catalog", headers=auth(admin.id)).json()
        assert "accounts" in {entry["key"] for entry in catalog["entries"]}


def test_an_agent_acting_for_an_admin_cannot_decide_or_administer(
    customer: Principal, admin: Principal, support_agent: Principal
) -> None:
    escalate = APPROVE_READ.model_copy(update={"decision": ProposalDecision.ESCALATE})
    world = World([customer, admin, support_agent], ScriptedReviewer(escalate))
    grant = {"resource_key": READ_OWN.resource_key, "actions": list(READ_OWN.actions)}
    with client_for(world) as client:
        pending = client.post(
            "/v1/access-requests", json={"reason": "x"}, headers=auth(support_agent.id)
        )
        request_id = pending.json()["request_id"]
        as_admin = auth(f"{support_agent.id}:for:{admin.id}")
        approve = client.post(
            f"/v1/access-requests/{request_id}/approve",
            json={"grants": [grant], "duration_seconds": 900},
            headers=as_admin,
        )
        assert approve.status_code == 403
        assert "a person decides" in approve.json()["message"]
        assert client.get("/v1/admin/audit", headers=as_admin).status_code == 403
        # Policies only under a grant the agent itself requested for the admin (none here).
        policy = f"/v1/admin/policies/{customer.id}"
        assert client.get(policy, headers=as_admin).status_code == 403
        write = client.put(policy, json={"text": "x", "expected_version": 3}, headers=as_admin)
        assert write.status_code == 403
        assert "grant" in write.json()["message"]
    assert world.requests.get(request_id).state.value == "pending"  # type: ignore[union-attr]


def test_a_streamed_body_is_cut_off_at_the_limit(world: World, customer: Principal) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"reason": "'
        for _ in range(40):
            yield b"x" * 4096
        yield b'"}'

    with client_for(world) as client:
        answer = client.post(
            "/v1/access-requests",
            content=chunks(),
            headers={**auth(customer.id), "Content-Type": "application/json"},
        )
    assert answer.status_code == 413
    assert world.requests.list() == []


@pytest.mark.parametrize("key", ["x" * 200, "has space", "bad/slash"])
def test_a_malformed_idempotency_key_is_a_400(world: World, customer: Principal, key: str) -> None:
    with client_for(world) as client:
        answer = client.post(
            "/v1/access-requests",
            json={"reason": "x"},
            headers={**auth(customer.id), "Idempotency-Key": key},
        )
    assert answer.status_code == 400


def test_an_agent_acting_for_an_admin_cannot_revoke_someone_elses_grant(
    world: World, customer: Principal, admin: Principal, support_agent: Principal
) -> None:
    with client_for(world) as client:
        made = client.post("/v1/access-requests", json={"reason": "x"}, headers=auth(customer.id))
        request_id = made.json()["request_id"]
        as_admin = auth(f"{support_agent.id}:for:{admin.id}")
        refused = client.post(f"/v1/grants/{request_id}/revoke", headers=as_admin)
        assert refused.status_code == 404
        assert world.revoker.revoked == []
        # Acting for the customer who holds the grant, the agent may end it.
        as_customer = auth(f"{support_agent.id}:for:{customer.id}")
        ended = client.post(f"/v1/grants/{request_id}/revoke", headers=as_customer)
        assert ended.status_code == 200
    assert len(world.revoker.revoked) == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"reason": "my bal',  # truncated
        b"reason=my+balance",  # not JSON at all
        b'{"reason": "caf\xe9"}',  # not UTF-8
        b'{"reason": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",  # deeper than the parser goes
    ],
)
def test_a_body_that_is_not_json_is_a_400_in_the_apis_own_shape(
    world: World, customer: Principal, body: bytes
) -> None:
    with client_for(world) as client:
        answer = client.post(
            "/v1/access-requests",
            content=body,
            headers={**auth(customer.id), "Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_input",
        "message": "the request body is not valid JSON",
    }
    assert world.requests.list() == []


def test_unknown_routes_and_methods_answer_in_the_apis_own_shape(world: World) -> None:
    with client_for(world) as client:
        missing = client.get("/v1/no-such-thing")
        wrong_method = client.delete("/v1/access-requests")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "Not Found"}
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "method_not_allowed", "message": "Method Not Allowed"}
    assert "POST" in wrong_method.headers["allow"]


@pytest.mark.parametrize("username", ["\u0430lice", "alice ", "alice\u200b", "\uff41lice", ""])
def test_a_verified_name_that_cannot_be_a_principal_is_refused_not_a_500(
    world: World, username: str
) -> None:
    with client_for(world) as client:
        answer = client.post(
            "/v1/access-requests",
            json={"reason": "my balance"},
            headers={"Authorization": f"Bearer {username}:for:".encode()},  # as sent: UTF-8
        )
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "unauthenticated",
        "message": "the verified user name cannot be a principal of the broker",
    }
    assert world.requests.list() == []
