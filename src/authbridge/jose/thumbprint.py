"""RFC 7638 JWK thumbprints: the one implementation for key ids and key display."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from .b64 import b64url_encode

__all__ = ["jwk_thumbprint", "oct_thumbprint"]

# RFC 7638 §3.2: only the required members, in lexicographic order.
_PUBLIC_MEMBERS: Final = {
    "OKP": ("crv", "kty", "x"),
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
}


def _digest(canonical: Mapping[str, Any]) -> str:
    text = json.dumps(canonical, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(text.encode("utf-8")).digest())


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The SHA-256 thumbprint of a public JWK (OKP, EC or RSA).

    Raises ``KeyError`` for another ``kty`` or a missing member: a secret (``oct``) key gets its
    thumbprint only through ``oct_thumbprint``, never from a key set being displayed.
    """
    return _digest({name: jwk[name] for name in _PUBLIC_MEMBERS[jwk["kty"]]})


def oct_thumbprint(key: bytes) -> str:
    """The SHA-256 thumbprint of ``{"kty":"oct","k":...}`` for raw symmetric key bytes."""
    return _digest({"k": b64url_encode(key), "kty": "oct"})
