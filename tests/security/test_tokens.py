"""Forged and altered bearer tokens against the broker API.

Each case builds an Authorization header an attacker could send with a request for
access (the reviewer is scripted to approve, so anything that got through would mint
and be probed) and pins the exact refusal. The model must never be asked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from security.conftest import World, raw_headers
from security.forge import (
    MOTO_KID,
    attacker_ec_key,
    attacker_rsa_key,
    b64url,
    claims_of,
    hs256,
    moto_signing_key,
    part,
    signed,
    unsigned,
)
from security.verdicts import ALICE, Denied, Expected, Refused, passed
from support.model_server import Structured

NOT_JWT = "the access token is not a JWT"
NOT_RS256 = "the access token is not signed with RS256"
NO_KID = "the access token names no signing key"
BAD_SIGNATURE = "the access token signature is invalid"
UNKNOWN_KEY = "the access token is signed by an unknown key"
BAD_HEADER = "the access token header is malformed"
OTHER_ISSUER = "the access token comes from another issuer"
NOT_ACCESS = "the token is not an access token"
OTHER_CLIENT = "the access token was issued to another client"
EXPIRED = "the access token has expired"
FUTURE = "the access token is issued in the future"
NOT_YET = "the access token is not valid yet"
NO_USER = "the access token names no user"
BAD_GROUPS = "the access token's groups are malformed"
RS256 = {"alg": "RS256", "kid": MOTO_KID}


def refused(message: str) -> Refused:
    return Refused(401, "unauthenticated", message)


@dataclass(frozen=True)
class TokenCase:
    """An Authorization header (built against the live stack) and what the API must answer."""

    id: str
    headers: Callable[[World], dict[str, str | bytes]]
    expected: Expected
    path: str = "/v1/access-requests"


def bearer(build: Callable[[World], str]) -> Callable[[World], dict[str, str | bytes]]:
    return lambda world: {"Authorization": f"Bearer {build(world)}"}


def alice_claims(world: World, **changes: Any) -> dict[str, Any]:
    """Alice's real access-token claims, changed (a value of None removes the claim)."""
    claims = claims_of(world.token("alice.moreau")) | changes
    return {name: value for name, value in claims.items() if value is not None}


def moto_signed(**changes: Any) -> Callable[[World], dict[str, str | bytes]]:
    """Alice's claims, changed, signed with the pool's real key: one claim check at a time."""
    return bearer(lambda world: signed(RS256, alice_claims(world, **changes), moto_signing_key()))


def jwks_key(world: World) -> dict[str, Any]:
    keys = httpx.get(world.stack.record.cognito.jwks_url, timeout=10).json()["keys"]
    assert isinstance(keys[0], dict)
    return keys[0]


def public_pem(world: World) -> bytes:
    from joserfc.jwk import RSAKey

    return RSAKey.import_key(jwks_key(world)).as_pem(private=False)


def tampered(world: World, **changes: Any) -> str:
    head, _body, signature = world.token("alice.moreau").split(".")
    return f"{head}.{part(alice_claims(world, **changes))}.{signature}"


def another_pool_token(world: World) -> str:
    """A real token for a user of another pool on the same moto (which signs with the same key)."""
    idp = world.stack.running.client("cognito-idp")
    name = f"other-pool-{time.monotonic_ns()}"
    pool = idp.create_user_pool(PoolName=name)["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName=name, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="alice.moreau", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool, Username="alice.moreau", Password="Other-Pool-2026!", Permanent=True
    )
    answer = idp.initiate_auth(
        ClientId=client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice.moreau", "PASSWORD": "Other-Pool-2026!"},
    )
    return str(answer["AuthenticationResult"]["AccessToken"])


def another_client_token(world: World) -> str:
    idp = world.stack.running.client("cognito-idp")
    client = idp.create_user_pool_client(
        UserPoolId=world.stack.record.cognito.user_pool_id,
        ClientName=f"not-the-broker-{time.monotonic_ns()}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return world.tokens("alice.moreau", client_id=client)["AccessToken"]


def now() -> int:
    return int(time.time())


CASES = [
    # --- no signature, or a signature in another algorithm -----------------------------------
    TokenCase(
        "alg-none-empty-signature",
        bearer(lambda w: unsigned({"alg": "none", "typ": "JWT"}, alice_claims(w))),
        refused(NOT_JWT),
    ),
    TokenCase(
        "alg-none-with-signature",
        bearer(lambda w: unsigned({"alg": "none"}, alice_claims(w), "AAAA")),
        refused(NOT_RS256),
    ),
    TokenCase(
        "alg-None-capitalised",
        bearer(lambda w: unsigned({"alg": "None", "kid": MOTO_KID}, alice_claims(w), "AAAA")),
        refused(NOT_RS256),
    ),
    TokenCase(
        "alg-missing",
        bearer(lambda w: unsigned({"kid": MOTO_KID}, alice_claims(w), "AAAA")),
        refused(BAD_HEADER),
    ),
    TokenCase(
        "hs256-signed-with-the-jwks-public-key-pem",
        bearer(lambda w: hs256({"alg": "HS256", "kid": MOTO_KID}, alice_claims(w), public_pem(w))),
        refused(NOT_RS256),
    ),
    TokenCase(
        "hs256-signed-with-the-jwk-modulus",
        bearer(
            lambda w: hs256(
                {"alg": "HS256", "kid": MOTO_KID}, alice_claims(w), jwks_key(w)["n"].encode()
            )
        ),
        refused(NOT_RS256),
    ),
    TokenCase(
        "rs512-with-the-pool-key",
        bearer(
            lambda w: signed({"alg": "RS512", "kid": MOTO_KID}, alice_claims(w), moto_signing_key())
        ),
        refused(NOT_RS256),
    ),
    TokenCase(
        "ps256-with-the-pool-key",
        bearer(
            lambda w: signed({"alg": "PS256", "kid": MOTO_KID}, alice_claims(w), moto_signing_key())
        ),
        refused(NOT_RS256),
    ),
    TokenCase(
        "es256-attacker-key",
        bearer(
            lambda w: signed({"alg": "ES256", "kid": MOTO_KID}, alice_claims(w), attacker_ec_key())
        ),
        refused(NOT_RS256),
    ),
    # --- RS256 with a key the pool never published ---------------------------------------------
    TokenCase(
        "rs256-attacker-key-with-the-pools-kid",
        bearer(lambda w: signed(RS256, alice_claims(w), attacker_rsa_key())),
        refused(BAD_SIGNATURE),
    ),
    TokenCase(
        "rs256-attacker-key-unknown-kid",
        bearer(
            lambda w: signed(
                {"alg": "RS256", "kid": "attacker"}, alice_claims(w), attacker_rsa_key()
            )
        ),
        refused(UNKNOWN_KEY),
    ),
    TokenCase(
        "embedded-jwk-header",
        bearer(
            lambda w: (
                lambda key: signed(
                    {"alg": "RS256", "kid": MOTO_KID, "jwk": key.as_dict(private=False)},
                    alice_claims(w),
                    key,
                )
            )(attacker_rsa_key())
        ),
        refused(BAD_HEADER),
    ),
    TokenCase(
        "jku-header-pointing-elsewhere",
        bearer(
            lambda w: signed(
                {"alg": "RS256", "kid": "jku-key", "jku": "http://127.0.0.1:9/jwks.json"},
                alice_claims(w),
                attacker_rsa_key(),
            )
        ),
        refused(UNKNOWN_KEY),
    ),
    TokenCase(
        "kid-path-traversal",
        bearer(
            lambda w: signed(
                {"alg": "RS256", "kid": "../../../../dev/null"}, alice_claims(w), attacker_rsa_key()
            )
        ),
        refused(UNKNOWN_KEY),
    ),
    TokenCase(
        "kid-missing",
        bearer(lambda w: signed({"alg": "RS256"}, alice_claims(w), moto_signing_key())),
        refused(NO_KID),
    ),
    TokenCase(
        "kid-not-a-string",
        bearer(lambda w: unsigned({"alg": "RS256", "kid": 7}, alice_claims(w), "AAAA")),
        refused(NO_KID),
    ),
    # --- a real token, altered ------------------------------------------------------------------
    TokenCase(
        "real-token-username-changed-to-the-admin",
        bearer(lambda w: tampered(w, username="priya.raman")),
        refused(BAD_SIGNATURE),
    ),
    TokenCase(
        "real-token-groups-changed-to-admin",
        bearer(lambda w: tampered(w, **{"cognito:groups": ["admin", "employee"]})),
        refused(BAD_SIGNATURE),
    ),
    TokenCase(
        "real-token-expiry-extended",
        bearer(lambda w: tampered(w, exp=now() + 86_400 * 365)),
        refused(BAD_SIGNATURE),
    ),
    TokenCase(
        "real-token-signature-truncated",
        bearer(lambda w: w.token("alice.moreau")[:-12]),
        refused(BAD_SIGNATURE),
    ),
    TokenCase(
        "alices-payload-under-bens-signature",
        bearer(
            lambda w: ".".join(
                w.token("alice.moreau").split(".")[:2] + w.token("ben.okafor").split(".")[2:]
            )
        ),
        refused(BAD_SIGNATURE),
    ),
    TokenCase(
        "header-not-json",
        bearer(lambda w: f"{b64url(b'not json')}.{part(alice_claims(w))}.AAAA"),
        refused(BAD_HEADER),
    ),
    # --- real tokens that are not the broker's ---------------------------------------------------
    TokenCase("another-user-pool-same-moto-key", bearer(another_pool_token), refused(OTHER_ISSUER)),
    TokenCase(
        "id-token-instead-of-access-token",
        bearer(lambda w: w.tokens("alice.moreau")["IdToken"]),
        refused(NOT_ACCESS),
    ),
    TokenCase(
        "another-app-client-of-the-pool", bearer(another_client_token), refused(OTHER_CLIENT)
    ),
    TokenCase(
        "refresh-token-as-bearer",
        bearer(lambda w: w.tokens("alice.moreau")["RefreshToken"]),
        refused(NOT_JWT),
    ),
    # --- one bad claim in an otherwise valid token ------------------------------------------------
    TokenCase("expired-two-minutes-ago", moto_signed(exp=now() - 120), refused(EXPIRED)),
    TokenCase(
        "expired-a-year-ago",
        moto_signed(iat=now() - 86_400 * 366, exp=now() - 86_400 * 365),
        refused(EXPIRED),
    ),
    TokenCase("exp-missing", moto_signed(exp=None), refused(EXPIRED)),
    TokenCase("exp-a-string", moto_signed(exp="9999999999"), refused(EXPIRED)),
    TokenCase("exp-a-boolean", moto_signed(exp=True), refused(EXPIRED)),
    TokenCase("exp-beyond-year-9999", moto_signed(exp=10**20), refused(EXPIRED)),
    TokenCase("exp-negative", moto_signed(exp=-1), refused(EXPIRED)),
    TokenCase("iat-an-hour-ahead", moto_signed(iat=now() + 3_600), refused(FUTURE)),
    TokenCase("iat-missing", moto_signed(iat=None), refused(FUTURE)),
    TokenCase("nbf-an-hour-ahead", moto_signed(nbf=now() + 3_600), refused(NOT_YET)),
    TokenCase("token-use-id", moto_signed(token_use="id"), refused(NOT_ACCESS)),
    TokenCase("token-use-missing", moto_signed(token_use=None), refused(NOT_ACCESS)),
    TokenCase(
        "client-id-of-another-client",
        moto_signed(client_id="attacker-client"),
        refused(OTHER_CLIENT),
    ),
    TokenCase("client-id-missing", moto_signed(client_id=None), refused(OTHER_CLIENT)),
    TokenCase(
        "issuer-over-plain-http",
        bearer(
            lambda w: signed(
                RS256,
                alice_claims(w, iss=w.stack.record.cognito.issuer.replace("https://", "http://")),
                moto_signing_key(),
            )
        ),
        refused(OTHER_ISSUER),
    ),
    TokenCase("issuer-missing", moto_signed(iss=None), refused(OTHER_ISSUER)),
    TokenCase("username-missing", moto_signed(username=None), refused(NO_USER)),
    TokenCase("username-empty", moto_signed(username=""), refused(NO_USER)),
    TokenCase(
        "username-a-list", moto_signed(username=["alice.moreau", "priya.raman"]), refused(NO_USER)
    ),
    TokenCase("groups-a-string", moto_signed(**{"cognito:groups": "admin"}), refused(BAD_GROUPS)),
    # --- valid signatures, identities the directory does not back ---------------------------
    TokenCase(
        "forged-user-not-in-the-directory",
        moto_signed(username="mallory", sub="00000000-0000-0000-0000-000000000000"),
        Denied(("The principal is unknown or disabled.",)),
    ),
    TokenCase(
        "forged-token-naming-the-agent",
        moto_signed(username="support-assistant"),
        Denied(("The identity was proven in a way this principal cannot use.",)),
    ),
    TokenCase(
        "forged-admin-groups-claim-on-an-admin-route",
        moto_signed(**{"cognito:groups": ["admin", "employee"]}),
        Refused(
            403, "permission_denied", "administration is for enabled people in the admins group"
        ),
        path="/v1/admin/principals",
    ),
    # --- the header itself --------------------------------------------------------------------
    TokenCase("bearer-without-a-token", lambda w: {"Authorization": "Bearer"}, refused(NOT_JWT)),
    TokenCase(
        "token-over-16-kib",
        bearer(lambda w: tampered(w, padding="A" * 17_000)),
        refused(NOT_JWT),
    ),
    TokenCase(
        "five-part-jwe-shape",
        bearer(lambda w: w.token("alice.moreau") + ".AAAA.BBBB"),
        refused(NOT_JWT),
    ),
    TokenCase(
        "non-ascii-in-the-token",
        lambda w: {"Authorization": f"Bearer {w.token('alice.moreau')[:-4]}é".encode("latin-1")},
        refused(NOT_JWT),
    ),
    TokenCase(
        "basic-scheme-with-a-password",
        lambda w: {"Authorization": "Basic YWxpY2UubW9yZWF1OmFueXRoaW5n"},
        refused("the Authorization scheme is not supported"),
    ),
    TokenCase(
        "no-authorization-header",
        lambda w: {},
        refused("the request carries no Authorization header"),
    ),
    TokenCase(
        "token-as-a-cookie-only",
        lambda w: {"Cookie": f"access_token={w.token('alice.moreau')}"},
        refused("the request carries no Authorization header"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_forged_or_foreign_token_never_reaches_the_reviewer(
    world: World, case: TokenCase
) -> None:
    world.script(Structured(APPROVE_TRANSACTIONS))
    headers = case.headers(world)
    if case.path == "/v1/access-requests":
        response = world.request_access(headers)
    else:
        response = world.http.get(world.api + case.path, headers=raw_headers(headers))
    verdict = world.settle("tokens", case.id, response, case.expected, ALICE)
    if world.stack.model.chat_requests:
        verdict.problems.append("the reviewer was asked")
    passed(verdict)


def test_two_authorization_headers_are_refused(world: World) -> None:
    world.script(Structured(APPROVE_TRANSACTIONS))
    forged = signed({"alg": "RS256", "kid": "attacker"}, alice_claims(world), attacker_rsa_key())
    response = world.http.post(
        world.api + "/v1/access-requests",
        content=b'{"reason": "Which card payments did I make this month?"}',
        headers=[
            ("Content-Type", "application/json"),
            ("Authorization", f"Bearer {world.token('alice.moreau')}"),
            ("Authorization", f"Bearer {forged}"),
        ],
    )
    expected = refused("the authorization header may appear only once")
    passed(world.settle("tokens", "two-authorization-headers", response, expected, ALICE))


def test_credentials_in_the_query_string_are_refused(world: World) -> None:
    world.script(Structured(APPROVE_TRANSACTIONS))
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIA%2F20260101%2Fus-east-1%2Fexecute-api%2Faws4_request"
    )
    response = world.http.post(
        f"{world.api}/v1/access-requests?{query}",
        content=b'{"reason": "Which card payments did I make this month?"}',
        headers={"Content-Type": "application/json", **world.bearer("alice.moreau")},
    )
    expected = refused("credentials in the query string are not accepted")
    passed(world.settle("tokens", "presigned-fields-in-the-query", response, expected, ALICE))


APPROVE_TRANSACTIONS: dict[str, Any] = {
    "decision": "approve",
    "grants": [{"resource_key": "transactions", "actions": ["dynamodb:Query"]}],
    "duration_seconds": 900,
    "risk": "low",
    "rationale": "Fits the stated policy.",
}
