"""Ed25519 public-key hygiene (V24): canonical encoding and not of small order.

OpenSSL loads any 32 bytes as an Ed25519 key. A small-order key lets one signature verify
for many messages, so such keys are refused when a JWKS is loaded. This runs once per key.
"""

from __future__ import annotations

from typing import Final

__all__ = ["check_ed25519_public_key"]

_P: Final = 2**255 - 19
_D: Final = (-121665 * pow(121666, -1, _P)) % _P
_SQRT_M1: Final = pow(2, (_P - 1) // 4, _P)


def _decompress(encoded: bytes) -> tuple[int, int]:
    y = int.from_bytes(encoded, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        raise ValueError("non-canonical Ed25519 point encoding")
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        raise ValueError("not a point on Ed25519")
    if x == 0 and sign:
        raise ValueError("non-canonical Ed25519 point encoding")
    if x & 1 != sign:
        x = _P - x
    return x, y


def _double(point: tuple[int, int]) -> tuple[int, int]:
    x, y = point
    t = _D * x * x * y * y % _P
    return (2 * x * y * pow(1 + t, -1, _P) % _P, (y * y + x * x) * pow(1 - t, -1, _P) % _P)


def check_ed25519_public_key(encoded: bytes) -> None:
    """Raise ``ValueError`` unless ``encoded`` is a canonical point of large order."""
    if len(encoded) != 32:
        raise ValueError("an Ed25519 key is 32 bytes")
    point = _decompress(encoded)
    for _ in range(3):
        point = _double(point)
    if point == (0, 1):
        raise ValueError("Ed25519 key of small order")
