"""Bad SigV4, against both places that check it: the broker API (the agent's key, execute-api)
and the IAM gateway (a minted session's key, dynamodb).

Broker API cases send the agent's request for access on Alice's behalf, with the reviewer
scripted to approve: a signature that wrongly passed would mint, and be probed. Gateway
cases start from a correctly signed Query of Alice's own rows and break one thing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from security.conftest import World
from security.ledger import Entry, Outcome
from security.signing import sigv4_headers
from security.verdicts import ALICE, Expected, Refused, passed
from support.model_server import Structured

PATH = "/v1/access-requests"
BODY = json.dumps({"reason": "The customer asks which card payments she made this month."}).encode()
MISMATCH = "the SigV4 signature does not match"
SKEWED = "the SigV4 request time is outside the allowed clock skew"
MALFORMED = "the SigV4 signature is malformed"
INCOMPLETE = "the SigV4 signature is incomplete"
UNSUPPORTED = "the signing method is not supported"
UNKNOWN_KEY = "the access key is not known"
APPROVE = {
    "decision": "approve",
    "grants": [{"resource_key": "transactions", "actions": ["dynamodb:Query"]}],
    "duration_seconds": 900,
    "risk": "low",
    "rationale": "The customer asked about her payments.",
}


def refused(message: str) -> Refused:
    return Refused(401, "unauthenticated", message)


@dataclass(frozen=True)
class Forgery:
    """How to sign (overrides of the agent's signing) and what to change after signing."""

    signing: dict[str, Any] = field(default_factory=dict)
    after: Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]] = lambda h, b: (h, b)
    path: str = PATH  # what is sent (the signature covers PATH)
    query: str = ""


@dataclass(frozen=True)
class SignatureCase:
    id: str
    forgery: Forgery
    expected: Expected


def minutes(delta: int) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=delta)


def replace_header(
    name: str, value: str
) -> Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]:
    return lambda headers, body: ({**headers, name: value}, body)


def edit_authorization(
    old: str, new: str
) -> Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]:
    def edit(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        return {**headers, "authorization": headers["authorization"].replace(old, new)}, body

    return edit


def rescope(old: str, new: str) -> Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]:
    return edit_authorization(f"/{old}/", f"/{new}/")


def drop_signature_field(
    name: str,
) -> Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]:
    def edit(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        fields = [
            f
            for f in headers["authorization"].split(" ", 1)[1].split(", ")
            if not f.startswith(name)
        ]
        return {**headers, "authorization": "AWS4-HMAC-SHA256 " + ", ".join(fields)}, body

    return edit


def other_key(world: World, which: str) -> dict[str, Any]:
    record = world.stack.record
    key = {"admin": record.admin_credentials, "broker-host": record.broker_host_credentials}[which]
    return {"key_id": key.access_key_id, "secret": key.secret_access_key}


BROKER_CASES = [
    SignatureCase(
        "body-changed-after-signing",
        Forgery(after=lambda h, b: (h, b.replace(b"card payments", b"every customer's rows"))),
        refused(MISMATCH),
    ),
    SignatureCase(
        "body-appended-after-signing",
        Forgery(after=lambda h, b: (h, b[:-1] + b', "console": true}')),
        refused(MISMATCH),
    ),
    SignatureCase(
        "body-whitespace-added-after-signing",
        Forgery(after=lambda h, b: (h, b + b" ")),
        refused(MISMATCH),
    ),
    SignatureCase(
        "path-percent-encoded-after-signing",
        Forgery(path="/v1/%61ccess-requests"),
        refused(MISMATCH),
    ),
    SignatureCase("query-added-after-signing", Forgery(query="console=true"), refused(MISMATCH)),
    SignatureCase(
        "x-amz-date-moved-one-second",
        Forgery(
            after=lambda h, b: replace_header(
                "x-amz-date",
                h["x-amz-date"][:-3] + f"{(int(h['x-amz-date'][-3:-1]) + 1) % 60:02d}Z",
            )(h, b)
        ),
        refused(MISMATCH),
    ),
    SignatureCase(
        "signed-with-a-wrong-secret",
        Forgery(signing={"secret": "not-the-agents-secret"}),
        refused(MISMATCH),
    ),
    SignatureCase(
        "payload-hash-header-for-another-body",
        Forgery(signing={"headers": {"x-amz-content-sha256": "0" * 64}}),
        refused(MISMATCH),
    ),
    SignatureCase(
        "signed-six-minutes-ago", Forgery(signing={"when": lambda _w: minutes(-6)}), refused(SKEWED)
    ),
    SignatureCase(
        "signed-six-minutes-ahead",
        Forgery(signing={"when": lambda _w: minutes(6)}),
        refused(SKEWED),
    ),
    SignatureCase(
        "signed-yesterday", Forgery(signing={"when": lambda _w: minutes(-24 * 60)}), refused(SKEWED)
    ),
    SignatureCase(
        "signed-a-year-ahead",
        Forgery(signing={"when": lambda _w: minutes(366 * 24 * 60)}),
        refused(SKEWED),
    ),
    SignatureCase(
        "scope-date-not-the-request-date",
        Forgery(
            after=lambda h, b: edit_authorization(f"/{h['x-amz-date'][:8]}/", "/20200101/")(h, b)
        ),
        refused(MALFORMED),
    ),
    SignatureCase(
        "x-amz-date-not-iso8601",
        Forgery(after=replace_header("x-amz-date", "2026-11-26T06:00:00Z")),
        refused(MALFORMED),
    ),
    SignatureCase(
        "scoped-to-dynamodb",
        Forgery(signing={"service": "dynamodb"}),
        refused("the signature is scoped to another service"),
    ),
    SignatureCase(
        "scoped-to-sts",
        Forgery(signing={"service": "sts"}),
        refused("the signature is scoped to another service"),
    ),
    SignatureCase(
        "scoped-to-another-region",
        Forgery(signing={"region": "us-west-2"}),
        refused("the signature is scoped to another region"),
    ),
    SignatureCase(
        "scope-region-rewritten",
        Forgery(after=rescope("us-east-1", "eu-west-1")),
        refused("the signature is scoped to another region"),
    ),
    SignatureCase(
        "unknown-access-key",
        Forgery(signing={"key_id": "AKIAEXAMPLEEXAMPLE00"}),
        refused(UNKNOWN_KEY),
    ),
    SignatureCase(
        "scope-terminator-changed",
        Forgery(after=edit_authorization("/aws4_request", "/aws5_request")),
        refused(MALFORMED),
    ),
    SignatureCase(
        "session-token-on-a-long-term-key",
        Forgery(signing={"session_token": "FwoGZXIvYXdzEJr//////////wEaDAttacker"}),
        refused("session credentials are not accepted"),
    ),
    SignatureCase(
        "signature-field-missing",
        Forgery(after=drop_signature_field("Signature=")),
        refused(INCOMPLETE),
    ),
    SignatureCase(
        "credential-field-missing",
        Forgery(after=drop_signature_field("Credential=")),
        refused(INCOMPLETE),
    ),
    SignatureCase(
        "signature-not-hex",
        Forgery(
            after=lambda h, b: ({**h, "authorization": h["authorization"][:-64] + "Z" * 64}, b)
        ),
        refused(MALFORMED),
    ),
    SignatureCase(
        "signature-field-twice",
        Forgery(
            after=lambda h, b: (
                {**h, "authorization": h["authorization"] + ", Signature=" + "0" * 64},
                b,
            )
        ),
        refused(MALFORMED),
    ),
    SignatureCase(
        "x-amz-date-left-unsigned",
        Forgery(signing={"unsigned": ["x-amz-date"]}),
        refused(MALFORMED),
    ),
    SignatureCase(
        "host-left-unsigned", Forgery(signing={"unsigned": ["host"]}), refused(MALFORMED)
    ),
    SignatureCase(
        "unsigned-payload",
        Forgery(
            signing={
                "headers": {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
                "payload_hash": "UNSIGNED-PAYLOAD",
            }
        ),
        refused(UNSUPPORTED),
    ),
    SignatureCase(
        "streaming-payload",
        Forgery(
            signing={"headers": {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}}
        ),
        refused(UNSUPPORTED),
    ),
    SignatureCase(
        "sigv4a-scheme",
        Forgery(after=edit_authorization("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")),
        refused("the Authorization scheme is not supported"),
    ),
    SignatureCase(
        "lower-case-scheme",
        Forgery(after=edit_authorization("AWS4-HMAC-SHA256", "aws4-hmac-sha256")),
        refused("the Authorization scheme is not supported"),
    ),
    SignatureCase(
        "sigv2-style-header",
        Forgery(after=replace_header("authorization", "AWS AKIAEXAMPLEEXAMPLE00:c2lnbmF0dXJl")),
        refused("the Authorization scheme is not supported"),
    ),
    SignatureCase(
        "presigned-query-string",
        Forgery(
            query="X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261126%2Fus-east-1%2Fexecute-api%2Faws4_request&X-Amz-Signature=00"
        ),
        refused("credentials in the query string are not accepted"),
    ),
]


def resolved(world: World, signing: dict[str, Any]) -> dict[str, Any]:
    """Signing options with the lazy ones (times, keys) worked out now, not at import."""
    return {name: value(world) if callable(value) else value for name, value in signing.items()}


def _send_signed(world: World, forgery: Forgery, on_behalf_of: str | None) -> httpx.Response:
    signing = resolved(world, forgery.signing)
    headers = world.agent_headers("POST", PATH, BODY, on_behalf_of=on_behalf_of, **signing)
    headers, body = forgery.after(headers, BODY)
    url = world.api + forgery.path + (f"?{forgery.query}" if forgery.query else "")
    return world.http.post(url, content=body, headers=headers)


@pytest.mark.parametrize("case", BROKER_CASES, ids=lambda case: case.id)
def test_a_bad_agent_signature_is_refused(world: World, case: SignatureCase) -> None:
    world.script(Structured(APPROVE))
    response = _send_signed(world, case.forgery, world.token("alice.moreau"))
    verdict = world.settle("sigv4", f"broker-api/{case.id}", response, case.expected, ALICE)
    if world.stack.model.chat_requests:
        verdict.problems.append("the reviewer was asked")
    passed(verdict)


@pytest.mark.parametrize("which", ["admin", "broker-host"])
def test_another_iam_users_correct_signature_is_not_the_agents(world: World, which: str) -> None:
    world.script(Structured(APPROVE))
    forgery = Forgery(signing=other_key(world, which))
    response = _send_signed(world, forgery, world.token("alice.moreau"))
    passed(world.settle("sigv4", f"broker-api/{which}-key", response, refused(UNKNOWN_KEY), ALICE))


def test_a_request_replayed_after_the_window_is_refused(world: World) -> None:
    # Signed 294 s ago: still inside the five minutes (with room for a slow machine), so the
    # first send is accepted; the same bytes seven seconds later are outside the window.
    signed_at = datetime.now(UTC) - timedelta(seconds=294)
    headers = world.agent_headers("GET", "/v1/me", b"", on_behalf_of=None, when=signed_at)
    first = world.http.get(world.api + "/v1/me", headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["principal_id"] == "support-assistant"
    time.sleep(max(0.0, (signed_at + timedelta(seconds=301) - datetime.now(UTC)).total_seconds()))
    replayed = world.http.get(world.api + "/v1/me", headers=headers)
    passed(
        world.settle(
            "sigv4", "broker-api/replay-after-the-window", replayed, refused(SKEWED), ALICE
        )
    )


# --- the gateway ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """A minted session for Alice (Query on transactions) and the table's name."""

    credentials: dict[str, str]
    table: str


@pytest.fixture(scope="module")
def alice_session(shared_world: World) -> Session:
    shared_world.script(Structured(APPROVE))
    answer = shared_world.request_access(shared_world.bearer("alice.moreau"))
    assert answer.status_code == 200, answer.text
    return Session(answer.json()["credentials"], shared_world.stack.record.tables["transactions"])


def query_body(table: str, customer: str) -> bytes:
    return json.dumps(
        {
            "TableName": table,
            "KeyConditionExpression": "customer_id = :c",
            "ExpressionAttributeValues": {":c": {"S": customer}},
        }
    ).encode()


def gateway_headers(world: World, session: Session, body: bytes, **signing: Any) -> dict[str, str]:
    credentials = session.credentials
    signing = resolved(world, signing)
    options: dict[str, Any] = {
        "key_id": credentials["access_key_id"],
        "secret": credentials["secret_access_key"],
        "session_token": credentials["session_token"],
        "region": "us-east-1",
        "service": "dynamodb",
        **signing,
    }
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.Query",
        "Content-Type": "application/x-amz-json-1.0",
    }
    headers.update(options.pop("headers", {}))
    return sigv4_headers(
        "POST", world.stack.record.aws_endpoint_url + "/", body=body, headers=headers, **options
    )


def aws_code(response: httpx.Response) -> str:
    try:
        kind = response.json().get("__type", "")
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:120]}"
    return str(kind).rsplit("#", 1)[-1]


@dataclass(frozen=True)
class GatewayCase:
    id: str
    build: Callable[[World, Session], tuple[dict[str, str], bytes]]
    status: int
    code: str


def signed_for(
    customer: str, **signing: Any
) -> Callable[[World, Session], tuple[dict[str, str], bytes]]:
    def build(world: World, session: Session) -> tuple[dict[str, str], bytes]:
        body = query_body(session.table, customer)
        return gateway_headers(world, session, body, **signing), body

    return build


def swapped_body(world: World, session: Session) -> tuple[dict[str, str], bytes]:
    headers = gateway_headers(world, session, query_body(session.table, "c-1001"))
    return headers, query_body(session.table, "c-1002")


def altered_token(world: World, session: Session) -> tuple[dict[str, str], bytes]:
    body = query_body(session.table, "c-1001")
    token = session.credentials["session_token"]
    return gateway_headers(world, session, body, session_token=token[:-8] + "AAAAAAAA"), body


def no_token(world: World, session: Session) -> tuple[dict[str, str], bytes]:
    body = query_body(session.table, "c-1001")
    return gateway_headers(world, session, body, session_token=None), body


def token_unsigned(world: World, session: Session) -> tuple[dict[str, str], bytes]:
    body = query_body(session.table, "c-1001")
    return gateway_headers(world, session, body, unsigned=["x-amz-security-token"]), body


def wrong_secret(world: World, session: Session) -> tuple[dict[str, str], bytes]:
    body = query_body(session.table, "c-1001")
    return gateway_headers(world, session, body, secret="x" * 40), body


GATEWAY_CASES = [
    GatewayCase(
        "own-rows-signed-then-another-customers-key-sent",
        swapped_body,
        400,
        "InvalidSignatureException",
    ),
    GatewayCase(
        "signed-six-minutes-ago",
        signed_for("c-1001", when=lambda _w: minutes(-6)),
        400,
        "InvalidSignatureException",
    ),
    GatewayCase(
        "signed-six-minutes-ahead",
        signed_for("c-1001", when=lambda _w: minutes(6)),
        400,
        "InvalidSignatureException",
    ),
    GatewayCase(
        "signed-for-another-region",
        signed_for("c-1001", region="us-west-2"),
        400,
        "AccessDeniedException",
    ),
    GatewayCase("session-token-altered", altered_token, 400, "UnrecognizedClientException"),
    GatewayCase("session-token-left-out", no_token, 400, "UnrecognizedClientException"),
    GatewayCase("session-token-left-unsigned", token_unsigned, 400, "IncompleteSignatureException"),
    GatewayCase("signed-with-a-wrong-secret", wrong_secret, 400, "InvalidSignatureException"),
    GatewayCase(
        "another-customers-rows-correctly-signed",
        signed_for("c-1002"),
        400,
        "AccessDeniedException",
    ),
]


def record_gateway(
    world: World, case: str, response: httpx.Response, status: int, code: str
) -> None:
    allowed = response.status_code == 200
    world.ledger.record(
        Entry(
            category="sigv4",
            case=f"gateway/{case}",
            outcome=Outcome.MINTED if allowed else Outcome.DENIED,
            over_grants=1 if allowed else 0,
        )
    )
    assert (response.status_code, aws_code(response)) == (status, code), response.text[:300]


@pytest.mark.parametrize("case", GATEWAY_CASES, ids=lambda case: case.id)
def test_a_bad_session_signature_is_refused_by_the_gateway(
    world: World, alice_session: Session, case: GatewayCase
) -> None:
    headers, body = case.build(world, alice_session)
    response = world.http.post(
        world.stack.record.aws_endpoint_url + "/", content=body, headers=headers
    )
    record_gateway(world, case.id, response, case.status, case.code)


def test_a_captured_gateway_request_replayed_after_the_window_is_refused(
    world: World, alice_session: Session
) -> None:
    body = query_body(alice_session.table, "c-1001")
    headers = gateway_headers(world, alice_session, body)
    url = world.stack.record.aws_endpoint_url + "/"
    first = world.http.post(url, content=body, headers=headers)
    assert first.status_code == 200, first.text  # within the window, as on AWS
    clock = world.stack.running.clock
    clock.offset += timedelta(minutes=6)
    try:
        replayed = world.http.post(url, content=body, headers=headers)
    finally:
        clock.offset -= timedelta(minutes=6)
    record_gateway(world, "replay-after-the-window", replayed, 400, "InvalidSignatureException")


def test_an_expired_session_is_refused_even_when_freshly_signed(
    world: World, alice_session: Session
) -> None:
    clock = world.stack.running.clock
    clock.offset += timedelta(minutes=16)  # the session was minted for 900 s
    try:
        body = query_body(alice_session.table, "c-1001")
        headers = gateway_headers(world, alice_session, body, when=datetime.now(UTC) + clock.offset)
        response = world.http.post(
            world.stack.record.aws_endpoint_url + "/", content=body, headers=headers
        )
    finally:
        clock.offset -= timedelta(minutes=16)
    record_gateway(world, "expired-session", response, 400, "ExpiredTokenException")
