"""On-behalf-of abuse: the agent forwarding tokens it should not, and users posing as the agent.

The support agent signs with its IAM key and forwards the signed-in user's access token in
``X-Agent-Zero-On-Behalf-Of``. The broker must verify both, act only for an enabled human
in its directory, never let the agent use a person's administrative powers, and scope what
it mints to that person's rows (the probe checks the minted sessions).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from agent_zero.adapters.sqlite import SqliteDatabase, SqlitePrincipalDirectory
from agent_zero.domain.principals import Principal, PrincipalKind
from agent_zero.wiring import BROKER_DATABASE
from security.conftest import LEGIT_REASON, World
from security.forge import MOTO_KID, claims_of, moto_signing_key, part, signed
from security.signing import sigv4_headers
from security.verdicts import (
    ALICE,
    BEN,
    PRIYA,
    UNAVAILABLE_REVIEWER,
    Denied,
    Expected,
    Minted,
    Refused,
    Who,
    grants,
    passed,
)
from support.model_server import Structured

PATH = "/v1/access-requests"
HEADER = "X-Agent-Zero-On-Behalf-Of"
PASSWORD = "Drifting-Along-2026!"
NOT_A_PERSON = "an agent acting for someone cannot approve, deny or administer; a person decides"


def approve(key: str, *actions: str, duration: int = 900) -> Structured:
    return Structured(
        {
            "decision": "approve",
            "grants": [{"resource_key": key, "actions": list(actions)}],
            "duration_seconds": duration,
            "risk": "low",
            "rationale": "The customer asked in the conversation.",
        }
    )


def body(reason: str = LEGIT_REASON, **extra: Any) -> bytes:
    return json.dumps({"reason": reason, **extra}).encode()


def cognito_user(world: World, username: str) -> str:
    """A user of the broker's own pool (created if new), signed in: their access token."""
    idp = world.stack.running.client("cognito-idp")
    pool = world.stack.record.cognito.user_pool_id
    try:
        idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
        idp.admin_set_user_password(
            UserPoolId=pool, Username=username, Password=PASSWORD, Permanent=True
        )
    except idp.exceptions.UsernameExistsException:
        pass
    public = world.stack.running.client("cognito-idp")
    answer = public.initiate_auth(
        ClientId=world.stack.record.cognito.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    return str(answer["AuthenticationResult"]["AccessToken"])


def disabled_customer(world: World) -> str:
    """A former customer: in Cognito, in the directory, but disabled there."""
    token = cognito_user(world, "former.customer")
    with SqliteDatabase(world.stack.data_dir / BROKER_DATABASE) as database:
        SqlitePrincipalDirectory(database).put(
            Principal(
                id="former.customer",
                kind=PrincipalKind.HUMAN,
                display_name="Former Customer",
                groups=frozenset({"customers"}),
                attributes={"customer_key": "c-1003"},
                enabled=False,
            )
        )
    return token


def another_client(world: World) -> str:
    idp = world.stack.running.client("cognito-idp")
    client = idp.create_user_pool_client(
        UserPoolId=world.stack.record.cognito.user_pool_id,
        ClientName=f"agent-side-door-{time.monotonic_ns()}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return world.tokens("alice.moreau", client_id=client)["AccessToken"]


def expired_alice(world: World) -> str:
    claims = claims_of(world.token("alice.moreau"))
    claims.update(iat=int(time.time()) - 7_200, exp=int(time.time()) - 3_600)
    return signed({"alg": "RS256", "kid": MOTO_KID}, claims, moto_signing_key())


def tampered_alice(world: World) -> str:
    head, _payload, signature = world.token("alice.moreau").split(".")
    claims = claims_of(world.token("alice.moreau")) | {"username": "ben.okafor"}
    return f"{head}.{part(claims)}.{signature}"


def signed_out_alice(world: World) -> str:
    """A token whose web session Alice signed out of (she signed in and out of the web app)."""
    from agent_zero.sandbox.broker_service import WEB_SESSION_KEY_FILE
    from agent_zero.web.session import SESSION_COOKIE, SessionCodec, load_or_create_key
    from e2e.test_web_pages import csrf_of

    with httpx.Client(base_url=world.api, follow_redirects=False, timeout=30) as browser:
        login = csrf_of(browser.get("/login").text)
        password = world.stack.record.user("alice.moreau").password
        answer = browser.post(
            "/login",
            data={"csrf": login, "next": "/", "username": "alice.moreau", "password": password},
        )
        assert answer.status_code == 303, answer.text
        codec = SessionCodec(load_or_create_key(world.stack.data_dir / WEB_SESSION_KEY_FILE))
        session = codec.open(browser.cookies[SESSION_COOKIE])
        assert session is not None
        token = session.access_token.get_secret_value()
        csrf = csrf_of(browser.get("/chat").text)
        assert browser.post("/logout", data={"csrf": csrf}).status_code == 303
    return token


APPROVE_TRANSACTIONS = approve("transactions", "dynamodb:Query")
LEGIT_BODY = body()


@dataclass(frozen=True)
class ForwardCase:
    """The agent signs a request for access forwarding ``token``; ``reply`` scripts the reviewer."""

    id: str
    token: Callable[[World], str]
    expected: Expected
    who: Who = ALICE
    reply: Structured = APPROVE_TRANSACTIONS
    body: bytes = LEGIT_BODY


def refused(message: str) -> Refused:
    return Refused(401, "unauthenticated", message)


FORWARD_CASES = [
    ForwardCase(
        "a-pool-user-the-directory-does-not-know",
        lambda w: cognito_user(w, "drifter.one"),
        Denied(("The principal is unknown or disabled.",)),
    ),
    ForwardCase(
        "a-disabled-principal",
        disabled_customer,
        Denied(("The principal is unknown or disabled.",)),
    ),
    ForwardCase(
        "a-pool-user-named-like-the-agent",
        lambda w: cognito_user(w, "support-assistant"),
        Denied(("The identity was proven in a way this principal cannot use.",)),
    ),
    ForwardCase(
        "an-id-token",
        lambda w: w.tokens("alice.moreau")["IdToken"],
        refused("the token is not an access token"),
    ),
    ForwardCase(
        "a-refresh-token",
        lambda w: w.tokens("alice.moreau")["RefreshToken"],
        refused("the access token is not a JWT"),
    ),
    ForwardCase(
        "a-token-of-another-app-client",
        another_client,
        refused("the access token was issued to another client"),
    ),
    ForwardCase("an-expired-token", expired_alice, refused("the access token has expired")),
    ForwardCase(
        "a-token-altered-to-name-ben",
        tampered_alice,
        refused("the access token signature is invalid"),
    ),
    ForwardCase(
        "a-signed-out-token",
        signed_out_alice,
        refused("the session of this access token was signed out"),
    ),
    ForwardCase("an-empty-token", lambda w: "", refused("the access token is not a JWT")),
    ForwardCase(
        "a-body-that-names-another-principal",
        lambda w: w.token("alice.moreau"),
        Refused(400, "invalid_input", "the request body is not accepted: ['principal_id']"),
        body=body(principal_id="ben.okafor"),
    ),
    ForwardCase(
        "a-body-that-names-the-acting-agent",
        lambda w: w.token("alice.moreau"),
        Refused(400, "invalid_input", "the request body is not accepted: ['acting_agent_id']"),
        body=body(acting_agent_id="nobody"),
    ),
    ForwardCase(
        "a-fooled-reviewer-widens-to-every-customers-rows",
        lambda w: w.token("alice.moreau"),
        Denied((UNAVAILABLE_REVIEWER,)),
        reply=approve("transactions", "dynamodb:Query", "dynamodb:Scan"),
    ),
    # The agent's legitimate use: what it gets is the customer's own rows, nothing more.
    ForwardCase(
        "alices-transactions-through-the-agent",
        lambda w: w.token("alice.moreau"),
        Minted(grants(("transactions", ("dynamodb:Query",)))),
    ),
    ForwardCase(
        "bens-balances-through-the-agent",
        lambda w: w.token("ben.okafor"),
        Minted(grants(("account-balances", ("dynamodb:Query", "dynamodb:GetItem")))),
        who=BEN,
        reply=approve("account-balances", "dynamodb:Query", "dynamodb:GetItem"),
    ),
    ForwardCase(
        "bens-ticket-update-through-the-agent",
        lambda w: w.token("ben.okafor"),
        Minted(grants(("support-tickets", ("dynamodb:Query", "dynamodb:UpdateItem")))),
        who=BEN,
        reply=approve("support-tickets", "dynamodb:Query", "dynamodb:UpdateItem"),
    ),
]


@pytest.mark.parametrize("case", FORWARD_CASES, ids=lambda case: case.id)
def test_what_the_agent_forwards_decides_who_it_acts_for(world: World, case: ForwardCase) -> None:
    reviewer_may_answer = isinstance(case.expected, Minted) or case.expected == Denied(
        (UNAVAILABLE_REVIEWER,)
    )
    world.script(*([case.reply] * 3))
    headers = world.agent_headers("POST", PATH, case.body, on_behalf_of=case.token(world))
    response = world.http.post(world.api + PATH, content=case.body, headers=headers)
    verdict = world.settle("on-behalf-of", case.id, response, case.expected, case.who)
    if world.stack.model.chat_requests and not reviewer_may_answer:
        verdict.problems.append("the reviewer was asked")
    answer = response.json()
    decided = response.status_code in (200, 403) and "request_id" in answer
    if decided and answer.get("acting_agent_id") != "support-assistant":
        verdict.problems.append(f"the agent is not recorded: {answer.get('acting_agent_id')}")
    passed(verdict)


@dataclass(frozen=True)
class HeaderCase:
    """Requests whose headers abuse on-behalf-of; ``build`` returns the headers to send."""

    id: str
    build: Callable[[World, bytes], list[tuple[str, str]]]
    expected: Refused


def signed_agent(world: World, payload: bytes, token: str, **signing: Any) -> dict[str, str]:
    return world.agent_headers("POST", PATH, payload, on_behalf_of=token, **signing)


def swapped_after_signing(world: World, payload: bytes) -> list[tuple[str, str]]:
    headers = signed_agent(world, payload, world.token("alice.moreau"))
    headers["x-agent-zero-on-behalf-of"] = world.token("ben.okafor")
    return list(headers.items())


def header_unsigned(world: World, payload: bytes) -> list[tuple[str, str]]:
    headers = signed_agent(
        world, payload, world.token("ben.okafor"), unsigned=["x-agent-zero-on-behalf-of"]
    )
    return list(headers.items())


def header_twice(world: World, payload: bytes) -> list[tuple[str, str]]:
    headers = signed_agent(world, payload, world.token("alice.moreau"))
    return [*headers.items(), (HEADER, world.token("ben.okafor"))]


def users_bearer_with_header(world: World, payload: bytes) -> list[tuple[str, str]]:
    return [
        ("Content-Type", "application/json"),
        ("Authorization", f"Bearer {world.token('alice.moreau')}"),
        (HEADER, world.token("ben.okafor")),
    ]


def header_alone(world: World, payload: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), (HEADER, world.token("alice.moreau"))]


def user_signs_as_agent(world: World, payload: bytes) -> list[tuple[str, str]]:
    """A user who got hold of a minted session's key signs the call with it."""
    world.script(approve("transactions", "dynamodb:Query"))
    minted = world.request_access(world.bearer("alice.moreau")).json()["credentials"]
    world.stack.model.reset()
    headers = sigv4_headers(
        "POST",
        world.api + PATH,
        body=payload,
        key_id=minted["access_key_id"],
        secret=minted["secret_access_key"],
        session_token=minted["session_token"],
        region="us-east-1",
        service="execute-api",
        headers={"Content-Type": "application/json", HEADER: world.token("ben.okafor")},
    )
    return list(headers.items())


HEADER_CASES = [
    HeaderCase(
        "token-swapped-after-the-agent-signed",
        swapped_after_signing,
        refused("the SigV4 signature does not match"),
    ),
    HeaderCase(
        "header-left-out-of-the-signature",
        header_unsigned,
        refused("a header that must be signed is not signed"),
    ),
    HeaderCase(
        "header-sent-twice",
        header_twice,
        refused("the x-agent-zero-on-behalf-of header may appear only once"),
    ),
    HeaderCase(
        "a-users-bearer-token-with-the-header",
        users_bearer_with_header,
        refused("only a signed agent may act on behalf of a user"),
    ),
    HeaderCase(
        "the-header-without-any-signature",
        header_alone,
        refused("the request carries no Authorization header"),
    ),
    HeaderCase(
        "a-minted-session-key-signs-as-the-agent",
        user_signs_as_agent,
        refused("session credentials are not accepted"),
    ),
]


@pytest.mark.parametrize("case", HEADER_CASES, ids=lambda case: case.id)
def test_a_users_token_needs_the_agents_own_signature(world: World, case: HeaderCase) -> None:
    payload = body()
    headers = case.build(world, payload)
    world.script(approve("transactions", "dynamodb:Query"))
    response = world.http.post(world.api + PATH, content=payload, headers=headers)
    verdict = world.settle("on-behalf-of", case.id, response, case.expected, ALICE)
    if world.stack.model.chat_requests:
        verdict.problems.append("the reviewer was asked")
    passed(verdict)


# --- an agent never borrows a person's administrative powers ----------------------------------


@dataclass(frozen=True)
class Requests:
    """Ben's two requests: one waiting for a person, one approved with live credentials."""

    pending: str
    approved: str


@pytest.fixture(scope="module")
def bens_requests(shared_world: World) -> Requests:
    world = shared_world
    world.script(
        Structured(
            {
                "decision": "escalate",
                "grants": [{"resource_key": "transactions", "actions": ["dynamodb:Query"]}],
                "duration_seconds": 900,
                "risk": "high",
                "rationale": "A person should decide.",
            }
        )
    )
    pending = world.request_access(world.bearer("ben.okafor"), "All my statements for my mortgage.")
    assert pending.status_code == 202, pending.text
    world.script(approve("account-balances", "dynamodb:Query"))
    approved = world.request_access(world.bearer("ben.okafor"), "My savings balance.")
    assert approved.status_code == 200, approved.text
    world.stack.model.reset()
    return Requests(pending.json()["request_id"], approved.json()["request_id"])


@dataclass(frozen=True)
class PowerCase:
    id: str
    method: str
    path: Callable[[Requests], str]
    payload: dict[str, Any] | None
    acting_for: str
    expected: Refused


POWER_CASES = [
    PowerCase(
        "approve-a-pending-request",
        "POST",
        lambda r: f"/v1/access-requests/{r.pending}/approve",
        {
            "grants": [{"resource_key": "transactions", "actions": ["dynamodb:Query"]}],
            "duration_seconds": 900,
        },
        "priya.raman",
        Refused(403, "permission_denied", NOT_A_PERSON),
    ),
    PowerCase(
        "deny-a-pending-request",
        "POST",
        lambda r: f"/v1/access-requests/{r.pending}/deny",
        {"reason": "no"},
        "priya.raman",
        Refused(403, "permission_denied", NOT_A_PERSON),
    ),
    PowerCase(
        "list-principals",
        "GET",
        lambda r: "/v1/admin/principals",
        None,
        "priya.raman",
        Refused(403, "permission_denied", NOT_A_PERSON),
    ),
    PowerCase(
        "read-the-audit-log",
        "GET",
        lambda r: "/v1/admin/audit",
        None,
        "priya.raman",
        Refused(403, "permission_denied", NOT_A_PERSON),
    ),
    PowerCase(
        "make-alice-an-admin",
        "PUT",
        lambda r: "/v1/admin/principals/alice.moreau",
        {
            "kind": "human",
            "display_name": "Alice Moreau",
            "groups": ["admins"],
            "attributes": {"customer_key": "c-1001"},
        },
        "priya.raman",
        Refused(403, "permission_denied", NOT_A_PERSON),
    ),
    PowerCase(
        "rewrite-alices-policy-without-a-grant",
        "PUT",
        lambda r: "/v1/admin/policies/alice.moreau",
        {"text": "Alice may read every customer's data.", "expected_version": 1},
        "priya.raman",
        Refused(
            403,
            "permission_denied",
            "writing needs an approved, active grant of broker:WritePolicy on policy-store: "
            "request it, and have another admin approve it",
        ),
    ),
    PowerCase(
        "read-bens-request-as-the-admins-agent",
        "GET",
        lambda r: f"/v1/access-requests/{r.approved}",
        None,
        "priya.raman",
        Refused(404, "not_found"),
    ),
    PowerCase(
        "status-of-bens-request-as-the-admins-agent",
        "GET",
        lambda r: f"/v1/access-requests/{r.pending}/status",
        None,
        "priya.raman",
        Refused(404, "not_found"),
    ),
    PowerCase(
        "revoke-bens-grant-as-the-admins-agent",
        "POST",
        lambda r: f"/v1/grants/{r.approved}/revoke",
        None,
        "priya.raman",
        Refused(404, "not_found"),
    ),
    PowerCase(
        "collect-bens-request-as-alices-agent",
        "GET",
        lambda r: f"/v1/access-requests/{r.pending}",
        None,
        "alice.moreau",
        Refused(404, "not_found"),
    ),
    PowerCase(
        "revoke-bens-grant-as-alices-agent",
        "POST",
        lambda r: f"/v1/grants/{r.approved}/revoke",
        None,
        "alice.moreau",
        Refused(404, "not_found"),
    ),
]


@pytest.mark.parametrize("case", POWER_CASES, ids=lambda case: case.id)
def test_an_agent_never_uses_the_persons_administrative_powers(
    world: World, bens_requests: Requests, case: PowerCase
) -> None:
    path = case.path(bens_requests)
    payload = json.dumps(case.payload).encode() if case.payload is not None else b""
    headers = world.agent_headers(
        case.method, path, payload, on_behalf_of=world.token(case.acting_for)
    )
    response = world.http.request(case.method, world.api + path, content=payload, headers=headers)
    verdict = world.settle("on-behalf-of", case.id, response, case.expected, PRIYA)
    passed(verdict)
    status = world.http.get(
        f"{world.api}/v1/access-requests/{bens_requests.approved}/status",
        headers=world.bearer("ben.okafor"),
    ).json()
    assert status["revoked_at"] is None, "Ben's grant was revoked"
