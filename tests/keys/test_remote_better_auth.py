"""RemoteJWKS against a real Better Auth 1.7 issuer (Node): floods and outages.

Better Auth serves its JWKS without ``Cache-Control``, chunked, over keep-alive; rotation on
a running verifier is covered by ``tests/interop/test_conformance.py``.
"""

from __future__ import annotations

import json
import secrets

import pytest

from authbridge.errors import KeysUnavailable, UnknownKey
from authbridge.jose.b64 import b64url_decode
from authbridge.keys.jwk import VerificationKey
from authbridge.keys.remote import RemoteJWKS
from harness.better_auth import BetterAuthServer, ServerPool

pytestmark = pytest.mark.interop


def header_kid(token: str) -> str:
    kid: str = json.loads(b64url_decode(token.split(".")[0]))["kid"]
    return kid


def signature_holds(key: VerificationKey, token: str) -> bool:
    head, payload, signature = token.split(".")
    return key.algorithm.verify(key.key, f"{head}.{payload}".encode(), b64url_decode(signature))


async def test_better_auth_jwks_loads_with_the_default_ttl(better_auth: BetterAuthServer) -> None:
    token = better_auth.get_jwt(better_auth.sign_up())
    source = RemoteJWKS(better_auth.jwks_url)
    try:
        await source.start()
        key = await source.get_key(header_kid(token), "EdDSA")
    finally:
        await source.aclose()
    assert signature_holds(key, token)
    assert source.problems == []
    assert source.last_fetch is not None
    # no Cache-Control: the default (approx: the clock is a float, (t + 600) - t is not exact)
    assert source.expires_at - source.last_fetch == pytest.approx(600)


async def test_a_random_kid_flood_costs_at_most_two_fetches(better_auth: BetterAuthServer) -> None:
    token = better_auth.get_jwt(better_auth.sign_up())
    source = RemoteJWKS(better_auth.jwks_url)
    try:
        for _ in range(1000):
            with pytest.raises(UnknownKey):
                await source.get_key(secrets.token_urlsafe(24), "EdDSA")
        assert source.fetch_count <= 2
        assert signature_holds(await source.get_key(header_kid(token), "EdDSA"), token)
        assert source.fetch_count <= 2
    finally:
        await source.aclose()


async def test_stale_keys_outlive_the_issuer(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory()
    token = server.get_jwt(server.sign_up())
    url = server.jwks_url
    now = 0.0
    source = RemoteJWKS(url, clock=lambda: now, timeout=1.0)
    fresh = RemoteJWKS(url, timeout=1.0)
    try:
        await source.start()
        server.stop()  # the issuer is gone
        now += 3600  # and the cached set is long past its TTL
        key = await source.get_key(header_kid(token), "EdDSA")
        assert signature_holds(key, token)
        assert source.fetch_count == 2
        assert source.last_error is not None
        assert "ConnectError" in source.last_error

        await fresh.start()  # a verifier that never saw the keys cannot serve them
        with pytest.raises(KeysUnavailable) as caught:
            await fresh.get_key(header_kid(token), "EdDSA")
        assert caught.value.retry_after >= 1
    finally:
        await source.aclose()
        await fresh.aclose()
