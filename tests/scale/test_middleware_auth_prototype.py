"""The dependency-free design the HTTP benchmark measures (bench/apps/middleware_auth.py) must
be correct before its numbers mean anything: same refusals as the shipped dependency, private
answers, revocation honoured on cache hits, public paths untouched."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from authbridge.fastapi import AuthBridge
from authbridge.revocation import RevocationList
from authbridge.testing import FakeIssuer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from apps.middleware_auth import MiddlewareAuth


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
def revocations() -> RevocationList:
    return RevocationList()


@pytest.fixture
async def client(
    issuer: FakeIssuer, revocations: RevocationList
) -> AsyncIterator[httpx.AsyncClient]:
    bridge = AuthBridge(issuer.verifier(revocations=revocations))
    app = FastAPI(lifespan=bridge.lifespan)

    @app.get("/api/me")
    async def me(request: Request) -> dict[str, str]:
        return {"sub": request.user.sub}

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(MiddlewareAuth, bridge=bridge, protected=("/api/",))
    await bridge.startup()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c
    await bridge.shutdown()


async def test_a_valid_token_reaches_the_endpoint_privately(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    for _ in range(2):  # a miss, then a cache hit
        answer = await client.get("/api/me", headers={"Authorization": f"Bearer {issuer.token()}"})
        assert answer.status_code == 200
        assert answer.json() == {"sub": issuer.user["id"]}
        assert answer.headers["cache-control"] == "no-store"
        assert "Authorization" in answer.headers["vary"]


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "token_missing"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "token_missing"),
        ({"Authorization": "Bearer not-a-jwt"}, 401, "invalid_token"),
        ({"Authorization": "Bearer a b"}, 400, "invalid_request"),
    ],
)
async def test_refusals_match_the_shipped_layer(
    client: httpx.AsyncClient, headers: dict[str, str], status: int, code: str
) -> None:
    answer = await client.get("/api/me", headers=headers)
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.headers["www-authenticate"].startswith("Bearer ")


async def test_a_forged_token_is_refused(client: httpx.AsyncClient, issuer: FakeIssuer) -> None:
    other = FakeIssuer(issuer.issuer)  # same iss, other keys
    answer = await client.get("/api/me", headers={"Authorization": f"Bearer {other.token()}"})
    assert answer.status_code == 401


async def test_revocation_applies_to_cache_hits(
    client: httpx.AsyncClient, issuer: FakeIssuer, revocations: RevocationList
) -> None:
    headers = {"Authorization": f"Bearer {issuer.token(sid='s1')}"}
    assert (await client.get("/api/me", headers=headers)).status_code == 200
    await revocations.revoke_session(issuer.issuer, "s1")
    assert (await client.get("/api/me", headers=headers)).status_code == 401


async def test_public_paths_are_not_authenticated(client: httpx.AsyncClient) -> None:
    answer = await client.get("/public", headers={"Authorization": "Bearer a b"})
    assert answer.status_code == 200
    assert "cache-control" not in answer.headers
