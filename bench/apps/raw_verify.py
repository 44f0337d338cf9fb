"""The floor for a fresh token in a server: the bare endpoint behind nothing but the raw
Ed25519 signature check.

A pure-ASGI middleware takes the token from ``Authorization: Bearer``, splits off the
signature, decodes it and verifies it with the one public key of the benchmark's JWKS
(with the implementation authbridge uses: libsodium when PyNaCl is installed, else OpenSSL
through ``cryptography``), then calls the bare app; a bad signature gets a
bare 401. Nothing else: no header or claims parsing, no key lookup, no cache, no Principal.
It is what ``bare + raw Ed25519 verify`` costs when a server, not a micro benchmark, runs the
verify: the same cold CPU caches and allocator state as authbridge meets per request.
A measurement, never an authenticator (it checks no claim, not even ``exp``).

``VerifyOnly`` is the same frame around authbridge's whole ``Verifier.verify``: the step
between the floor and the fast path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.types import ASGIApp, Receive, Scope, Send

from authbridge.errors import AuthError
from authbridge.jose.algorithms import ed25519_backend
from authbridge.jose.b64 import b64url_decode
from authbridge.verifier import Verifier

__all__ = ["RawVerify", "VerifyOnly", "ed25519_key", "public_key_from_env", "raw_ed25519_check"]

_REFUSED = {"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]}


async def _refuse(send: Send) -> None:
    """A bare 401: no body, nothing else."""
    await send(_REFUSED)
    await send({"type": "http.response.body", "body": b""})


def ed25519_key(document: dict[str, Any]) -> Ed25519PublicKey:
    """The one Ed25519 key of a JWKS document (the benchmark's issuer has one)."""
    (jwk,) = (k for k in document["keys"] if k.get("crv") == "Ed25519")
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))


def public_key_from_env() -> Ed25519PublicKey:
    """The benchmark's Ed25519 key, from ``AUTHBRIDGE_JWKS`` as ``bench/http_bench.py``
    sets it."""
    return ed25519_key(json.loads(os.environ["AUTHBRIDGE_JWKS"]))


def raw_ed25519_check(
    key: Ed25519PublicKey, backend: str | None = None
) -> Callable[[bytes, bytes], object]:
    """``check(signature, message)``, raising ``InvalidSignature`` on a bad signature: the
    bare library call, with no authbridge code around it. ``backend`` is ``"libsodium"`` or
    ``"openssl"``; by default the one authbridge's EdDSA verify uses. Every benchmark's raw
    Ed25519 row calls this."""
    if (backend or ed25519_backend()) == "libsodium":
        from nacl.bindings import crypto_sign_open
        from nacl.exceptions import BadSignatureError

        raw = key.public_bytes_raw()

        def check(signature: bytes, message: bytes) -> object:
            try:
                return crypto_sign_open(signature + message, raw)
            except BadSignatureError:
                raise InvalidSignature from None

        return check
    return key.verify


class RawVerify:
    """Verifies every request's token signature, then calls ``app``."""

    def __init__(self, app: ASGIApp, key: Ed25519PublicKey) -> None:
        self.app = app
        self.check = raw_ed25519_check(key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            signing_input, _, signature = _bearer(scope).rpartition(b".")
            try:
                self.check(b64url_decode(signature), signing_input)
            except (InvalidSignature, ValueError):
                await _refuse(send)
                return
        await self.app(scope, receive, send)


def _bearer(scope: Scope) -> bytes:
    token = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            token = value[7:]  # after "Bearer "
    return token


class VerifyOnly:
    """``RawVerify``'s frame around authbridge's whole ``Verifier.verify`` (parse, key, the
    same signature call, claims, Principal, the token cache) instead of the bare signature
    check: between this row and the floor is the verifier's own work served, and between it
    and the fast path the framework integration (the request's slot, state and audit check,
    and the private-response headers).
    """

    def __init__(self, app: ASGIApp, verifier: Verifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                await self.verifier.verify(_bearer(scope).decode("latin-1"))
            except AuthError:
                await _refuse(send)
                return
        await self.app(scope, receive, send)
