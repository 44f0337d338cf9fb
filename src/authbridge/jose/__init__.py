"""Strict compact-JWS handling over ``cryptography`` primitives.

The primitives every part of authbridge (and the applications built on it) share, with one
implementation each: canonical base64url, the strict JSON parser, HMAC with a constant-time
check, and RFC 7638 thumbprints. Import them from here, not from the submodules.

Names are loaded on first use (PEP 562): a caller that needs base64url loads that module only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .b64 import b64url_decode, b64url_decode_for_display, b64url_encode
    from .mac import PreparedHMAC, hmac_sign, hmac_verify
    from .strict_json import loads_json, loads_object
    from .thumbprint import jwk_thumbprint, oct_thumbprint

__all__ = [
    "PreparedHMAC",
    "b64url_decode",
    "b64url_decode_for_display",
    "b64url_encode",
    "hmac_sign",
    "hmac_verify",
    "jwk_thumbprint",
    "loads_json",
    "loads_object",
    "oct_thumbprint",
]

_HOMES: Final = {
    "b64url_decode": "b64",
    "b64url_decode_for_display": "b64",
    "b64url_encode": "b64",
    "PreparedHMAC": "mac",
    "hmac_sign": "mac",
    "hmac_verify": "mac",
    "loads_json": "strict_json",
    "loads_object": "strict_json",
    "jwk_thumbprint": "thumbprint",
    "oct_thumbprint": "thumbprint",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
