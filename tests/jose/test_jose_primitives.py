"""The shared primitives: HMAC, thumbprints, the strict JSON value parser, display base64url.

Each has one implementation in ``authbridge.jose``; these tests pin it against independent
references (``hmac``/``hashlib``, joserfc) so every user (tokens, session cookies, the cookie
cache, page cursors) inherits the same checked behaviour.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

import authbridge.jose as jose
from authbridge.jose import (
    PreparedHMAC,
    b64url_decode,
    b64url_decode_for_display,
    b64url_encode,
    hmac_sign,
    hmac_verify,
    jwk_thumbprint,
    loads_json,
    oct_thumbprint,
)

# ---- HMAC ---------------------------------------------------------------------------------


@given(st.binary(max_size=200), st.binary(max_size=300), st.sampled_from(["sha256", "sha512"]))
def test_hmac_matches_the_standard_library(key: bytes, message: bytes, digest: str) -> None:
    expected = hmac.new(key, message, getattr(hashlib, digest)).digest()
    assert hmac_sign(key, message, digest=digest) == expected
    assert hmac_verify(key, message, expected, digest=digest)
    assert PreparedHMAC(key, digest).digest(message) == expected
    assert PreparedHMAC(key, digest).verify(message, expected)


def test_a_truncated_tag_is_checked_at_exactly_its_length() -> None:
    key, message = b"k" * 32, b"message"
    tag = hmac_sign(key, message, length=16)
    assert tag == hmac.new(key, message, hashlib.sha256).digest()[:16]
    assert hmac_verify(key, message, tag, length=16)
    # A prefix of the right tag, or the full MAC where a truncated one is expected, is refused.
    assert not hmac_verify(key, message, tag[:15], length=16)
    assert not hmac_verify(key, message, hmac_sign(key, message), length=16)


@pytest.mark.parametrize("tag", [b"", b"\0", b"x" * 31, b"x" * 33])
def test_a_tag_of_the_wrong_length_never_matches(tag: bytes) -> None:
    assert not hmac_verify(b"key", b"message", tag)
    assert not PreparedHMAC(b"key").verify(b"message", tag)


def test_one_flipped_bit_is_refused() -> None:
    tag = bytearray(hmac_sign(b"key", b"message"))
    tag[-1] ^= 1
    assert not hmac_verify(b"key", b"message", bytes(tag))
    assert not hmac_verify(b"key", b"other message", hmac_sign(b"key", b"message"))


# ---- thumbprints --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        OKPKey.generate_key("Ed25519"),
        ECKey.generate_key("P-256"),
        ECKey.generate_key("P-521"),
        RSAKey.generate_key(2048),
    ],
    ids=["OKP", "EC P-256", "EC P-521", "RSA"],
)
def test_jwk_thumbprint_matches_joserfc(key: OKPKey | ECKey | RSAKey) -> None:
    public = key.as_dict(private=False)
    assert jwk_thumbprint(public) == key.thumbprint()
    # Members outside RFC 7638's required set change nothing.
    assert jwk_thumbprint({**public, "kid": "x", "alg": "ignored", "use": "sig"}) == (
        key.thumbprint()
    )


def test_oct_thumbprint_matches_joserfc() -> None:
    raw = bytes(range(64))
    assert oct_thumbprint(raw) == OctKey.import_key(raw).thumbprint()


@pytest.mark.parametrize("jwk", [{"kty": "oct", "k": "AAAA"}, {"kty": "EC", "crv": "P-256"}, {}])
def test_jwk_thumbprint_refuses_secret_and_incomplete_keys(jwk: dict[str, str]) -> None:
    with pytest.raises(KeyError):
        jwk_thumbprint(jwk)


# ---- strict JSON values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"[1,2]", [1, 2]),
        (b'"x"', "x"),
        (b"null", None),
        (b'{"a":{"b":[true]}}', {"a": {"b": [True]}}),
    ],
)
def test_loads_json_accepts_any_one_value(raw: bytes, value: object) -> None:
    assert loads_json(raw) == value


@pytest.mark.parametrize(
    "raw",
    [
        b'[{"a":1,"a":2}]',
        b"[NaN]",
        b"[Infinity]",
        b'["\\ud800"]',
        b"\xef\xbb\xbf[]",
        b'["\xff"]',
        b"[1] [2]",
        b"",
    ],
)
def test_loads_json_refuses_what_the_token_parser_refuses(raw: bytes) -> None:
    with pytest.raises(ValueError):
        loads_json(raw)


def test_numbers_can_be_bounded() -> None:
    assert loads_json(b"[" + b"9" * 40 + b"]") == [int("9" * 40)]
    assert loads_json(b"[1e400]") == [float("inf")]  # unbounded: the verifier's behaviour
    for raw in (
        b"[" + b"9" * 33 + b"]",
        b"[-" + b"9" * 33 + b"]",
        b"[1e400]",
        b"[0." + b"1" * 40 + b"]",
    ):
        with pytest.raises(ValueError):
            loads_json(raw, max_number_chars=32)
    assert loads_json(b"[-" + b"9" * 32 + b", 1.5]", max_number_chars=32) == [-int("9" * 32), 1.5]


# ---- base64url for display ----------------------------------------------------------------


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(st.binary(min_size=1, max_size=60), st.integers(0, 15))
def test_display_decoding_ignores_stray_bits_only(data: bytes, stray: int) -> None:
    text = b64url_encode(data)
    assert b64url_decode_for_display(text) == data
    rem = len(text) % 4
    if rem:
        low = stray & (0x0F if rem == 2 else 0x03)
        sloppy = text[:-1] + _ALPHABET[_ALPHABET.index(text[-1]) | low]
        assert b64url_decode_for_display(sloppy) == data
        if low:
            with pytest.raises(ValueError):
                b64url_decode(sloppy)


@pytest.mark.parametrize("text", ["Q", "QQ==", "Q+Q", "Q/Q", " QQ", "Q\u00e9", "Q.Q"])
def test_display_decoding_still_refuses_what_is_not_base64url(text: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode_for_display(text)


def test_display_decoding_of_a_non_canonical_segment() -> None:
    # "QR" and "QQ" spell the same byte; only "QQ" is canonical.
    assert base64.urlsafe_b64decode("QR==") == b"A"
    assert b64url_decode_for_display("QR") == b"A"
    with pytest.raises(ValueError):
        b64url_decode("QR")


# ---- the public surface -------------------------------------------------------------------


def test_every_exported_name_resolves() -> None:
    for name in jose.__all__:
        assert getattr(jose, name) is not None
    with pytest.raises(AttributeError):
        _ = jose.no_such_name
