"""Checklist C (V21–V27, V32): key material hygiene.

V28 (JWKS fetch limits), V29 (caching, cooldown, single flight), V30 (stale-while-error) and
V31 (rotation) belong to the remote JWKS source and are tested in tests/keys/test_remote.py
and tests/keys/test_remote_fetch.py; they are not duplicated here.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from checklist_support import assert_error_is_safe, jwks_verifier, rejects
from cryptography.hazmat.primitives.asymmetric import rsa

from authbridge import SharedSecret, StaticJWKS, Verifier
from authbridge.config import load_settings
from authbridge.errors import ConfigError, InvalidSignature, UnknownKey
from authbridge.jose.b64 import b64url_decode, b64url_encode
from authbridge.keys.jwk import KeyRejected, parse_jwk, parse_jwks
from authbridge.keys.secret import BETTER_AUTH_DEFAULT_SECRET
from authbridge.verifier import TrustedIssuer
from tokens import AUDIENCE, ISSUER, FixedClock, ba_claims, ec_key, ed25519_key, jwks, rsa_key

ED = ed25519_key("ed-1")
EC = ec_key("ec-1")
RSA = rsa_key("rsa-1")


def _without(jwk: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k not in names}


def _refused(jwk: Any) -> str:
    with pytest.raises(KeyRejected) as info:
        parse_jwk(jwk)
    return str(info.value)


# --- V21 shared secret ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "short",
        "x" * 31,
        secrets.token_bytes(31),
        BETTER_AUTH_DEFAULT_SECRET,
        "a" * 64,
        "abababababababababababababababab",
    ],
    ids=["empty", "short", "31-chars", "31-bytes", "better-auth-default", "one-char", "two-chars"],
)
def test_v21_weak_secrets_are_refused_naming_the_variable(secret: str | bytes) -> None:
    with pytest.raises(ConfigError) as info:
        SharedSecret(secret)
    assert info.value.variable == "AUTHBRIDGE_JWT_SECRET"
    assert info.value.fix
    shown = secret.decode(errors="ignore") if isinstance(secret, bytes) else secret
    if len(shown) >= 4:
        assert shown not in str(info.value)


def test_v21_default_better_auth_secret_refused_from_settings() -> None:
    settings = load_settings(
        AUTHBRIDGE_JWT_SECRET=BETTER_AUTH_DEFAULT_SECRET,
        AUTHBRIDGE_JWT_ISSUER="https://svc.example",
        AUTHBRIDGE_JWT_AUDIENCE="https://api.example",
    )
    with pytest.raises(ConfigError) as info:
        Verifier.from_settings(settings)
    assert info.value.variable == "AUTHBRIDGE_JWT_SECRET"
    assert "default" in info.value.problem
    assert BETTER_AUTH_DEFAULT_SECRET not in str(info.value)


def test_v21_secret_length_follows_the_hash() -> None:
    assert SharedSecret(secrets.token_bytes(32)).algorithms == {"HS256"}
    with pytest.raises(ConfigError):
        SharedSecret(secrets.token_bytes(47), algorithms=["HS384"])
    with pytest.raises(ConfigError):
        SharedSecret(secrets.token_bytes(63), algorithms=["HS512"])
    assert SharedSecret(secrets.token_bytes(64), algorithms=["HS512"]).algorithms == {"HS512"}


# --- V22 RSA ----------------------------------------------------------------------------------


def _rsa_jwk(n: int, e: int, kid: str = "r") -> dict[str, Any]:
    def enc(v: int) -> str:
        return b64url_encode(v.to_bytes((v.bit_length() + 7) // 8, "big"))

    return {"kty": "RSA", "alg": "RS256", "n": enc(n), "e": enc(e), "kid": kid}


def test_v22_rsa_under_2048_bits_is_refused() -> None:
    small = rsa.generate_private_key(65537, 1024).public_key().public_numbers()
    assert "2048" in _refused(_rsa_jwk(small.n, small.e))
    n = RSA.private.public_key().public_numbers().n
    assert "2048" in _refused(_rsa_jwk(n >> 1 | 1, 65537))  # 2047 bits


@pytest.mark.parametrize("e", [1, 2, 4, 65536, 0, 2**33 + 1], ids=str)
def test_v22_unsafe_rsa_exponents_are_refused(e: int) -> None:
    n = RSA.private.public_key().public_numbers().n
    jwk = _rsa_jwk(n, e)
    if e == 0:
        jwk["e"] = "AA"
    _refused(jwk)


def test_v22_even_modulus_is_refused() -> None:
    n = RSA.private.public_key().public_numbers().n
    _refused(_rsa_jwk(n + 1, 65537))


def test_v22_rsa_with_exponent_3_is_allowed() -> None:
    key = rsa.generate_private_key(3, 2048).public_key().public_numbers()
    assert parse_jwk(_rsa_jwk(key.n, key.e)).alg == "RS256"


# ROCA moduli: see test_wycheproof.py::test_jwk_roca_key_is_refused_with_a_reason.


# --- V23 EC -----------------------------------------------------------------------------------


def test_v23_curve_must_match_alg() -> None:
    assert "alg" in _refused({**EC.jwk, "alg": "ES384"})
    assert "alg" in _refused({**EC.jwk, "alg": "ES512"})
    p384 = ec_key("p384", "P-384")
    _refused({**p384.jwk, "alg": "ES256"})
    assert parse_jwk(p384.jwk).alg == "ES384"
    assert parse_jwk(ec_key("p521", "P-521").jwk).alg == "ES512"


@pytest.mark.parametrize("member", ["x", "y"])
def test_v23_coordinates_must_be_full_length(member: str) -> None:
    raw = b64url_decode(EC.jwk[member])
    for wrong in (raw[1:], b"\x00" + raw, raw + b"\x00"):
        _refused({**EC.jwk, member: b64url_encode(wrong)})


def test_v23_point_must_be_on_the_curve() -> None:
    y = int.from_bytes(b64url_decode(EC.jwk["y"]), "big")
    assert "curve" in _refused(
        {**EC.jwk, "y": b64url_encode(((y + 1) % 2**256).to_bytes(32, "big"))}
    )
    _refused({**EC.jwk, "x": b64url_encode(bytes(32)), "y": b64url_encode(bytes(32))})


@pytest.mark.parametrize("crv", ["secp256k1", "P-192", "p-256", "", None, 256])
def test_v23_unknown_curves_are_refused(crv: Any) -> None:
    _refused({**_without(EC.jwk, "alg"), "crv": crv})


def test_v23_missing_coordinate_is_refused() -> None:
    _refused(_without(EC.jwk, "y"))


# --- V24 OKP ----------------------------------------------------------------------------------

_P = 2**255 - 19
# Ed25519 points of small order (canonical encodings): identity, order 2, order 4, order 8.
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
]


def _okp(x: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "x": b64url_encode(x),
        "kid": "o",
        **extra,
    }


@pytest.mark.parametrize("point", SMALL_ORDER)
def test_v24_small_order_ed25519_keys_are_refused(point: str) -> None:
    raw = bytes.fromhex(point)
    if point.endswith("80"):  # the sign bit set on x = 0: non-canonical rather than small
        _refused(_okp(raw))
        return
    assert "small order" in _refused(_okp(raw))


@pytest.mark.parametrize("y", [_P, _P + 1, 2**255 - 1])
def test_v24_non_canonical_y_is_refused(y: int) -> None:
    assert "canonical" in _refused(_okp(y.to_bytes(32, "little")))


@pytest.mark.parametrize("size", [0, 31, 33, 57])
def test_v24_wrong_length_is_refused(size: int) -> None:
    _refused(_okp(secrets.token_bytes(size)))


def test_v24_private_d_in_a_public_jwks_is_refused() -> None:
    d = ED.private.private_bytes_raw()
    assert "private" in _refused({**ED.jwk, "d": b64url_encode(d)})


@pytest.mark.parametrize("crv", ["X25519", "X448", "Ed448", "ed25519", None])
def test_v24_other_okp_curves_are_refused(crv: Any) -> None:
    _refused({**ED.jwk, "crv": crv})


# --- V25 use / key_ops / kty ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "value", "ok"),
    [
        ("use", "sig", True),
        ("use", "enc", False),
        ("use", "SIG", False),
        ("use", "", False),
        ("key_ops", ["verify"], True),
        ("key_ops", ["sign", "verify"], True),
        ("key_ops", ["sign"], False),
        ("key_ops", ["encrypt"], False),
        ("key_ops", [], False),
        ("key_ops", "verify", False),
    ],
)
def test_v25_use_and_key_ops(member: str, value: Any, ok: bool) -> None:
    jwk = {**ED.jwk, member: value}
    if ok:
        assert parse_jwk(jwk).alg == "EdDSA"
    else:
        _refused(jwk)


@pytest.mark.parametrize(
    ("source", "alg"), [("ed", "ES256"), ("ed", "RS256"), ("ec", "EdDSA"), ("rsa", "ES256")]
)
def test_v25_kty_must_fit_the_alg(source: str, alg: str) -> None:
    jwk = {"ed": ED.jwk, "ec": EC.jwk, "rsa": RSA.jwk}[source]
    _refused({**jwk, "alg": alg})


# --- V26 JWK Set hygiene --------------------------------------------------------------------


async def test_v26_duplicate_kid_drops_every_key_with_it() -> None:
    twin = ed25519_key("ed-1")
    other = ed25519_key("ed-2")
    parsed = parse_jwks(jwks(ED, twin, other))
    assert set(parsed.keys) == {"ed-2"}
    assert [p.kid for p in parsed.problems] == ["ed-1", "ed-1"]
    verifier = jwks_verifier(ED, twin, other)
    await rejects(verifier, ED.sign(ba_claims()), UnknownKey)
    await rejects(verifier, twin.sign(ba_claims()), UnknownKey)
    assert (await verifier.verify(other.sign(ba_claims()))).sub


def test_v26_oct_and_private_and_unknown_keys_are_dropped() -> None:
    document = {
        "keys": [
            {
                "kty": "oct",
                "k": b64url_encode(secrets.token_bytes(32)),
                "kid": "hmac",
                "alg": "HS256",
            },
            {**ED.jwk, "kid": "with-d", "d": b64url_encode(secrets.token_bytes(32))},
            {**RSA.jwk, "kid": "with-p", "p": "AQAB"},
            {"kty": "FOO", "kid": "unknown"},
            {"kid": "no-kty"},
            _without(EC.jwk, "kid"),
            ED.jwk,
        ]
    }
    parsed = parse_jwks(document)
    assert set(parsed.keys) == {"ed-1"}
    assert len(parsed.problems) == 6
    reasons = " ".join(p.reason for p in parsed.problems)
    assert "oct" in reasons
    assert "private" in reasons
    for problem in parsed.problems:  # reasons never carry key material
        for jwk in document["keys"]:
            for name in ("k", "d", "x", "n"):
                if name in jwk and len(str(jwk[name])) > 4:
                    assert str(jwk[name]) not in problem.reason


def test_v26_whole_document_shape() -> None:
    for bad in ([ED.jwk], {"keys": ED.jwk}, {"key": [ED.jwk]}, "keys", None):
        with pytest.raises(ValueError):
            parse_jwks(bad)
    with pytest.raises(ValueError):
        parse_jwks({"keys": [ED.jwk] * 21})


# --- V27 keys come from configuration only -------------------------------------------------


class _RecordingKeys:
    """A KeySource that records what the verifier asks for."""

    symmetric = False

    def __init__(self) -> None:
        self.asked: list[tuple[str | None, str]] = []
        self.inner = parse_jwks(jwks(ED)).keys

    def cached_key(self, kid: str | None, alg: str) -> Any:
        self.asked.append((kid, alg))
        return self.inner.get(kid) if kid else None

    async def get_key(self, kid: str | None, alg: str) -> Any:
        key = self.cached_key(kid, alg)
        if key is None:
            raise UnknownKey()
        return key

    def on_keys_removed(self, listener: Any) -> None:
        pass

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


async def test_v27_only_the_configured_key_source_is_consulted() -> None:
    keys = _RecordingKeys()
    verifier = Verifier(TrustedIssuer.create(keys, issuer=ISSUER, audience=AUDIENCE))
    attacker = ed25519_key("ed-1")
    # The token names another issuer: it is not used to find keys (only kid and alg are).
    token = attacker.sign(ba_claims(issuer="https://evil.example"))
    with pytest.raises(InvalidSignature) as info:
        await verifier.verify(token)
    assert_error_is_safe(info.value, token)
    assert keys.asked == [("ed-1", "EdDSA")]
    assert verifier.paths[0].keys is keys


def test_v27_the_jwks_url_comes_from_settings() -> None:
    settings = load_settings(BETTER_AUTH_URL="https://auth.example.com/some/path/")
    assert settings.resolved_jwks_url() == "https://auth.example.com/some/path/api/auth/jwks"
    explicit = load_settings(
        BETTER_AUTH_URL="https://auth.example.com", AUTHBRIDGE_JWKS_URL="https://keys.example/j"
    )
    assert explicit.resolved_jwks_url() == "https://keys.example/j"


# --- V32 one malformed JWK never breaks the others ---------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"kty": "RSA", "kid": "bad", "n": "!!!", "e": "AQAB"},
        {"kty": "RSA", "kid": "bad", "n": 12345, "e": "AQAB"},
        {"kty": "RSA", "kid": "bad", "n": RSA.jwk["n"]},
        {"kty": "RSA", "kid": "bad", "n": "", "e": ""},
        {"kty": "EC", "kid": "bad", "crv": "P-256", "x": "AA", "y": None},
        {"kty": "OKP", "kid": "bad", "crv": "Ed25519", "x": ["a"]},
        {"kty": "OKP", "kid": "bad", "crv": "Ed25519", "x": "A" * 10_000},
        {"kty": "EC", "kid": "bad", "crv": {"$ne": 1}, "x": "AA", "y": "AA"},
        {"kid": 7, "kty": "OKP"},
        {"kid": "k" * 1000, "kty": "OKP"},
        ["not", "an", "object"],
        "string",
        None,
        42,
    ],
)
async def test_v32_malformed_jwk_does_not_break_other_kids(bad: Any) -> None:
    parsed = parse_jwks({"keys": [bad, ED.jwk, EC.jwk]})
    assert set(parsed.keys) == {"ed-1", "ec-1"}
    assert len(parsed.problems) == 1
    verifier = Verifier(
        TrustedIssuer.create(
            StaticJWKS({"keys": [bad, ED.jwk, EC.jwk]}), issuer=ISSUER, audience=AUDIENCE
        ),
        clock=FixedClock(),
    )
    assert (await verifier.verify(ED.sign(ba_claims()))).sub
    assert (await verifier.verify(EC.sign(ba_claims()))).sub
