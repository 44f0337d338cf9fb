"""Checklist D (V33–V36): verify before reading, fixed-length signatures, constant time,
and error messages that never carry secrets."""

from __future__ import annotations

import hmac
from typing import Any

import pytest
from checklist_support import (
    HS_AUDIENCE,
    HS_ISSUER,
    assert_error_is_safe,
    hs_verifier,
    jwks_verifier,
    key_material,
    rejects,
)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import authbridge.verifier.core as verifier_module
from authbridge import StaticJWKS, TrustedIssuer, Verifier
from authbridge.errors import AuthError, InvalidSignature, TokenMalformed
from authbridge.jose.algorithms import get_algorithm
from authbridge.jose.b64 import b64url_decode, b64url_encode
from authbridge.jose.sign import sign_compact
from tokens import (
    AUDIENCE,
    ISSUER,
    FixedClock,
    ba_claims,
    dumps,
    ec_key,
    ed25519_key,
    hs_secret,
    jwks,
    rsa_key,
    sign_raw,
)

ED = ed25519_key("ed-1")
EC = ec_key("ec-1")
RSA = rsa_key("rsa-1")
VERIFIER = jwks_verifier(ED, EC, RSA)
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ED25519_L = 2**252 + 27742317777372353535851937790883648493


def _with_signature(token: str, signature: bytes) -> str:
    head, payload, _ = token.split(".")
    return f"{head}.{payload}.{b64url_encode(signature)}"


def _signature(token: str) -> bytes:
    return b64url_decode(token.rsplit(".", 1)[1])


# --- V33 the signature is checked before any claim is read ------------------------------------


_GARBAGE_PAYLOADS: dict[str, bytes] = {
    "not-json": b"\xff\xfe not json",
    "array": b"[1,2,3]",
    "duplicate-sub": b'{"sub":"a","sub":"b"}',
    "nan": b'{"exp":NaN}',
    "expired": dumps(ba_claims(exp=1)),
    "wrong-issuer": dumps(ba_claims(issuer="https://evil.example")),
    "no-claims": b"{}",
}


@pytest.mark.parametrize("name", sorted(_GARBAGE_PAYLOADS))
async def test_v33_bad_signature_wins_over_bad_claims(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = dumps({"alg": "EdDSA", "kid": ED.kid})
    token = sign_raw(header, _GARBAGE_PAYLOADS[name], ED.private, "EdDSA")
    forged = _with_signature(token, bytes(64))
    decoded: list[object] = []
    real = verifier_module.decode_payload
    monkeypatch.setattr(
        verifier_module, "decode_payload", lambda jws: decoded.append(1) or real(jws)
    )
    await rejects(VERIFIER, forged, InvalidSignature)
    assert decoded == []  # the claims were never decoded
    # A non-canonical payload segment behind a bad signature: still the signature.
    head, payload, sig = forged.split(".")
    await rejects(VERIFIER, f"{head}.{payload}x.{sig}", InvalidSignature)


async def test_v33_a_failing_token_is_rejected_whole_and_never_cached() -> None:
    token = _with_signature(ED.sign(ba_claims()), bytes(64))
    for _ in range(3):
        await rejects(VERIFIER, token, InvalidSignature)
    assert VERIFIER.verify_cached(token) is None


# --- V34 fixed-length signatures ---------------------------------------------------------------


def _es256_variants() -> dict[str, bytes]:
    token = EC.sign(ba_claims())
    raw = _signature(token)
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    head_payload = token.rsplit(".", 1)[0].encode()
    der = EC.private.sign(head_payload, ec.ECDSA(hashes.SHA256()))
    assert decode_dss_signature(der)  # a real DER signature over the same input

    def rs(a: int, b: int, size: int = 32) -> bytes:
        return a.to_bytes(size, "big") + b.to_bytes(size, "big")

    return {
        "der": der,
        "63-bytes": raw[:63],
        "65-bytes": raw + b"\x00",
        "65-bytes-leading-zero": b"\x00" + raw,
        "66-bytes-padded-r-s": rs(r, s, 33),
        "r-s-zero": bytes(64),
        "r-zero": rs(0, s),
        "s-zero": rs(r, 0),
        "r-equals-n": rs(P256_N, s),
        "s-equals-n": rs(r, P256_N),
        "r-plus-n": rs(r + P256_N, s) if r + P256_N < 2**256 else rs(P256_N + 1, s),
        "s-plus-n": rs(r, s + P256_N) if s + P256_N < 2**256 else rs(r, P256_N + 1),
        "all-ff": b"\xff" * 64,
        "empty-ish": b"\x00",
    }


@pytest.mark.parametrize("name", sorted(_es256_variants()))
async def test_v34_es256_signature_must_be_raw_r_s_in_range(name: str) -> None:
    token = EC.sign(ba_claims())
    assert (await VERIFIER.verify(token)).sub
    await rejects(VERIFIER, _with_signature(token, _es256_variants()[name]), InvalidSignature)


def _ed25519_variants() -> dict[str, bytes]:
    raw = _signature(ED.sign(ba_claims()))
    s = int.from_bytes(raw[32:], "little")
    return {
        "s-plus-l": raw[:32] + (s + ED25519_L).to_bytes(32, "little"),
        "s-equals-l": raw[:32] + ED25519_L.to_bytes(32, "little"),
        "s-max": raw[:32] + b"\xff" * 32,
        "63-bytes": raw[:63],
        "65-bytes": raw + b"\x00",
        "zero": bytes(64),
        "r-identity": (1).to_bytes(32, "little") + bytes(32),
    }


@pytest.mark.parametrize("name", sorted(_ed25519_variants()))
async def test_v34_ed25519_signature_length_and_s_below_l(name: str, ed25519_impl: str) -> None:
    token = ED.sign(ba_claims())
    await rejects(VERIFIER, _with_signature(token, _ed25519_variants()[name]), InvalidSignature)


def test_v34_ed25519_s_plus_l_is_refused_by_our_check_not_just_openssl(ed25519_impl: str) -> None:
    algorithm = get_algorithm("EdDSA")
    message = b"header.payload"
    raw = ED.private.sign(message)
    s = int.from_bytes(raw[32:], "little")
    malleable = raw[:32] + (s + ED25519_L).to_bytes(32, "little")
    assert algorithm.verify(ED.private.public_key(), message, raw)
    assert not algorithm.verify(ED.private.public_key(), message, malleable)


@pytest.mark.parametrize("delta", [-1, 1])
async def test_v34_rsa_signature_must_match_the_modulus_length(delta: int) -> None:
    token = RSA.sign(ba_claims())
    raw = _signature(token)
    changed = raw[1:] if delta < 0 else b"\x00" + raw
    await rejects(VERIFIER, _with_signature(token, changed), InvalidSignature)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
async def test_v34_hmac_must_be_full_length(size: int) -> None:
    secret = hs_secret()
    verifier = hs_verifier(secret)
    token = _hs_token(secret)
    mac = _signature(token)
    changed = (mac * 3)[:size] if size else b""
    if size == 0:
        await rejects(verifier, token.rsplit(".", 1)[0] + ".", (AuthError,))
    else:
        await rejects(verifier, _with_signature(token, changed), InvalidSignature, [secret])


def _hs_token(secret: str) -> str:
    return sign_compact(ba_claims(issuer=HS_ISSUER, audience=HS_AUDIENCE), secret.encode(), "HS256")


# --- V35 constant-time MAC comparison ---------------------------------------------------------


async def test_v35_mac_is_compared_with_hmac_compare_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    secret = hs_secret()
    verifier = hs_verifier(secret)
    token = _hs_token(secret)
    assert (await verifier.verify(token)).sub
    assert len(calls) == 1
    assert calls[0][1] == _signature(token)
    wrong = _with_signature(token, bytes(32))
    await rejects(verifier, wrong, InvalidSignature)
    assert len(calls) == 2
    assert calls[1][1] == bytes(32)


# --- V36 errors never contain the signature, key or token -----------------------------------


async def test_v36_no_failure_leaks_material() -> None:
    """Every failure produced in these checklist tests goes through ``rejects``, which checks
    V36; this sweep adds the failures that echo attacker-chosen header values."""
    secret = hs_secret()
    hostile = 'kid\r\nSet-Cookie: x=1"<script>' + "A" * 40
    tokens = [
        sign_raw(dumps({"alg": "EdDSA", "kid": hostile}), dumps(ba_claims()), ED.private, "EdDSA"),
        sign_raw(dumps({"alg": hostile, "kid": ED.kid}), dumps(ba_claims()), ED.private, "EdDSA"),
        sign_raw(
            dumps({"alg": "EdDSA", "kid": ED.kid, "typ": hostile}), b"{}", ED.private, "EdDSA"
        ),
        ED.sign(ba_claims(issuer=hostile)),
        ED.sign(ba_claims(audience=hostile)),
        ED.sign(ba_claims(sub=hostile * 10)),
        _with_signature(_hs_token(secret), bytes(32)),
    ]
    both = hs_verifier(secret, clock=FixedClock())
    for token in tokens:
        for verifier in (VERIFIER, both):
            with pytest.raises(AuthError) as info:
                await verifier.verify(token)
            assert_error_is_safe(info.value, token, [secret, hostile, *key_material(ED, EC, RSA)])
            assert info.value.message.isprintable()


async def test_v33_with_several_issuers_only_iss_is_read_to_route() -> None:
    """Two asymmetric issuers: ``iss`` is read (untrusted) only to pick the path; every
    claim is still checked after that path's signature check."""
    partner = ed25519_key("p-1")
    verifier = Verifier(
        TrustedIssuer.create(StaticJWKS(jwks(ED)), issuer=ISSUER, audience=AUDIENCE),
        TrustedIssuer.create(
            StaticJWKS(jwks(partner)), issuer="https://partner.example", audience=AUDIENCE
        ),
        clock=FixedClock(),
    )
    forged = _with_signature(ED.sign(ba_claims(exp=1)), bytes(64))
    await rejects(verifier, forged, InvalidSignature)  # expired claims never looked at
    header = dumps({"alg": "EdDSA", "kid": ED.kid})
    garbage = _with_signature(sign_raw(header, b"\xff not json", ED.private, "EdDSA"), bytes(64))
    # Routing needs iss: an unreadable payload is malformed before any key is used.
    await rejects(verifier, garbage, TokenMalformed)
