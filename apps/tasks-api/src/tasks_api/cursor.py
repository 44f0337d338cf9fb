"""Opaque, tamper-evident page cursors.

A cursor is ``base64url(json).base64url(hmac)``. The MAC covers the caller's ``sub`` and a
fingerprint of the query (sort, filters), so a cursor cannot be edited, replayed by another
user, or reused with a different query: each of those is an ``InvalidCursor`` (422).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from typing import Any, Final

from authbridge.jose import b64url_decode, b64url_encode, hmac_sign, hmac_verify

__all__ = ["CURSOR_PATTERN", "MAX_CURSOR_CHARS", "CursorCodec", "InvalidCursor"]

MAX_CURSOR_CHARS: Final = 512
# What encode() writes; the OpenAPI document declares it too. Matching it is not enough: only
# a cursor this service signed for this caller and query is valid.
CURSOR_PATTERN: Final = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
_CURSOR: Final = re.compile(CURSOR_PATTERN)
_MAC_BYTES: Final = 16


class InvalidCursor(ValueError):
    """The cursor was not issued by this service for this caller and query."""


def _b64decode(text: str) -> bytes:
    try:
        return b64url_decode(text)
    except ValueError:
        raise InvalidCursor("bad encoding") from None


class CursorCodec:
    """Signs and checks cursors with one secret (random per process unless configured)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._key = secret or secrets.token_bytes(32)

    @staticmethod
    def _message(owner: str, query: str, payload: bytes) -> bytes:
        return b"\x00".join([owner.encode(), query.encode(), payload])

    def _mac(self, owner: str, query: str, payload: bytes) -> bytes:
        return hmac_sign(self._key, self._message(owner, query, payload), length=_MAC_BYTES)

    def encode(self, owner: str, query: str, position: Sequence[Any]) -> str:
        payload = json.dumps(list(position), separators=(",", ":")).encode()
        return f"{b64url_encode(payload)}.{b64url_encode(self._mac(owner, query, payload))}"

    def decode(self, owner: str, query: str, cursor: str) -> list[Any]:
        """The position inside the cursor; raises ``InvalidCursor`` for anything else."""
        if len(cursor) > MAX_CURSOR_CHARS or _CURSOR.fullmatch(cursor) is None:
            raise InvalidCursor("malformed")
        payload_text, mac_text = cursor.split(".")
        payload, mac = _b64decode(payload_text), _b64decode(mac_text)
        if not hmac_verify(self._key, self._message(owner, query, payload), mac, length=_MAC_BYTES):
            raise InvalidCursor("bad signature")
        try:
            position = json.loads(payload)
        except ValueError:
            raise InvalidCursor("bad payload") from None
        if not isinstance(position, list):
            raise InvalidCursor("bad payload")
        return position
