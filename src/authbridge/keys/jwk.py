"""JWK and JWK Set loading with key hygiene (V20–V26, V32).

Each key is bound to exactly one algorithm here, at load time: its ``alg`` if it states one,
else the algorithm implied by ``kty``/``crv`` (Better Auth's older keys carry no ``alg``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ..jose.algorithms import (
    ALGORITHMS,
    Algorithm,
    KeyMaterial,
    ec_coordinate_size,
    ec_curve_for,
)
from ..jose.b64 import b64url_decode, b64url_encode
from .ed25519_point import check_ed25519_public_key

__all__ = [
    "KeyProblem",
    "KeyRejected",
    "ParsedKeySet",
    "VerificationKey",
    "parse_jwk",
    "parse_jwks",
    "thumbprint",
]

MAX_KID_LENGTH: Final = 256
MIN_RSA_BITS: Final = 2048
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_EC_ALG_FOR_CURVE: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_RSA_ALGS: Final = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})


class KeyRejected(ValueError):
    """A JWK that must not be used. The reason is safe to show (no key material)."""


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key (or HMAC secret) bound to exactly one algorithm."""

    kid: str | None
    algorithm: Algorithm
    key: KeyMaterial = field(repr=False)
    thumbprint: str | None = None
    kty: str = ""
    detail: str = ""  # curve or size, for display

    @property
    def alg(self) -> str:
        return self.algorithm.name


@dataclass(frozen=True, slots=True)
class KeyProblem:
    kid: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedKeySet:
    keys: dict[str, VerificationKey]
    problems: list[KeyProblem]


def _member(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if type(value) is not str:
        raise KeyRejected(f"member {name!r} is missing or not a string")
    try:
        return b64url_decode(value)
    except ValueError:
        raise KeyRejected(f"member {name!r} is not canonical base64url") from None


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint over the required public members."""
    kty = jwk["kty"]
    names = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
    canonical = {n: jwk[n] for n in names[kty]}
    digest = hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).digest()
    return b64url_encode(digest)


def _bind(kty: str, stated: Any, implied: str, allowed: frozenset[str] | None = None) -> Algorithm:
    if stated is None:
        name = implied
    elif type(stated) is not str or stated not in ALGORITHMS:
        raise KeyRejected("the key's alg is unknown")
    else:
        name = stated
    algorithm = ALGORITHMS[name]
    if algorithm.family != kty or (allowed is not None and name not in allowed):
        raise KeyRejected(f"the key's alg {name} does not fit kty {kty}")
    return algorithm


def _okp(jwk: Mapping[str, Any]) -> tuple[Algorithm, KeyMaterial, str]:
    if jwk.get("crv") != "Ed25519":
        raise KeyRejected("only Ed25519 OKP keys are accepted for signatures")
    raw = _member(jwk, "x")
    try:
        check_ed25519_public_key(raw)
    except ValueError as exc:
        raise KeyRejected(str(exc)) from None
    algorithm = _bind("OKP", jwk.get("alg"), "EdDSA")
    return algorithm, ed25519.Ed25519PublicKey.from_public_bytes(raw), "Ed25519"


def _ec(jwk: Mapping[str, Any]) -> tuple[Algorithm, KeyMaterial, str]:
    crv = jwk.get("crv")
    curve = ec_curve_for(crv) if type(crv) is str else None
    if curve is None or type(crv) is not str:
        raise KeyRejected("unsupported EC curve")
    size = ec_coordinate_size(crv)
    x, y = _member(jwk, "x"), _member(jwk, "y")
    if len(x) != size or len(y) != size:
        raise KeyRejected("EC coordinates have the wrong length")
    algorithm = _bind("EC", jwk.get("alg"), _EC_ALG_FOR_CURVE[crv])
    if algorithm.curve != crv:
        raise KeyRejected("the key's alg does not match its curve")
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
    )
    try:
        key = numbers.public_key()  # checks the point is on the curve
    except ValueError:
        raise KeyRejected("the EC point is not on its curve") from None
    return algorithm, key, crv


def _rsa(jwk: Mapping[str, Any], rsa_algorithm: str) -> tuple[Algorithm, KeyMaterial, str]:
    n = int.from_bytes(_member(jwk, "n"), "big")
    e = int.from_bytes(_member(jwk, "e"), "big")
    if n.bit_length() < MIN_RSA_BITS:
        raise KeyRejected(f"RSA keys under {MIN_RSA_BITS} bits are refused")
    if e < 3 or e % 2 == 0 or e.bit_length() > 32 or n % 2 == 0:
        raise KeyRejected("the RSA key has an unsafe exponent or modulus")
    algorithm = _bind("RSA", jwk.get("alg"), rsa_algorithm, _RSA_ALGS)
    try:
        key = rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        raise KeyRejected("the RSA key is invalid") from None
    return algorithm, key, f"{n.bit_length()} bits"


def parse_jwk(
    jwk: object, *, rsa_algorithm: str = "RS256", require_kid: bool = True
) -> VerificationKey:
    """Load one public JWK for signature verification. Raises ``KeyRejected``."""
    if not isinstance(jwk, Mapping):
        raise KeyRejected("a JWK must be a JSON object")
    kid = jwk.get("kid")
    if kid is not None and (type(kid) is not str or not 0 < len(kid) <= MAX_KID_LENGTH):
        raise KeyRejected("the kid is not a short string")
    if kid is None and require_kid:
        raise KeyRejected("the key has no kid")
    kty = jwk.get("kty")
    if kty == "oct":
        raise KeyRejected("symmetric (oct) keys are never taken from a JWKS")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise KeyRejected("the key carries private members")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise KeyRejected("the key is not for signatures")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise KeyRejected("the key's key_ops do not include verify")
    if kty == "OKP":
        algorithm, key, detail = _okp(jwk)
    elif kty == "EC":
        algorithm, key, detail = _ec(jwk)
    elif kty == "RSA":
        algorithm, key, detail = _rsa(jwk, rsa_algorithm)
    else:
        raise KeyRejected("unknown or missing kty")
    return VerificationKey(
        kid=kid,
        algorithm=algorithm,
        key=key,
        thumbprint=thumbprint(jwk),
        kty=str(kty),
        detail=detail,
    )


def parse_jwks(
    document: object, *, rsa_algorithm: str = "RS256", max_keys: int = 20
) -> ParsedKeySet:
    """Load a JWK Set. Bad keys are dropped with a reason; they never break the others.

    Raises ``ValueError`` only when the document as a whole is unusable.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWK Set is a JSON object with a 'keys' array")
    entries: list[Any] = document["keys"]
    if len(entries) > max_keys:
        raise ValueError(f"the JWK Set has more than {max_keys} keys")
    kids = Counter(e.get("kid") for e in entries if isinstance(e, Mapping))
    keys: dict[str, VerificationKey] = {}
    problems: list[KeyProblem] = []
    for entry in entries:
        kid = entry.get("kid") if isinstance(entry, Mapping) else None
        safe_kid = kid if type(kid) is str and len(kid) <= MAX_KID_LENGTH else None
        if safe_kid is not None and kids[safe_kid] > 1:
            problems.append(KeyProblem(safe_kid, "duplicate kid: every key with it is ignored"))
            continue
        try:
            key = parse_jwk(entry, rsa_algorithm=rsa_algorithm)
        except KeyRejected as exc:
            problems.append(KeyProblem(safe_kid, str(exc)))
            continue
        except (ValueError, TypeError, OverflowError):
            problems.append(KeyProblem(safe_kid, "the key could not be loaded"))
            continue
        assert key.kid is not None
        keys[key.kid] = key
    return ParsedKeySet(keys=keys, problems=problems)
