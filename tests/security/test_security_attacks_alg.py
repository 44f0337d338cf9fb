"""Attack corpus, algorithms and signatures: ``alg: none``, HS256 keyed with the issuer's public
key in every encoding, psychic ECDSA signatures, Ed25519 S+L malleability, small-order keys.

Every forged token is built here, by the test, from the issuer's real public material.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from security_support import HS_AUDIENCE, HS_ISSUER, KeyRing, refused

from authbridge import StaticJWKS, Verifier
from authbridge.errors import (
    AlgorithmNotAllowed,
    InvalidSignature,
    KeysUnavailable,
    TokenMalformed,
    UnknownKey,
)
from authbridge.jose.algorithms import get_algorithm
from authbridge.jose.b64 import b64url_decode, b64url_encode
from authbridge.keys.remote import RemoteJWKS
from authbridge.verifier import TrustedIssuer
from keys.jwks_server import running_jwks_server
from security.log_guard import watch, watch_token
from tokens import (
    AUDIENCE,
    ISSUER,
    FixedClock,
    TestKey,
    ba_claims,
    dumps,
    ec_key,
    ed25519_key,
    jwks,
    rsa_key,
    sign_raw,
)

ED25519_L = 2**252 + 27742317777372353535851937790883648493
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P521_N = int(
    "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    16,
)


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing()


def _verifiers(ring: KeyRing) -> dict[str, Verifier]:
    return {"jwks-only": ring.jwks_only(), "jwks+hs256": ring.two_paths()}


async def test_baseline_the_real_keys_verify(ring: KeyRing) -> None:
    """The corpus means something only if the untouched tokens pass."""
    for verifier in _verifiers(ring).values():
        for key in ring.all:
            principal = await verifier.verify(key.sign(ba_claims()))
            assert principal.issuer == ISSUER
    service_token = sign_raw(
        dumps({"alg": "HS256"}),
        dumps(ba_claims(issuer=HS_ISSUER, audience=HS_AUDIENCE)),
        ring.secret.encode(),
        "HS256",
    )
    assert (await ring.two_paths().verify(service_token)).issuer == HS_ISSUER


# --- alg none ------------------------------------------------------------------------------

_NONE_SPELLINGS: list[Any] = ["none", "None", "NONE", "nOnE", "", " none", "none\x00", None, 0]


@pytest.mark.parametrize("alg", [*_NONE_SPELLINGS, "missing"], ids=repr)
@pytest.mark.parametrize("signature", ["", "AAAA", "copied"])
@pytest.mark.parametrize("verifier_name", ["jwks-only", "jwks+hs256"])
async def test_alg_none_in_every_spelling(
    ring: KeyRing, alg: Any, signature: str, verifier_name: str
) -> None:
    header: dict[str, Any] = {"kid": ring.ed.kid}
    if alg != "missing":
        header["alg"] = alg
    genuine = ring.ed.sign(ba_claims())
    unsigned = f"{b64url_encode(dumps(header))}.{genuine.split('.')[1]}"
    sig = genuine.split(".")[2] if signature == "copied" else signature
    token = f"{unsigned}.{sig}"
    error = await refused(_verifiers(ring)[verifier_name], token)
    assert isinstance(error, TokenMalformed | AlgorithmNotAllowed)


# --- HS256 keyed with the issuer's public key ------------------------------------------------


def _public_encodings(key: TestKey) -> dict[str, bytes]:
    """Every spelling of a public key an attacker could feed to HMAC."""
    public = key.private.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    spellings = {
        "pem-spki": pem,
        "pem-spki-crlf": pem.replace(b"\n", b"\r\n"),
        "pem-spki-no-final-newline": pem.rstrip(b"\n"),
        "der-spki": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "openssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        "jwk-text": json.dumps(key.jwk).encode(),
        "jwk-text-compact": dumps(key.jwk),
        "jwks-text": json.dumps(jwks(key)).encode(),
        "jwks-text-compact": dumps(jwks(key)),
    }
    if key.alg == "EdDSA":
        raw = public.public_bytes_raw()
        spellings |= {"raw-x": raw, "x-base64url": key.jwk["x"].encode()}
    elif key.alg.startswith("ES"):
        spellings["x962-point"] = public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        spellings["x-base64url"] = key.jwk["x"].encode()
    else:
        spellings |= {
            "pem-pkcs1": public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
            ),
            "der-pkcs1": public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.PKCS1
            ),
            "n-base64url": key.jwk["n"].encode(),
        }
    return spellings


def _confusion_cases() -> list[tuple[str, str]]:
    samples = {"ed": ed25519_key(), "ec": ec_key(), "rsa": rsa_key()}
    return [(family, name) for family, key in samples.items() for name in _public_encodings(key)]


@pytest.mark.parametrize(("family", "encoding"), _confusion_cases())
@pytest.mark.parametrize("hmac_alg", ["HS256", "HS384", "HS512"])
async def test_hmac_keyed_with_the_public_key(
    ring: KeyRing, family: str, encoding: str, hmac_alg: str
) -> None:
    """RFC 8725 §3.1 / CVE-2015-9235: the classic RS256→HS256 downgrade, every key spelling,
    claims aimed at either path, with and without a kid."""
    key: TestKey = getattr(ring, family)
    secret = _public_encodings(key)[encoding]
    watch(secret)
    for claims in (ba_claims(), ba_claims(issuer=HS_ISSUER, audience=HS_AUDIENCE)):
        for header in ({"alg": hmac_alg, "kid": key.kid}, {"alg": hmac_alg}):
            token = sign_raw(dumps(header), dumps(claims), secret, hmac_alg)
            only_jwks = await refused(ring.jwks_only(), token)
            assert isinstance(only_jwks, AlgorithmNotAllowed)
            both = await refused(ring.two_paths(), token)
            # HS256 goes to the shared-secret path, whose MAC never matches; other HMACs
            # are not allowed anywhere.
            expected = InvalidSignature if hmac_alg == "HS256" else AlgorithmNotAllowed
            assert isinstance(both, expected), both


async def test_the_shared_secret_never_verifies_asymmetric_algs(ring: KeyRing) -> None:
    """The converse confusion: an EdDSA/ES256 header over an HMAC made with the secret."""
    verifier = ring.two_paths()
    for alg in ("EdDSA", "ES256", "RS256", "PS256"):
        for claims in (ba_claims(), ba_claims(issuer=HS_ISSUER, audience=HS_AUDIENCE)):
            signing_input = (
                f"{b64url_encode(dumps({'alg': alg, 'kid': ring.ed.kid}))}."
                f"{b64url_encode(dumps(claims))}"
            )
            mac = get_algorithm("HS256").sign(ring.secret.encode(), signing_input.encode())
            error = await refused(verifier, f"{signing_input}.{b64url_encode(mac)}")
            assert isinstance(error, InvalidSignature | AlgorithmNotAllowed)


# --- psychic ECDSA (CVE-2022-21449) ---------------------------------------------------------


def _with_signature(token: str, signature: bytes) -> str:
    return f"{token.rpartition('.')[0]}.{b64url_encode(signature)}"


def _psychic_pairs(n: int, r: int, s: int) -> dict[str, tuple[int, int]]:
    pairs = {
        "r=s=0": (0, 0),
        "r=0": (0, s),
        "s=0": (r, 0),
        "r=s=n": (n, n),
        "r=n": (n, s),
        "s=n": (r, n),
        "r=n+1": (n + 1, s),
        "s=n+1": (r, n + 1),
        "r=s=n-1": (n - 1, n - 1),
        "r=s=1": (1, 1),
    }
    if r + n < 2 ** (8 * ((n.bit_length() + 7) // 8)):
        pairs["r+n"] = (r + n, s)
    if s + n < 2 ** (8 * ((n.bit_length() + 7) // 8)):
        pairs["s+n"] = (r, s + n)
    return pairs


@pytest.mark.parametrize(("crv", "order"), [("P-256", P256_N), ("P-521", P521_N)])
async def test_psychic_and_out_of_range_ecdsa_signatures(crv: str, order: int) -> None:
    key = ec_key(f"psychic-{crv}", crv)
    verifier = Verifier(
        TrustedIssuer.create(StaticJWKS(jwks(key)), issuer=ISSUER, audience=AUDIENCE),
        clock=FixedClock(),
    )
    genuine = key.sign(ba_claims())
    assert (await verifier.verify(genuine)).sub
    size = (order.bit_length() + 7) // 8
    raw = b64url_decode(genuine.split(".")[2])
    r, s = int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    cases = _psychic_pairs(order, r, s)
    cases_bytes = {
        name: a.to_bytes(size, "big") + b.to_bytes(size, "big") for name, (a, b) in cases.items()
    }
    cases_bytes["all-ones"] = b"\xff" * (2 * size)
    cases_bytes["empty"] = b""
    cases_bytes["half"] = raw[:size]
    for name, signature in cases_bytes.items():
        error = await refused(verifier, _with_signature(genuine, signature))
        assert isinstance(error, InvalidSignature | TokenMalformed), name


# --- Ed25519 -------------------------------------------------------------------------------


async def test_ed25519_s_plus_l_malleability(ring: KeyRing) -> None:
    """RFC 8032 §5.1.7: S must be below L, or one token has several valid spellings."""
    verifier = ring.jwks_only()
    genuine = ring.ed.sign(ba_claims())
    assert await verifier.verify(genuine)
    raw = b64url_decode(genuine.split(".")[2])
    s = int.from_bytes(raw[32:], "little")
    for k in (1, 2, 3):
        forged = raw[:32] + (s + k * ED25519_L).to_bytes(32, "little")
        error = await refused(ring.jwks_only(), _with_signature(genuine, forged))
        assert isinstance(error, InvalidSignature)


# Canonical encodings of the eight small-order points, plus non-canonical spellings of them.
SMALL_ORDER_POINTS = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
]


async def test_small_order_keys_in_a_served_jwks_are_ignored() -> None:
    """A JWKS (over HTTP) that lists small-order Ed25519 keys: each is dropped at load, a
    token "signed" for it (R = the small-order point, S = 0) is refused, the real key works."""
    real = ed25519_key("real")
    small = [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "kid": f"small-{i}",
            "x": b64url_encode(bytes.fromhex(h)),
        }
        for i, h in enumerate(SMALL_ORDER_POINTS)
    ]
    with running_jwks_server() as server:
        server.document = {"keys": [real.jwk, *small]}
        source = RemoteJWKS(server.url, cooldown=3600)
        verifier = Verifier(
            TrustedIssuer.create(source, issuer=ISSUER, audience=AUDIENCE), clock=FixedClock()
        )
        try:
            assert (await verifier.verify(real.sign(ba_claims()))).sub
            assert set(source.keys) == {"real"}
            assert {p.kid for p in source.problems} == {k["kid"] for k in small}
            for entry in small:
                point = b64url_decode(entry["x"])
                for signature in (point + bytes(32), bytes(64), b"\x01" + bytes(63)):
                    header = dumps({"alg": "EdDSA", "kid": entry["kid"]})
                    token = (
                        f"{b64url_encode(header)}.{b64url_encode(dumps(ba_claims()))}."
                        f"{b64url_encode(signature)}"
                    )
                    error = await refused(verifier, token)
                    assert isinstance(error, UnknownKey)
            # The bad kids cost at most the one unknown-kid refetch, however many tokens.
            assert server.requests <= 2
        finally:
            await verifier.aclose()


async def test_a_jwks_with_only_small_order_keys_is_no_keys_at_all() -> None:
    with running_jwks_server() as server:
        server.document = {
            "keys": [
                {"kty": "OKP", "crv": "Ed25519", "kid": "s", "x": b64url_encode(bytes(32))},
            ]
        }
        source = RemoteJWKS(server.url, cooldown=3600)
        verifier = Verifier(
            TrustedIssuer.create(source, issuer=ISSUER, audience=AUDIENCE), clock=FixedClock()
        )
        token = watch_token(
            f"{b64url_encode(dumps({'alg': 'EdDSA', 'kid': 's'}))}."
            f"{b64url_encode(dumps(ba_claims()))}.{b64url_encode(bytes(64))}"
        )
        started = time.monotonic()
        try:
            with pytest.raises(KeysUnavailable):
                await verifier.verify(token)
        finally:
            await verifier.aclose()
        assert time.monotonic() - started < 5
