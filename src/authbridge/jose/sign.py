"""Compact JWS signing, for tests, dev tokens and the FakeIssuer. Not used to verify."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .algorithms import get_algorithm
from .b64 import b64url_encode

__all__ = ["sign_compact"]


def _segment(obj: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())


def sign_compact(
    claims: Mapping[str, Any],
    key: Any,
    alg: str,
    *,
    kid: str | None = None,
    header: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``claims`` with a private key (or HMAC secret bytes) as ``alg``.

    The default header is Better Auth's: ``{"alg", "kid"}`` with no ``typ``.
    """
    algorithm = get_algorithm(alg)
    head: dict[str, Any] = {"alg": alg}
    if kid is not None:
        head["kid"] = kid
    if header:
        head.update(header)
    signing_input = f"{_segment(head)}.{_segment(claims)}"
    signature = algorithm.sign(key, signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"
