"""HMAC: the one implementation behind every MAC authbridge makes or checks.

JWS ``HS256``/``HS384``/``HS512``, Better Auth's signed session tokens and cookie cache, and
the Tasks API's page cursors all go through here, so there is one place where a MAC is
compared, and it compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

__all__ = ["PreparedHMAC", "hmac_sign", "hmac_verify"]

_IPAD: Final = bytes(b ^ 0x36 for b in range(256))
_OPAD: Final = bytes(b ^ 0x5C for b in range(256))


def hmac_sign(key: bytes, message: bytes, *, digest: str = "sha256", length: int = 0) -> bytes:
    """HMAC of ``message``; truncated to its first ``length`` bytes when ``length`` is set."""
    mac = hmac.digest(key, message, digest)
    return mac[:length] if length else mac


def hmac_verify(
    key: bytes, message: bytes, tag: bytes, *, digest: str = "sha256", length: int = 0
) -> bool:
    """Whether ``tag`` is the (``length``-truncated) HMAC of ``message``; constant time.

    A tag of any other length is refused before any comparison, so a short (or empty) tag can
    never match a prefix of the real MAC.
    """
    expected = hmac_sign(key, message, digest=digest, length=length)
    return len(tag) == len(expected) and hmac.compare_digest(expected, tag)


class PreparedHMAC:
    """HMAC with the padded key's hash states computed once per key (RFC 2104 §4).

    ``hmac.digest`` re-derives them on every call, which costs twice the hashing of a token:
    the verifier keeps one of these per secret for its ``HS*`` hot path.
    """

    __slots__ = ("_inner", "_outer", "size")

    def __init__(self, key: bytes, digest: str = "sha256") -> None:
        block = hashlib.new(digest).block_size
        if len(key) > block:
            key = hashlib.new(digest, key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.new(digest, key.translate(_IPAD))
        self._outer = hashlib.new(digest, key.translate(_OPAD))
        self.size = self._outer.digest_size

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def verify(self, message: bytes, tag: bytes) -> bool:
        """Whether ``tag`` is the full HMAC of ``message``; constant time."""
        return len(tag) == self.size and hmac.compare_digest(self.digest(message), tag)
