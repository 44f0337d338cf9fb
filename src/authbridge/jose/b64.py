"""Canonical base64url (RFC 7515 §2): no padding, no stray characters, zero padding bits."""

from __future__ import annotations

import base64
import binascii

__all__ = ["b64url_decode", "b64url_encode", "decode_segment"]

_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {ord(c): i for i, c in enumerate(_ALPHABET)}


def b64url_decode(text: str | bytes) -> bytes:
    """Decode base64url, rejecting any non-canonical spelling (V4, V5).

    Non-canonical forms (set padding bits, ``=``, ``+``, whitespace) would let two token strings
    carry the same bytes, which breaks anything keyed on the token text.
    """
    try:
        data = text.encode("ascii") if isinstance(text, str) else text
    except UnicodeEncodeError:
        raise ValueError("invalid base64url") from None
    # a2b_base64 knows only the standard alphabet: its characters must not slip through.
    if b"+" in data or b"/" in data or b"=" in data:
        raise ValueError("invalid base64url")
    return decode_segment(data)


def decode_segment(data: bytes) -> bytes:
    """``b64url_decode`` for a segment already matched against the base64url alphabet.

    The token's format check has ruled out ``+``, ``/``, ``=`` and every other character, so
    only the length and the padding bits are left to check: the hot path of every token.
    """
    rem = len(data) & 3
    if rem:
        if rem == 1:
            raise ValueError("impossible base64url length")
        last = _VALUE.get(data[-1])
        if last is None or (last & (0x0F if rem == 2 else 0x03)):
            raise ValueError("non-canonical base64url")
        data += b"==="[: 4 - rem]
    try:
        return binascii.a2b_base64(data.translate(_TO_STANDARD), strict_mode=True)
    except binascii.Error:
        raise ValueError("invalid base64url") from None


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
