"""Test keys and Better Auth-shaped tokens, minted with ``authbridge.jose.sign``.

Everything here is for tests: fresh keys, public JWKs, the JWT plugin's claim shape
(whole user object + ``sub``/``iat``/``exp``/``iss``/``aud``, header ``{alg, kid}``), the
HS256 ``session_data`` cookie-cache JWT, and ``sign_raw`` for hand-made header/payload bytes.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authbridge.jose.algorithms import get_algorithm
from authbridge.jose.b64 import b64url_encode
from authbridge.jose.sign import sign_compact

ISSUER = "https://auth.example.com"
AUDIENCE = ISSUER
NOW = 1_800_000_000.0
USER_ID = "u7Xh2kQpL9mZr4TbW1cN8vYs3dFg6Jea"

_EC_CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
_EC_ALGS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


@dataclass(frozen=True)
class TestKey:
    """A signing key and the public JWK a Better Auth JWKS would publish for it."""

    __test__ = False  # not a pytest test class

    kid: str
    alg: str
    private: Any = field(repr=False)
    jwk: dict[str, Any] = field(repr=False)

    def sign(self, claims: Mapping[str, Any], **header: Any) -> str:
        return sign_compact(claims, self.private, self.alg, kid=self.kid, header=header or None)


class FixedClock:
    """An injectable clock for the Verifier."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _int_b64(value: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url_encode(value.to_bytes(length, "big"))


def ed25519_key(kid: str = "ed-1") -> TestKey:
    private = ed25519.Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes_raw()
    jwk = {"alg": "EdDSA", "crv": "Ed25519", "x": b64url_encode(raw), "kty": "OKP", "kid": kid}
    return TestKey(kid, "EdDSA", private, jwk)


def ec_key(kid: str = "ec-1", crv: str = "P-256") -> TestKey:
    private = ec.generate_private_key(_EC_CURVES[crv])
    numbers = private.public_key().public_numbers()
    size = (private.curve.key_size + 7) // 8
    jwk = {
        "alg": _EC_ALGS[crv],
        "crv": crv,
        "x": _int_b64(numbers.x, size),
        "y": _int_b64(numbers.y, size),
        "kty": "EC",
        "kid": kid,
    }
    return TestKey(kid, _EC_ALGS[crv], private, jwk)


@functools.lru_cache(maxsize=8)
def _rsa_private(bits: int, slot: int) -> rsa.RSAPrivateKey:
    # RSA generation is slow; a few cached keys serve the whole run.
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def rsa_key(kid: str = "rsa-1", alg: str = "RS256", bits: int = 2048, slot: int = 0) -> TestKey:
    private = _rsa_private(bits, slot)
    numbers = private.public_key().public_numbers()
    jwk = {"alg": alg, "e": _int_b64(numbers.e), "n": _int_b64(numbers.n), "kty": "RSA", "kid": kid}
    return TestKey(kid, alg, private, jwk)


def hs_secret() -> str:
    """A fresh 64-character shared secret (what `authbridge secret` would print)."""
    return secrets.token_urlsafe(48)


def jwks(*keys: TestKey) -> dict[str, Any]:
    return {"keys": [dict(k.jwk) for k in keys]}


def user_object(user_id: str = USER_ID, **extra: Any) -> dict[str, Any]:
    """Better Auth's default JWT payload: the whole session user."""
    user = {
        "id": user_id,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "emailVerified": True,
        "image": None,
        "createdAt": "2026-11-01T09:15:25.306Z",
        "updatedAt": "2026-11-01T09:15:25.306Z",
    }
    user.update(extra)
    return user


def ba_claims(
    now: float = NOW, *, issuer: str = ISSUER, audience: Any = AUDIENCE, **overrides: Any
) -> dict[str, Any]:
    """Claims exactly as Better Auth's jwt plugin signs them (15-minute lifetime)."""
    iat = int(now)
    claims: dict[str, Any] = {"iat": iat, **user_object()}
    claims.update(sub=USER_ID, exp=iat + 900, iss=issuer, aud=audience)
    for name, value in overrides.items():
        if value is _DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


_DROP: Any = _Drop()
DROP: Any = _DROP  # ba_claims(exp=DROP) removes the claim


def cookie_cache_claims(now: float = NOW, max_age: int = 300) -> dict[str, Any]:
    """The `session_data` payload of `cookieCache.strategy = "jwt"` (no iss/aud/sub)."""
    iat = int(now)
    session = {
        "id": "s" * 32,
        "token": "edIda55cDWMSK41DH5zG9ea1wmojrLkn",
        "userId": USER_ID,
        "expiresAt": "2026-12-04T09:15:25.306Z",
        "ipAddress": "127.0.0.1",
        "userAgent": "pytest",
    }
    return {
        "session": session,
        "user": user_object(),
        "updatedAt": iat * 1000,
        "version": "1",
        "iat": iat,
        "exp": iat + max_age,
    }


def cookie_cache_jwt(secret: str, now: float = NOW, **extra_claims: Any) -> str:
    """Better Auth's HS256 cookie-cache JWT: header exactly {"alg":"HS256"}."""
    claims = {**cookie_cache_claims(now), **extra_claims}
    return sign_compact(claims, secret.encode(), "HS256")


def sign_raw(header: bytes, payload: bytes, key: Any, alg: str) -> str:
    """Sign arbitrary header/payload bytes (duplicate keys, NaN, BOM, ...)."""
    signing_input = f"{b64url_encode(header)}.{b64url_encode(payload)}"
    signature = get_algorithm(alg).sign(key, signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def segments(token: str) -> list[str]:
    return token.split(".")
