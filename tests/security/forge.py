"""Tokens an attacker would build: altered, re-signed, unsigned, or signed with the wrong key.

``moto_signing_key`` is the private key every moto user pool signs with (it ships inside
moto): with it the suite forges tokens whose signature verifies, so each claim check is
tested on its own. An attacker does not have it on AWS; the cases that use it stand for
"what if one claim were wrong in an otherwise valid token".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from moto.utilities.utils import load_resource

MOTO_KID = "dummy"  # the key id moto's JWKS and tokens carry


def moto_signing_key() -> RSAKey:
    """The private key of every moto user pool (usable with any RSA algorithm)."""
    data = dict(load_resource("cognitoidp/resources/jwks-private.json"))
    data.pop("alg", None)
    return RSAKey.import_key(data)


def attacker_rsa_key() -> RSAKey:
    """A fresh 2048-bit key nobody trusts."""
    return RSAKey.generate_key(2048)


def attacker_ec_key() -> ECKey:
    """A fresh P-256 key nobody trusts."""
    return ECKey.generate_key("P-256")


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWTs encode every part."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(value: Any) -> str:
    """One JSON part of a compact JWT (NaN allowed, as an attacker may send it)."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a compact JWT, unverified."""
    payload = token.split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert isinstance(decoded, dict)
    return decoded


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    """header.payload.signature with whatever signature text is given."""
    return f"{part(header)}.{part(claims)}.{signature}"


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HMAC-SHA256 token: the classic attack signs with the server's *public* key."""
    signing_input = f"{part(header)}.{part(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def signed(header: dict[str, Any], claims: dict[str, Any], key: RSAKey | ECKey) -> str:
    """A token signed with ``key`` using the header's algorithm."""
    return jwt.encode(header, claims, key, algorithms=[str(header["alg"])])
