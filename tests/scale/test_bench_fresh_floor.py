"""The HTTP benchmark's fresh-token layers and its garbage-collection share must measure what
they say: the floor and ``VerifyOnly`` accept a signed token and refuse a forged one (a row
of refusals would measure the wrong path), and ``cache_share`` empties the token cache for
its measurement and leaves it full again (bench/apps/raw_verify.py, bench/apps/gc_stats.py).
The servers that report their garbage collections route ``/hello`` first, as the bare
endpoint and the floor do, so the rows compared with those pay for no extra routing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from authbridge.fastapi import AuthBridge
from authbridge.jose.b64 import b64url_decode
from authbridge.testing import FakeIssuer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from apps.endpoints import authbridge_app, bare_app, fast_path_app
from apps.gc_stats import cache_share
from apps.raw_verify import RawVerify, VerifyOnly, ed25519_key
from http_bench import RUN_TOKEN_SECONDS, base_env, build, forged


async def _statuses(app: FastAPI, issuer: FakeIssuer) -> list[int]:
    good = issuer.token()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return [
            (await client.get("/hello", headers={"Authorization": f"Bearer {token}"})).status_code
            for token in (good, forged(good))
        ]


async def test_the_floor_and_verify_only_accept_signed_and_refuse_forged_tokens() -> None:
    issuer = FakeIssuer()
    floor = bare_app()
    floor.add_middleware(RawVerify, key=ed25519_key(issuer.jwks()))
    assert await _statuses(floor, issuer) == [200, 401]

    verifier = issuer.verifier()
    alone = bare_app()
    alone.add_middleware(VerifyOnly, verifier=verifier)
    assert await _statuses(alone, issuer) == [200, 401]
    assert len(verifier.cache) == 1  # the whole verify ran: the accepted token is cached


async def test_cache_share_measures_and_refills_the_token_cache() -> None:
    issuer = FakeIssuer()
    bridge = AuthBridge(issuer.verifier())
    tokens = [issuer.token(sid=f"share-{n}") for n in range(50)]
    for token in tokens:
        await bridge.verifier.verify(token)
    share = await cache_share(bridge, tokens, pairs=2)
    assert isinstance(share, float)
    assert abs(share) < 1_000  # ms: a difference between two collections, not a total
    assert len(bridge.verifier.cache) == len(tokens)


@pytest.mark.parametrize("factory", [authbridge_app, fast_path_app])
def test_the_gc_reporting_servers_route_hello_first(
    factory: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_GC_STATS", "1")
    monkeypatch.delenv("BENCH_CACHE_TOKENS", raising=False)
    for name, value in base_env(FakeIssuer()).items():
        if name.startswith("AUTHBRIDGE_"):
            monkeypatch.setenv(name, value)
    assert callable(factory)
    app = factory()
    paths = [route.path for route in app.routes if isinstance(route, APIRoute)]
    assert "/bench/gc" in paths  # the statistics routes are there...
    assert paths[0] == "/hello"  # ...but after the measured route


def test_the_repeated_tokens_outlive_a_slow_run(tmp_path: Path) -> None:
    """A run that a busy host slowed past Better Auth's 15 minutes had its last rounds
    refused as expired: the tokens every scenario repeats live an hour."""
    issuer = FakeIssuer()
    scenarios, _ = build(issuer, tmp_path, "lifetime")
    repeated = {s.token for s in scenarios if s.token is not None}
    assert len(repeated) >= 3  # the plain, the organization and the forged token
    for token in repeated:
        claims = json.loads(b64url_decode(token.split(".")[1]))
        assert claims["exp"] - claims["iat"] == RUN_TOKEN_SECONDS >= 3600
