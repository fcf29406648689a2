"""Authentication of the broker's HTTP API: Cognito access tokens, SigV4, on-behalf-of."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from agent_zero.domain.errors import AuthenticationError
from agent_zero.sandbox.sigv4 import HttpRequest
from agent_zero.web.auth import (
    ON_BEHALF_OF_HEADER,
    AgentKey,
    CognitoTokenVerifier,
    HttpJwksSource,
    RequestAuthenticator,
    SigV4Authenticator,
    VerifiedIdentity,
)

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bank"
CLIENT_ID = "webclient0123456789abcdefg"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
KEY = RSAKey.generate_key(2048, parameters={"kid": "pool-key-1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "pool-key-2"})
IMPOSTOR_KEY = RSAKey.generate_key(2048, parameters={"kid": "pool-key-1"})

REGION = "us-east-1"
AGENT_KEY_ID = "AKIAAGENTSUPPORT0001"
AGENT_SECRET = "agentSecretKey/0123456789+abcdefghijKLMNOP"
AGENT_ID = "support-assistant"
URL = "http://127.0.0.1:8080/v1/access-requests"
HEX64 = re.compile("[0-9a-f]{64}")


# --- fakes and builders --------------------------------------------------------------------------


@dataclass
class InMemoryJwks:
    """A JWKS source that serves ``document`` and, once refreshed, ``after_refresh``."""

    document: dict[str, Any]
    after_refresh: dict[str, Any] | None = None
    refreshes: int = 0

    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        if refresh:
            self.refreshes += 1
            if self.after_refresh is not None:
                self.document = self.after_refresh
        return self.document


def jwks_of(*keys: RSAKey | ECKey | dict[str, Any]) -> dict[str, Any]:
    return {"keys": [k if isinstance(k, dict) else dict(k.as_dict(private=False)) for k in keys]}


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


def access_claims(**overrides: Any) -> dict[str, Any]:
    """Claims as Cognito puts them in an access token; ``None`` removes a claim."""
    issued = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "5b0a6a3e-1111-2222-3333-444455556666",
        "client_id": CLIENT_ID,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": issued,
        "iat": issued,
        "exp": issued + 3600,
        "jti": "6f1d2c3b-aaaa-bbbb-cccc-ddddeeeeffff",
        "username": "alice.moreau",
        "cognito:groups": ["customers"],
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def make_token(
    claims: dict[str, Any] | None = None,
    *,
    key: RSAKey = KEY,
    header: dict[str, Any] | None = None,
    algorithm: str = "RS256",
) -> str:
    return jwt.encode(
        header if header is not None else {"alg": algorithm, "kid": key.kid},
        claims if claims is not None else access_claims(),
        key,
        algorithms=[algorithm],
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_token(
    header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def rs256(data: bytes) -> bytes:
    private = KEY.private_key
    assert isinstance(private, rsa.RSAPrivateKey)
    return private.sign(data, padding.PKCS1v15(), hashes.SHA256())


def verifier(jwks: InMemoryJwks | None = None, clock: Clock | None = None) -> CognitoTokenVerifier:
    return CognitoTokenVerifier(
        issuer=ISSUER,
        client_id=CLIENT_ID,
        jwks=jwks or InMemoryJwks(jwks_of(KEY)),
        clock=clock or Clock(),
    )


def refused(action: Callable[[], object], *secrets: str) -> AuthenticationError:
    """The AuthenticationError ``action`` raises, checked to carry none of ``secrets``."""
    with pytest.raises(AuthenticationError) as caught:
        action()
    message = str(caught.value)
    for secret in filter(None, secrets):
        assert secret not in message
        for part in secret.split("."):  # nor any segment of a JWT
            assert len(part) < 8 or part not in message
    assert not HEX64.search(message)
    assert caught.value.__cause__ is None
    return caught.value


# --- Cognito access tokens -----------------------------------------------------------------------


def test_a_valid_access_token_names_its_user_groups_and_expiry() -> None:
    verified = verifier().verify(make_token())
    assert verified.username == "alice.moreau"
    assert verified.groups == frozenset({"customers"})
    assert verified.expires_at == NOW + timedelta(hours=1)


def test_a_token_without_groups_has_none() -> None:
    verified = verifier().verify(make_token(access_claims(**{"cognito:groups": None})))
    assert verified.groups == frozenset()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"}, "issuer"),
        ({"iss": ISSUER + "/"}, "issuer"),
        ({"iss": None}, "issuer"),
        ({"client_id": "someotherclient"}, "client"),
        ({"client_id": None}, "client"),
        ({"token_use": "id"}, "not an access token"),
        ({"token_use": None}, "not an access token"),
        ({"username": None}, "no user"),
        ({"username": ""}, "no user"),
        ({"username": 42}, "no user"),
        ({"exp": None}, "expired"),
        ({"exp": "9999999999"}, "expired"),
        ({"exp": True}, "expired"),
        ({"exp": int(NOW.timestamp()) - 31}, "expired"),
        ({"exp": 10**20}, "expired"),
        ({"iat": int(NOW.timestamp()) + 31}, "future"),
        ({"iat": None}, "future"),
        ({"nbf": int(NOW.timestamp()) + 120}, "not valid yet"),
        ({"cognito:groups": "admins"}, "groups"),
        ({"cognito:groups": ["staff", 7]}, "groups"),
    ],
)
def test_claims_that_do_not_check_out_are_refused(overrides: dict[str, Any], reason: str) -> None:
    token = make_token(access_claims(**overrides))
    assert reason in refused(lambda: verifier().verify(token), token).message


def test_an_id_token_is_refused() -> None:
    # An ID token has `aud` instead of `client_id` and the user's attributes.
    claims = access_claims(token_use="id", client_id=None, username=None, scope=None)
    claims |= {"aud": CLIENT_ID, "cognito:username": "alice.moreau", "email": "a@example.com"}
    token = make_token(claims)
    refused(lambda: verifier().verify(token), token)


def test_expiry_is_checked_against_the_injected_clock_with_leeway() -> None:
    token = make_token()
    clock = Clock(NOW + timedelta(hours=1, seconds=29))
    assert verifier(clock=clock).verify(token).username == "alice.moreau"
    clock.now = NOW + timedelta(hours=1, seconds=30)
    assert "expired" in refused(lambda: verifier(clock=clock).verify(token), token).message


def test_a_token_issued_slightly_ahead_of_our_clock_is_accepted() -> None:
    token = make_token(access_claims(iat=int(NOW.timestamp()) + 20))
    assert verifier().verify(token).username == "alice.moreau"


def test_alg_none_is_refused() -> None:
    claims = access_claims(username="admin")
    header = {"alg": "none", "kid": KEY.kid}
    unsigned = hand_made_token(header, claims, lambda _data: b"")
    assert unsigned.endswith(".")
    refused(lambda: verifier().verify(unsigned), unsigned)
    with_junk = hand_made_token(header, claims, lambda _data: b"junk")
    refused(lambda: verifier().verify(with_junk), with_junk)


@pytest.mark.parametrize(
    "secret",
    [
        KEY.as_pem(private=False),
        KEY.as_pem(private=False).strip(),
        json.dumps(KEY.as_dict(private=False)).encode(),
    ],
)
def test_hs256_with_the_public_key_as_the_secret_is_refused(secret: bytes) -> None:
    header = {"alg": "HS256", "kid": KEY.kid}
    forged = hand_made_token(
        header,
        access_claims(username="admin"),
        lambda data: hmac.digest(secret, data, hashlib.sha256),
    )
    assert "RS256" in refused(lambda: verifier().verify(forged), forged).message


@pytest.mark.parametrize("algorithm", ["RS384", "RS512", "PS256"])
def test_other_rsa_algorithms_are_refused_even_with_the_right_key(algorithm: str) -> None:
    token = make_token(algorithm=algorithm)
    refused(lambda: verifier().verify(token), token)


def test_a_header_that_claims_rs256_over_another_algorithm_is_refused() -> None:
    # Signed as PS256 but labelled RS256: the signature does not verify as RS256.
    ps256 = make_token(algorithm="PS256")
    header = b64(json.dumps({"alg": "RS256", "kid": KEY.kid}).encode())
    relabelled = ".".join([header, *ps256.split(".")[1:]])
    refused(lambda: verifier().verify(relabelled), relabelled)


def test_a_token_without_kid_is_refused_even_when_the_jwks_has_one_key() -> None:
    token = make_token(header={"alg": "RS256"})
    assert "key" in refused(lambda: verifier().verify(token), token).message


def test_a_hand_made_rs256_token_verifies_so_the_refusals_below_are_meaningful() -> None:
    token = hand_made_token({"alg": "RS256", "kid": KEY.kid}, access_claims(), rs256)
    assert verifier().verify(token).username == "alice.moreau"


@pytest.mark.parametrize("kid", [7, "", None])
def test_a_kid_that_is_not_a_name_is_refused(kid: object) -> None:
    token = hand_made_token({"alg": "RS256", "kid": kid}, access_claims(), rs256)
    refused(lambda: verifier().verify(token), token)


def test_a_known_kid_needs_no_refresh() -> None:
    jwks = InMemoryJwks(jwks_of(KEY))
    verifier(jwks).verify(make_token())
    assert jwks.refreshes == 0


def test_an_unknown_kid_triggers_exactly_one_refresh_then_is_refused() -> None:
    jwks = InMemoryJwks(jwks_of(KEY))
    token = make_token(key=OTHER_KEY)
    assert "unknown key" in refused(lambda: verifier(jwks).verify(token), token).message
    assert jwks.refreshes == 1


def test_a_rotated_key_is_picked_up_by_the_refresh() -> None:
    jwks = InMemoryJwks(jwks_of(KEY), after_refresh=jwks_of(KEY, OTHER_KEY))
    assert verifier(jwks).verify(make_token(key=OTHER_KEY)).username == "alice.moreau"
    assert jwks.refreshes == 1


def test_a_tampered_signature_is_refused() -> None:
    token = make_token()
    head, body, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    tampered = f"{head}.{body}.{flipped}"
    assert "signature" in refused(lambda: verifier().verify(tampered), tampered).message


def test_a_tampered_payload_is_refused() -> None:
    head, _body, signature = make_token().split(".")
    body = b64(json.dumps(access_claims(username="sam.admin")).encode())
    tampered = f"{head}.{body}.{signature}"
    refused(lambda: verifier().verify(tampered), tampered)


def test_a_token_signed_by_another_key_with_the_same_kid_is_refused() -> None:
    token = make_token(key=IMPOSTOR_KEY)
    refused(lambda: verifier().verify(token), token)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not-a-jwt",
        "a.b",
        "a.b.c.d.e",
        "eyJ.eyJ.sig with space",
        "@@@.###.$$$",
        "a" * 20_000 + ".b.c",
    ],
)
def test_garbage_is_refused(garbage: str) -> None:
    refused(lambda: verifier().verify(garbage))


def test_a_header_that_is_not_json_is_refused() -> None:
    token = make_token()
    broken = b64(b"{not json") + "." + token.split(".", 1)[1]
    refused(lambda: verifier().verify(broken), broken)


@pytest.mark.parametrize(
    "entry",
    [
        {"use": "enc"},
        {"alg": "RS512"},
        {"kty": "oct"},
        {"e": 65537},
        {"n": "AQAB"},
    ],
)
def test_a_jwks_entry_that_is_not_an_rs256_public_signing_key_is_refused(
    entry: dict[str, Any],
) -> None:
    document = jwks_of(dict(KEY.as_dict(private=False)) | {"kid": KEY.kid} | entry)
    token = make_token()
    refused(lambda: verifier(InMemoryJwks(document)).verify(token), token)


def test_a_jwks_that_publishes_private_key_material_is_refused() -> None:
    document = jwks_of(dict(KEY.as_dict(private=True)))
    token = make_token()
    refused(lambda: verifier(InMemoryJwks(document)).verify(token), token)


def test_a_jwks_with_two_keys_under_one_kid_is_refused() -> None:
    token = make_token()
    document = jwks_of(IMPOSTOR_KEY, KEY)
    refused(lambda: verifier(InMemoryJwks(document)).verify(token), token)


def test_an_ec_key_under_the_kid_is_refused() -> None:
    ec = ECKey.generate_key("P-256", parameters={"kid": "pool-key-1"})
    token = make_token()
    refused(lambda: verifier(InMemoryJwks(jwks_of(ec))).verify(token), token)


def test_an_rsa_key_under_2048_bits_is_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    numbers = small.public_key().public_numbers()
    entry = {
        "kty": "RSA",
        "kid": "small",
        "n": b64(numbers.n.to_bytes(128, "big")),
        "e": b64(numbers.e.to_bytes(3, "big")),
    }
    token = hand_made_token(
        {"alg": "RS256", "kid": "small"},
        access_claims(),
        lambda data: small.sign(data, padding.PKCS1v15(), hashes.SHA256()),
    )
    message = refused(lambda: verifier(InMemoryJwks(jwks_of(entry))).verify(token), token).message
    assert "too small" in message


# --- HttpJwksSource (construction only; fetching is in tests/e2e/test_cognito_tokens.py) ---------


@pytest.mark.parametrize(
    "url",
    [
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bank/.well-known/jwks.json",
        "http://127.0.0.1:4566/us-east-1_Bank/.well-known/jwks.json",
        "http://localhost:4566/us-east-1_Bank/.well-known/jwks.json",
        "http://[::1]:4566/jwks.json",
    ],
)
def test_the_jwks_url_is_https_or_loopback_http(url: str) -> None:
    HttpJwksSource(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bank/.well-known/jwks.json",
        "http://10.0.0.5/jwks.json",
        "file:///etc/passwd",
        "ftp://127.0.0.1/jwks.json",
        "https:///jwks.json",
        "/us-east-1_Bank/.well-known/jwks.json",
    ],
)
def test_other_jwks_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="JWKS URL"):
        HttpJwksSource(url)


# --- SigV4 ---------------------------------------------------------------------------------------


def agent_keys(access_key_id: str) -> AgentKey | None:
    return AgentKey(AGENT_SECRET, AGENT_ID) if access_key_id == AGENT_KEY_ID else None


@dataclass
class SignedRequest:
    """A botocore-signed request and what a test may change after signing."""

    method: str = "POST"
    url: str = URL
    body: bytes = b'{"reason": "customer asked about a refund"}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    key_id: str = AGENT_KEY_ID
    secret: str = AGENT_SECRET
    token: str | None = None
    service: str = "execute-api"
    region: str = REGION
    presign: bool = False

    def sign(self, *, added_after_signing: Mapping[str, str] | None = None) -> HttpRequest:
        request = AWSRequest(method=self.method, url=self.url, headers=self.headers, data=self.body)
        credentials = Credentials(self.key_id, self.secret, self.token)
        signer = SigV4QueryAuth if self.presign else SigV4Auth
        signer(credentials, self.service, self.region).add_auth(request)
        prepared = request.prepare()
        url = urlsplit(prepared.url)
        headers = {name: str(value) for name, value in prepared.headers.items()}
        headers.setdefault("Host", url.netloc)
        headers.update(added_after_signing or {})
        body = prepared.body or b""
        return HttpRequest(
            method=prepared.method,
            raw_path=url.path,
            query_string=url.query,
            headers=headers,
            body=body if isinstance(body, bytes) else body.encode(),
        )


def sigv4(clock: Callable[[], datetime] | None = None) -> SigV4Authenticator:
    return SigV4Authenticator(
        secret_for=agent_keys, clock=clock or (lambda: datetime.now(UTC)), region=REGION
    )


def test_an_agent_signature_names_the_agent() -> None:
    assert sigv4().authenticate(SignedRequest().sign()) == AGENT_ID


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"service": "dynamodb"}, "another service"),
        ({"service": "sts"}, "another service"),
        ({"region": "eu-west-1"}, "another region"),
        ({"key_id": "AKIAUNKNOWN000000000"}, "not known"),
        ({"secret": "wrongSecret/0123456789+abcdefghijKLMNOPQR"}, "does not match"),
        ({"token": "FwoGZXIvYXdzEJr//////////wEaDA+token=="}, "session credentials"),
        ({"presign": True}, "presigned"),
    ],
)
def test_signatures_that_do_not_check_out_are_refused(changes: dict[str, Any], reason: str) -> None:
    request = SignedRequest(**changes).sign()
    assert reason in refused(lambda: sigv4().authenticate(request), AGENT_SECRET).message


def test_a_body_changed_after_signing_is_refused() -> None:
    signed = SignedRequest().sign()
    changed = HttpRequest(
        signed.method, signed.raw_path, signed.query_string, signed.headers, b'{"reason": "x"}'
    )
    assert "does not match" in refused(lambda: sigv4().authenticate(changed), AGENT_SECRET).message


@pytest.mark.parametrize("offset", [timedelta(minutes=6), timedelta(minutes=-6)])
def test_a_signature_outside_the_clock_skew_is_refused(offset: timedelta) -> None:
    request = SignedRequest().sign()
    late = sigv4(lambda: datetime.now(UTC) + offset)
    assert "clock skew" in refused(lambda: late.authenticate(request), AGENT_SECRET).message


def test_an_unsigned_request_is_refused_by_the_sigv4_authenticator() -> None:
    request = HttpRequest("GET", "/v1/grants", "", {"Host": "127.0.0.1"}, b"")
    refused(lambda: sigv4().authenticate(request))


def test_an_agent_key_does_not_show_its_secret() -> None:
    assert AGENT_SECRET not in repr(AgentKey(AGENT_SECRET, AGENT_ID))


# --- the request authenticator -------------------------------------------------------------------


def authenticator(jwks: InMemoryJwks | None = None) -> RequestAuthenticator:
    return RequestAuthenticator(tokens=verifier(jwks), signatures=sigv4())


def bearer(value: str, **headers: str) -> HttpRequest:
    return HttpRequest(
        "GET", "/v1/grants", "", {"Host": "127.0.0.1", "Authorization": value, **headers}, b""
    )


def test_a_bearer_token_authenticates_its_user() -> None:
    identity = authenticator().authenticate(bearer(f"Bearer {make_token()}"))
    assert identity == VerifiedIdentity(
        "alice.moreau", "cognito", acting_agent_id=None, groups=frozenset({"customers"})
    )


def test_the_bearer_scheme_is_case_insensitive() -> None:
    assert authenticator().authenticate(bearer(f"bearer {make_token()}")).principal_id == (
        "alice.moreau"
    )


def test_an_agent_without_on_behalf_of_acts_as_itself() -> None:
    identity = authenticator().authenticate(SignedRequest().sign())
    assert identity == VerifiedIdentity(AGENT_ID, "sigv4")


def test_an_agent_acting_for_a_user_makes_the_user_the_principal() -> None:
    token = make_token(access_claims(**{"cognito:groups": ["customers", "beta"]}))
    request = SignedRequest(headers={"X-Agent-Zero-On-Behalf-Of": token}).sign()
    assert authenticator().authenticate(request) == VerifiedIdentity(
        "alice.moreau", "sigv4", acting_agent_id=AGENT_ID, groups=frozenset({"customers", "beta"})
    )


def test_a_bearer_caller_may_not_act_on_behalf_of_anyone() -> None:
    own, other = make_token(), make_token(access_claims(username="sam.admin"))
    request = bearer(f"Bearer {own}", **{"X-Agent-Zero-On-Behalf-Of": other})
    assert (
        "signed agent" in refused(lambda: authenticator().authenticate(request), own, other).message
    )


@pytest.mark.parametrize(
    "on_behalf_of",
    [
        make_token(access_claims(token_use="id")),
        make_token(access_claims(exp=int(NOW.timestamp()) - 60)),
        make_token(key=IMPOSTOR_KEY),
        f"Bearer {make_token()}",
        "alice.moreau",
        "",
    ],
)
def test_an_agent_with_a_bad_user_token_is_refused(on_behalf_of: str) -> None:
    request = SignedRequest(headers={"X-Agent-Zero-On-Behalf-Of": on_behalf_of}).sign()
    refused(lambda: authenticator().authenticate(request), on_behalf_of, AGENT_SECRET)


def test_an_on_behalf_of_header_added_after_signing_is_refused() -> None:
    token = make_token()
    request = SignedRequest().sign(added_after_signing={"X-Agent-Zero-On-Behalf-Of": token})
    message = refused(lambda: authenticator().authenticate(request), token, AGENT_SECRET).message
    assert "must be signed" in message


def test_a_badly_signed_agent_cannot_act_for_a_user() -> None:
    token = make_token()
    request = SignedRequest(
        secret="wrongSecret/0123456789+abcdefghijKLMNOPQR",
        headers={"X-Agent-Zero-On-Behalf-Of": token},
    ).sign()
    refused(lambda: authenticator().authenticate(request), token, AGENT_SECRET)


def test_the_user_token_of_an_unsigned_request_is_never_looked_at() -> None:
    jwks = InMemoryJwks(jwks_of(KEY))
    token = make_token(key=OTHER_KEY)  # would cost a refresh if it were verified
    request = SignedRequest(
        key_id="AKIAUNKNOWN000000000", headers={"X-Agent-Zero-On-Behalf-Of": token}
    ).sign()
    refused(lambda: authenticator(jwks).authenticate(request), token)
    assert jwks.refreshes == 0


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Digest username=alice",
        "Token abc.def.ghi",
        "AWS AKIAAGENTSUPPORT0001:c2lnbmF0dXJl",
        "garbage",
        "Bearer {token}, Bearer {token}",
        "Bearer {token} {token}",
        "Bearer\t{token}",
        "{token}",
    ],
)
def test_anything_else_is_refused(authorization: str | None) -> None:
    token = make_token()
    headers = {"Host": "127.0.0.1"}
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=token)
    request = HttpRequest("GET", "/v1/grants", "", headers, b"")
    refused(lambda: authenticator().authenticate(request), token)


def test_a_bearer_token_and_a_presigned_signature_together_are_refused() -> None:
    token = make_token()
    presigned = SignedRequest(method="GET", body=b"", presign=True).sign()
    both = HttpRequest(
        "GET",
        presigned.raw_path,
        presigned.query_string,
        {**presigned.headers, "Authorization": f"Bearer {token}"},
        b"",
    )
    refused(lambda: authenticator().authenticate(both), token, AGENT_SECRET)


def test_a_presigned_agent_request_is_refused() -> None:
    presigned = SignedRequest(method="GET", body=b"", presign=True).sign()
    refused(lambda: authenticator().authenticate(presigned), AGENT_SECRET)


def test_the_on_behalf_of_header_name_is_the_documented_one() -> None:
    assert ON_BEHALF_OF_HEADER.title() == "X-Agent-Zero-On-Behalf-Of"
