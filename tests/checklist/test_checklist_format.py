"""Checklist A (V3–V8): size, compact form, canonical base64url, strict JSON, before crypto."""

from __future__ import annotations

import base64
import json

import pytest
from checklist_support import jwks_verifier, key_material, rejects

import authbridge.jose.parse as parse_module
from authbridge.errors import AuthError, TokenMalformed, TokenTooLarge
from authbridge.jose.algorithms import get_algorithm
from authbridge.jose.b64 import b64url_decode, b64url_encode
from authbridge.jose.parse import parse_compact
from authbridge.verifier import TokenPolicy
from tokens import ba_claims, dumps, ed25519_key, sign_raw, user_object

KEY = ed25519_key("ed-1")
VERIFIER = jwks_verifier(KEY)
GOOD = KEY.sign(ba_claims())
HEADER = dumps({"alg": "EdDSA", "kid": KEY.kid})
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


async def test_baseline_token_verifies() -> None:
    principal = await VERIFIER.verify(GOOD)
    assert principal.sub == ba_claims()["sub"]


# --- V3 size cap -------------------------------------------------------------------------


async def test_v03_oversized_token_is_refused_before_any_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def must_not_run(*_: object) -> None:
        raise AssertionError("decoded an oversized token")

    monkeypatch.setattr(parse_module, "decode_standard", must_not_run)
    monkeypatch.setattr(parse_module, "loads_object", must_not_run)
    await rejects(VERIFIER, "A" * 8193, TokenTooLarge)
    await rejects(VERIFIER, GOOD + "A" * 8192, TokenTooLarge)
    with pytest.raises(TokenTooLarge):
        parse_compact("{" * 100, max_bytes=99)


async def test_v03_a_genuine_but_bloated_token_is_refused_and_the_cap_is_configurable() -> None:
    # Better Auth puts the whole user in the token: a long image URL inflates it.
    claims = ba_claims(image="https://cdn.example.com/" + "a" * 9000)
    token = KEY.sign(claims)
    await rejects(VERIFIER, token, TokenTooLarge)
    roomy = jwks_verifier(KEY, policy=TokenPolicy(max_token_bytes=16384))
    assert (await roomy.verify(token)).image == claims["image"]


async def test_v03_the_cap_is_inclusive() -> None:
    token = KEY.sign(ba_claims())
    exact = jwks_verifier(KEY, policy=TokenPolicy(max_token_bytes=len(token)))
    assert (await exact.verify(token)).sub
    small = TokenPolicy(max_token_bytes=len(token) - 1)
    await rejects(jwks_verifier(KEY, policy=small), token, TokenTooLarge)


# --- V4 compact serialization only ---------------------------------------------------------


def _variants() -> dict[str, str]:
    h, p, s = GOOD.split(".")
    flattened = json.dumps({"protected": h, "payload": p, "signature": s})
    general = json.dumps({"payload": p, "signatures": [{"protected": h, "signature": s}]})
    jwe_header = b64url_encode(dumps({"alg": "dir", "enc": "A256GCM", "kid": KEY.kid}))
    return {
        "flattened-json": flattened,
        "general-json": general,
        "five-segment-jwe": f"{jwe_header}.{p}.{s}.{p}.{s}",
        "two-segments": f"{h}.{p}",
        "four-segments": f"{h}.{p}.{s}.{s}",
        "empty-header": f".{p}.{s}",
        "empty-payload": f"{h}..{s}",
        "empty-signature": f"{h}.{p}.",
        "trailing-dot": f"{GOOD}.",
        "all-empty": "..",
        "padding": f"{h}.{p}.{s}==",
        "padding-inside": f"{h}=.{p}.{s}",
        "plus": GOOD.replace("-", "+") if "-" in GOOD else f"{h}.{p}.+{s[1:]}",
        "slash": GOOD.replace("_", "/") if "_" in GOOD else f"{h}.{p}./{s[1:]}",
        "leading-space": " " + GOOD,
        "trailing-newline": GOOD + "\n",
        "inner-space": f"{h}. {p}.{s}",
        "tab": f"{h}.{p}\t.{s}",
        "brace": "{" + GOOD[1:],
        "quote": f'"{GOOD}"',
        "bearer-prefix": "Bearer " + GOOD,
        "non-ascii": f"{h}.{p}.{s[:-1]}é",
        "percent-encoded": GOOD.replace("-", "%2D") if "-" in GOOD else GOOD[:-1] + "%3D",
    }


@pytest.mark.parametrize("name", sorted(_variants()))
async def test_v04_only_compact_serialization(name: str) -> None:
    await rejects(VERIFIER, _variants()[name], TokenMalformed, key_material(KEY))


async def test_v04_jwe_is_named_as_such() -> None:
    error = await rejects(VERIFIER, _variants()["five-segment-jwe"], TokenMalformed)
    assert "JWE" in error.message


# --- V5 canonical base64url --------------------------------------------------------------


def _noncanonical(segment: str) -> str | None:
    """The same bytes spelled with non-zero padding bits (None if there are no spare bits)."""
    rem = len(segment) % 4
    if rem == 0:
        return None
    value = _B64.index(segment[-1])
    spare = 0x0F if rem == 2 else 0x03
    return segment[:-1] + _B64[value | spare if value & spare == 0 else value & ~spare]


def _lenient(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _token_with_spare_bits_in(index: int) -> str:
    for pad in range(4):
        token = KEY.sign(ba_claims(pad="x" * pad), **({"typ": "JWT"} if pad % 2 else {}))
        parts = token.split(".")
        if len(parts[index]) % 4:
            return token
    raise AssertionError("no segment with spare bits")


@pytest.mark.parametrize(("index", "name"), [(0, "header"), (1, "payload"), (2, "signature")])
async def test_v05_non_zero_padding_bits_are_rejected(index: int, name: str) -> None:
    token = _token_with_spare_bits_in(index)
    assert (await VERIFIER.verify(token)).sub
    parts = token.split(".")
    respelled = _noncanonical(parts[index])
    assert respelled is not None
    # A lenient decoder reads the same bytes: this is token-string malleability.
    assert _lenient(respelled) == _lenient(parts[index])
    parts[index] = respelled
    if index < 2:
        # Re-sign over the respelled text, so only the spelling can be what fails.
        signing_input = ".".join(parts[:2]).encode()
        parts[2] = b64url_encode(get_algorithm("EdDSA").sign(KEY.private, signing_input))
    await rejects(VERIFIER, ".".join(parts), TokenMalformed)


def test_v05_decoder_rejects_every_non_canonical_spelling() -> None:
    assert b64url_decode("QQ") == b"A"
    assert b64url_decode("QUE") == b"AA"
    for bad in ("QR", "QS", "QT", "QZ", "QUF", "QUH", "Q", "QQ==", "QQ=", "Q Q", "Q+", "Q/"):
        with pytest.raises(ValueError):
            b64url_decode(bad)


# --- V6 strict UTF-8, one object ---------------------------------------------------------

_CLAIMS_JSON = dumps(ba_claims())


def _payload_variants() -> dict[str, bytes]:
    text = json.dumps(ba_claims(), separators=(",", ":"))
    return {
        "invalid-utf8": _CLAIMS_JSON[:-1] + b',"x":"\xff\xfe"}',
        "overlong-utf8": _CLAIMS_JSON[:-1] + b',"x":"\xc0\xaf"}',
        "bom": b"\xef\xbb\xbf" + _CLAIMS_JSON,
        "utf16": text.encode("utf-16"),
        "utf16-le": text.encode("utf-16-le"),
        "utf32": text.encode("utf-32"),
        "lone-high-surrogate": _CLAIMS_JSON[:-1] + b',"name":"\\ud800"}',
        "lone-low-surrogate": _CLAIMS_JSON[:-1] + b',"x":"\\udc00x"}',
        "surrogate-key": _CLAIMS_JSON[:-1] + b',"\\ud83d":1}',
        "array": b"[" + _CLAIMS_JSON + b"]",
        "string": json.dumps(text).encode(),
        "number": b"1800000000",
        "null": b"null",
        "two-objects": _CLAIMS_JSON + b"{}",
        "trailing-garbage": _CLAIMS_JSON + b" x",
        "trailing-comma": _CLAIMS_JSON[:-1] + b",}",
        "single-quotes": _CLAIMS_JSON.replace(b'"', b"'"),
        "deep-nesting": _CLAIMS_JSON[:-1] + b',"x":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "empty": b"",
    }


@pytest.mark.parametrize("name", sorted(_payload_variants()))
async def test_v06_payload_must_be_one_strict_utf8_json_object(name: str) -> None:
    token = sign_raw(HEADER, _payload_variants()[name], KEY.private, "EdDSA")
    if len(token) > 8192:
        await rejects(VERIFIER, token, TokenTooLarge)
    else:
        await rejects(VERIFIER, token, TokenMalformed, key_material(KEY))


@pytest.mark.parametrize(
    "header",
    [
        b"\xef\xbb\xbf" + HEADER,
        json.dumps({"alg": "EdDSA", "kid": KEY.kid}).encode("utf-16"),
        b'{"alg":"EdDSA","kid":"\\ud800"}',
        b'{"alg":"EdDSA","kid":"\xff"}',
        b'[{"alg":"EdDSA","kid":"ed-1"}]',
        b'"EdDSA"',
        HEADER + b"{}",
        HEADER + b"\x00",
    ],
    ids=["bom", "utf16", "lone-surrogate", "invalid-utf8", "array", "string", "two", "nul"],
)
async def test_v06_header_must_be_one_strict_utf8_json_object(header: bytes) -> None:
    token = sign_raw(header, _CLAIMS_JSON, KEY.private, "EdDSA")
    await rejects(VERIFIER, token, TokenMalformed)


async def test_v06_real_unicode_is_fine() -> None:
    claims = ba_claims(name="Zoë Ångström 🦊", email="zoë@example.com")
    principal = await VERIFIER.verify(KEY.sign(claims))
    assert principal.name == "Zoë Ångström 🦊"
    escaped = sign_raw(HEADER, dumps(claims), KEY.private, "EdDSA")  # \u escapes, paired
    assert (await VERIFIER.verify(escaped)).name == "Zoë Ångström 🦊"


# --- V7 duplicate member names -------------------------------------------------------------


async def test_v07_duplicate_alg_in_header() -> None:
    header = b'{"alg":"none","alg":"EdDSA","kid":"ed-1"}'
    token = sign_raw(header, _CLAIMS_JSON, KEY.private, "EdDSA")
    await rejects(VERIFIER, token, TokenMalformed)
    header = b'{"alg":"EdDSA","kid":"other","kid":"ed-1"}'
    await rejects(VERIFIER, sign_raw(header, _CLAIMS_JSON, KEY.private, "EdDSA"), TokenMalformed)


@pytest.mark.parametrize("claim", ["sub", "iss", "aud", "exp", "role"])
async def test_v07_duplicate_claims_in_payload(claim: str) -> None:
    payload = _CLAIMS_JSON[:-1] + b',"' + claim.encode() + b'":"attacker"}'
    if claim == "role":
        payload = payload[:-1] + b',"role":"admin"}'
    token = sign_raw(HEADER, payload, KEY.private, "EdDSA")
    await rejects(VERIFIER, token, TokenMalformed)


async def test_v07_duplicates_in_nested_objects() -> None:
    user = json.dumps(user_object())[:-1] + ', "id": "someone-else"}'
    payload = _CLAIMS_JSON[:-1] + b',"user":' + user.encode() + b"}"
    await rejects(VERIFIER, sign_raw(HEADER, payload, KEY.private, "EdDSA"), TokenMalformed)


# --- V8 NaN / Infinity -------------------------------------------------------------------


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
@pytest.mark.parametrize("claim", [b"exp", b"iat", b"nbf", b"extra"])
async def test_v08_non_standard_literals(literal: bytes, claim: bytes) -> None:
    claims = {k: v for k, v in ba_claims().items() if k.encode() != claim}
    payload = dumps(claims)[:-1] + b',"' + claim + b'":' + literal + b"}"
    await rejects(VERIFIER, sign_raw(HEADER, payload, KEY.private, "EdDSA"), TokenMalformed)


async def test_v08_in_header() -> None:
    header = b'{"alg":"EdDSA","kid":"ed-1","typ":NaN}'
    await rejects(VERIFIER, sign_raw(header, _CLAIMS_JSON, KEY.private, "EdDSA"), TokenMalformed)


async def test_v08_overflowing_number_literal_is_not_infinity() -> None:
    # Python's json turns 1e400 into inf; the claim rules must still refuse it.
    payload = dumps({k: v for k, v in ba_claims().items() if k != "exp"})[:-1] + b',"exp":1e400}'
    error = await rejects(VERIFIER, sign_raw(HEADER, payload, KEY.private, "EdDSA"), AuthError)
    assert error.code == "invalid_claims"
