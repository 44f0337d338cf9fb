"""Canonical base64url: round trips, and exactly one spelling per byte string (V4, V5)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authbridge.jose.b64 import b64url_decode, b64url_encode


@given(st.binary(max_size=300))
def test_round_trip_without_padding(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert b64url_decode(text) == data
    assert b64url_decode(text.encode()) == data


@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= .",
        max_size=40,
    )
)
def test_anything_accepted_is_the_one_canonical_spelling(text: str) -> None:
    try:
        data = b64url_decode(text)
    except ValueError:
        return
    assert b64url_encode(data) == text


@pytest.mark.parametrize(
    "text",
    [
        *("A", "AAAAA", "AB", "AAB", "QQ=", "QQ==", "Q+Q", "Q/Q", " QQ", "QQ\n", "Q\u00e9", "Q.Q"),
        # The decoder reads a JSON string: its quotes and escapes must never be interpreted.
        *('QU"D', "QU\\D", "\\u0041AAA", "QUJ\\u0044", '"QUJD"', "QUJD\\"),
    ],
)
def test_rejected_spellings(text: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode(text)


def test_lenient_decoders_would_accept_what_we_refuse() -> None:
    assert base64.urlsafe_b64decode("AB==") == b"\x00" == b64url_decode("AA")
    with pytest.raises(ValueError):
        b64url_decode("AB")


@given(st.binary(max_size=64))
def test_any_bytes_decode_as_the_reference_decoder_does_or_are_refused(data: bytes) -> None:
    """Whatever is accepted is canonical and decodes as ``base64.urlsafe_b64decode`` would."""
    try:
        decoded = b64url_decode(data)
    except ValueError:
        return
    assert b64url_encode(decoded).encode() == data
    assert base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4)) == decoded
