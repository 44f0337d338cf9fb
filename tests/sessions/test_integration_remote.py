"""Remote session mode through the FastAPI layer, against a real Better Auth server (Node).

authbridge asks Better Auth's own ``get-session`` about each session credential (no shared
database). A sign-out is seen within the cache TTL; an issuer that cannot answer is a 503
with ``Retry-After`` (the user's credential may be fine), never a 401.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from authbridge import Principal
from authbridge.config import Settings, load_settings
from authbridge.fastapi import AuthBridge, CurrentUser
from harness.better_auth import BAUser, BetterAuthServer, ServerPool

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("no_outside_settings")]

WEB_ORIGIN = "http://localhost:3000"


def remote_settings(server: BetterAuthServer, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "BETTER_AUTH_URL": server.base_url,
        "BETTER_AUTH_SECRET": server.secret,
        "AUTHBRIDGE_JWKS_URL": server.jwks_url,
        "AUTHBRIDGE_SESSION_MODE": "remote",
        "AUTHBRIDGE_SESSION_COOKIE": "on",
        "AUTHBRIDGE_TRUSTED_ORIGINS": WEB_ORIGIN,
        "AUTHBRIDGE_SESSION_TIMEOUT": "2",
    }
    values.update(extra)
    return load_settings(env_file=None, **values)


@asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    AuthBridge.from_settings(settings).install(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str | None]:
        return _describe(user)

    @app.post("/me")
    async def post_me(user: CurrentUser) -> dict[str, str | None]:
        return _describe(user)

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


def _describe(user: Principal) -> dict[str, str | None]:
    return {"sub": user.sub, "credential": user.credential, "session_id": user.session_id}


def cookie(user: BAUser, **headers: str) -> dict[str, str]:
    return {"Cookie": user.cookie_header, **headers}


@pytest.fixture(scope="module")
def server(better_auth_module_factory: ServerPool) -> BetterAuthServer:
    return better_auth_module_factory()


@pytest.mark.parametrize("credential", ["cookie", "bearer"])
async def test_remote_mode_serves_every_credential(
    server: BetterAuthServer, credential: str
) -> None:
    user = server.sign_up()
    body, _ = server.get_session(user)
    assert body is not None
    settings = remote_settings(server, AUTHBRIDGE_SESSION_REMOTE_CREDENTIAL=credential)
    async with api(settings) as client:
        jwt = {"Authorization": f"Bearer {server.get_jwt(user)}"}
        for headers in (user.bearer, cookie(user), jwt):
            response = await client.get("/me", headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["sub"] == user.id
        assert (await client.get("/me", headers=user.bearer)).json() == {
            "sub": user.id,
            "credential": "session",
            "session_id": body["session"]["id"],
        }
        # The CSRF rule is the same in remote mode; BETTER_AUTH_URL's origin is trusted too.
        for origin, status in ((WEB_ORIGIN, 200), (server.origin, 200), ("https://x.test", 403)):
            posted = await client.post("/me", headers=cookie(user, Origin=origin))
            assert posted.status_code == status, origin


async def test_remote_sign_out_is_seen_within_the_cache_ttl(server: BetterAuthServer) -> None:
    ttl = 1.0
    user = server.sign_up()
    settings = remote_settings(server, AUTHBRIDGE_SESSION_CACHE_TTL=str(ttl))
    async with api(settings) as client:
        assert (await client.get("/me", headers=cookie(user))).status_code == 200
        server.sign_out(user)
        loop = asyncio.get_running_loop()
        signed_out_at = loop.time()
        while (await client.get("/me", headers=cookie(user))).status_code == 200:
            assert loop.time() - signed_out_at <= ttl + 0.5, "still accepted after the TTL"
            await asyncio.sleep(0.1)
        assert (await client.get("/me", headers=user.bearer)).status_code == 401


async def test_remote_issuer_down_is_503_not_401(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory()
    user = server.sign_up()
    settings = remote_settings(server, AUTHBRIDGE_SESSION_CACHE_TTL="0")
    async with api(settings) as client:
        assert (await client.get("/me", headers=user.bearer)).status_code == 200
        server.stop()
        for headers in (user.bearer, cookie(user)):
            response = await client.get("/me", headers=headers)
            assert response.status_code == 503
            assert response.json() == {
                "detail": "Authentication is temporarily unavailable. Retry later.",
                "code": "session_endpoint_unavailable",
            }
            assert int(response.headers["retry-after"]) >= 1
            assert response.headers["cache-control"] == "no-store"
        # A forged signature is still a 401: with the secret known it is refused locally.
        token, _, signature = user.signed_token.rpartition(".")
        forged = f"{token}.{signature[:5]}{'A' if signature[5] != 'A' else 'B'}{signature[6:]}"
        refused = await client.get("/me", headers={"Authorization": f"Bearer {forged}"})
        assert refused.status_code == 401
