"""End to end with a real Better Auth server (Node): real users, real JWTs from ``/token``.

The API is configured only through the environment (``BETTER_AUTH_URL`` and
``AUTHBRIDGE_JWKS_URL`` point at the server), exactly as it would be deployed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager

from harness.better_auth import BAUser, BetterAuthServer, ServerPool
from tasks_api.app import create_app
from tasks_api.settings import ServiceSettings

pytestmark = pytest.mark.interop


@asynccontextmanager
async def api_for(
    server: BetterAuthServer, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("BETTER_AUTH_URL", server.base_url)
    monkeypatch.setenv("AUTHBRIDGE_JWKS_URL", server.jwks_url)
    app = create_app(settings)  # AuthBridge.from_env()
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tasks.test") as client:
            yield client


def bearer(server: BetterAuthServer, user: BAUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.get_jwt(user)}"}


async def test_two_real_users_each_see_only_their_tasks(
    better_auth: BetterAuthServer, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, grace = better_auth.sign_up(name="Ada"), better_auth.sign_up(name="Grace")
    ada_auth, grace_auth = bearer(better_auth, ada), bearer(better_auth, grace)
    async with api_for(better_auth, settings, monkeypatch) as client:
        assert (await client.get("/readyz")).status_code == 200
        me = (await client.get("/api/me", headers=ada_auth)).json()
        assert me["sub"] == ada.id
        assert me["email"] == ada.email
        assert me["name"] == "Ada"
        assert me["issuer"] == better_auth.origin
        assert me["credential"] == "jwt"

        ada_task = await client.post("/api/tasks", json={"title": "Ada's"}, headers=ada_auth)
        grace_task = await client.post("/api/tasks", json={"title": "Grace's"}, headers=grace_auth)
        assert ada_task.status_code == grace_task.status_code == 201

        ada_list = (await client.get("/api/tasks", headers=ada_auth)).json()["items"]
        grace_list = (await client.get("/api/tasks", headers=grace_auth)).json()["items"]
        assert [t["title"] for t in ada_list] == ["Ada's"]
        assert [t["title"] for t in grace_list] == ["Grace's"]

        foreign = ada_task.headers["location"]
        stolen = await client.get(foreign, headers=grace_auth)
        assert stolen.status_code == 404
        assert stolen.json() == {"detail": "Task not found.", "code": "not_found"}
        assert (await client.delete(foreign, headers=grace_auth)).status_code == 404
        assert (await client.get(foreign, headers=ada_auth)).status_code == 200

        # The Better Auth session token itself is not a JWT: refused on the JWT-only API.
        session = await client.get("/api/tasks", headers=ada.bearer)
        assert session.status_code == 401


async def test_real_roles_and_scopes(
    better_auth_factory: ServerPool, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = better_auth_factory(JWT_DEFINE_PAYLOAD=1, HARNESS_ADMIN=1)
    scoped = settings.model_copy(update={"require_scopes": True})
    boss, worker = server.sign_up(name="Boss"), server.sign_up(name="Worker")
    server.admin_set_role(boss.id, "admin")
    boss_auth, worker_auth = bearer(server, boss), bearer(server, worker)
    async with api_for(server, scoped, monkeypatch) as client:
        me = (await client.get("/api/me", headers=boss_auth)).json()
        assert me["roles"] == ["admin"]
        assert me["scopes"] == ["tasks:read", "tasks:write"]
        assert me["session_id"]  # the sid claim

        made = await client.post("/api/tasks", json={"title": "w"}, headers=worker_auth)
        assert made.status_code == 201  # tasks:write from the real token
        stats = await client.get("/api/admin/stats", headers=boss_auth)
        assert stats.status_code == 200
        assert stats.json()["tasks"] >= 1
        denied = await client.get("/api/admin/stats", headers=worker_auth)
        assert denied.status_code == 403
