"""Lifespan wiring (prefetch at startup, close at shutdown, shared across apps), building
from settings, and no blocking call on the event loop."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from blockbuster import BlockBuster, BlockingError, blockbuster_ctx
from fastapi import FastAPI
from fastapi_sample_app import build_app

from authbridge.fastapi import AuthBridge, CurrentUser
from authbridge.fastapi.route_auth import RouteAuthMiddleware
from authbridge.keys.remote import RemoteJWKS
from authbridge.testing import FakeIssuer
from authbridge.verifier import TrustedIssuer, Verifier


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def served() -> Iterator[FakeIssuer]:
    issuer = FakeIssuer(base_url=None)
    with issuer.serving():
        yield issuer


def remote_verifier(issuer: FakeIssuer) -> Verifier:
    return Verifier(
        TrustedIssuer.create(
            RemoteJWKS(issuer.jwks_url), issuer=issuer.base_url, audience=issuer.base_url
        )
    )


async def test_install_prefetches_keys_at_startup_and_closes_at_shutdown(
    served: FakeIssuer,
) -> None:
    verifier = remote_verifier(served)
    app = build_app(AuthBridge(verifier))
    assert served.server is not None
    assert served.server.requests == 0
    async with LifespanManager(app) as manager:
        assert served.server.requests == 1  # fetched before the first request
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/me", headers=bearer(served.token()))
            assert response.json() == {"sub": served.user["id"]}
        assert served.server.requests == 1
        source = verifier.paths[0].keys
        assert isinstance(source, RemoteJWKS)
        assert source._client is not None
    assert source._client is None or source._client.is_closed


async def test_install_keeps_the_apps_own_lifespan(served: FakeIssuer) -> None:
    order: list[str] = []

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        order.append("own start")
        yield {"db": "ready"}
        order.append("own stop")

    app = FastAPI(lifespan=own)
    AuthBridge(remote_verifier(served)).install(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return user.sub

    async with LifespanManager(app) as manager:
        assert order == ["own start"]
        assert manager._state == {"db": "ready"}
        assert served.server is not None
        assert served.server.requests == 1
    assert order == ["own start", "own stop"]


async def test_one_bridge_serves_several_apps(served: FakeIssuer) -> None:
    bridge = AuthBridge(remote_verifier(served))
    first, second = build_app(bridge), build_app(bridge)
    assert served.server is not None
    async with LifespanManager(first):
        async with LifespanManager(second):
            assert served.server.requests == 1  # started once
            for app in (first, second):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    response = await c.get("/me", headers=bearer(served.token()))
                    assert response.status_code == 200
        # The first app still runs: the shared verifier must not be closed yet.
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/me", headers=bearer(served.token()))).status_code == 200
    assert bridge._users == 0


async def test_from_env_builds_a_working_bridge(
    served: FakeIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AUTHBRIDGE_JWKS_URL", "AUTHBRIDGE_JWT_SECRET", "AUTHBRIDGE_JWKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BETTER_AUTH_URL", served.base_url)
    bridge = AuthBridge.from_env(realm="tasks")
    app = build_app(bridge)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            ok = await client.get("/me", headers=bearer(served.token()))
            assert ok.json() == {"sub": served.user["id"]}
            missing = await client.get("/me")
            assert missing.headers["www-authenticate"] == 'Bearer realm="tasks"'


# --- the event loop is never blocked ------------------------------------------------------


@pytest.fixture
def blockbuster() -> Iterator[BlockBuster]:
    with blockbuster_ctx() as detector:
        yield detector


async def test_the_detector_is_armed(blockbuster: BlockBuster) -> None:
    with pytest.raises(BlockingError):
        time.sleep(0.001)


async def test_requests_never_block_the_event_loop(served: FakeIssuer) -> None:
    # Tokens are minted first: signing is test set-up, not request handling.
    good, expired = served.token(scope="tasks:read"), served.token(now=time.time() - 4000)
    rotated_kid_token = FakeIssuer(served.base_url).token()
    app = build_app(AuthBridge(remote_verifier(served)))
    with blockbuster_ctx():
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert (await client.get("/me", headers=bearer(good))).status_code == 200
                assert (await client.get("/me", headers=bearer(good))).status_code == 200
                assert (await client.get("/read", headers=bearer(good))).status_code == 200
                assert (await client.get("/admin", headers=bearer(good))).status_code == 403
                assert (await client.get("/me", headers=bearer(expired))).status_code == 401
                # An unknown kid makes the verifier refetch the JWKS over the network.
                response = await client.get("/me", headers=bearer(rotated_kid_token))
                assert response.status_code == 401
                assert (await client.get("/me")).status_code == 401
                response = await client.post(
                    "/submit", data={"access_token": good}, headers=bearer(good)
                )
                assert response.status_code == 400


async def test_installing_twice_is_harmless(served: FakeIssuer) -> None:
    bridge = AuthBridge(remote_verifier(served))
    app = build_app(bridge)  # installs once
    bridge.install(app)
    classes: list[object] = [m.cls for m in app.user_middleware]
    assert classes.count(RouteAuthMiddleware) == 1
    async with LifespanManager(app):
        assert bridge._users == 1
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/me", headers=bearer(served.token()))
            assert response.headers["vary"] == "Authorization"
