"""End to end with a real Better Auth server (Node): real users, real JWTs from ``/token``.

The API is configured only through the environment (``BETTER_AUTH_URL`` and
``AUTHBRIDGE_JWKS_URL`` point at the server), exactly as it would be deployed.
"""

from __future__ import annotations

import uuid
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
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
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


async def test_real_organization_members_share_team_tasks(
    better_auth_factory: ServerPool, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Better Auth's organization plugin end to end: the active organization and the member's
    role come from the real token (the interop server's definePayload adds them)."""
    server = better_auth_factory(JWT_DEFINE_PAYLOAD=1, HARNESS_ADMIN=1)
    scoped = settings.model_copy(update={"require_scopes": True})
    olive, max_, otto, nobody = (server.sign_up(name=n) for n in ("Olive", "Max", "Otto", "No"))
    acme = server.create_organization(olive, "Acme")  # olive owns it; it becomes her active one
    server.admin_add_member(acme, max_.id, "member")
    server.set_active_organization(max_, acme)
    server.create_organization(otto, "Globex")
    olive_auth, max_auth = bearer(server, olive), bearer(server, max_)
    otto_auth, nobody_auth = bearer(server, otto), bearer(server, nobody)
    async with api_for(server, scoped, monkeypatch) as client:
        made = await client.post("/api/org/tasks", json={"title": "Plan"}, headers=max_auth)
        assert made.status_code == 201, made.text
        assert made.json()["created_by"] == max_.id
        task_path = made.headers["location"]
        listed = (await client.get("/api/org/tasks", headers=olive_auth)).json()["items"]
        assert [item["title"] for item in listed] == ["Plan"]
        renamed = await client.patch(task_path, json={"title": "Plan B"}, headers=olive_auth)
        assert renamed.status_code == 200

        # A plain member may not delete; the owner may.
        refused = await client.delete(task_path, headers=max_auth)
        assert refused.status_code == 403
        assert refused.json()["code"] == "insufficient_scope"

        # Another organization's member: the same 404 as for a task that never existed.
        foreign = await client.get(task_path, headers=otto_auth)
        missing = await client.get(f"/api/org/tasks/{uuid.uuid4()}", headers=otto_auth)
        assert foreign.status_code == 404
        assert foreign.content == missing.content
        assert (await client.get("/api/org/tasks", headers=otto_auth)).json()["items"] == []

        # A user in no organization.
        alone = await client.get("/api/org/tasks", headers=nobody_auth)
        assert alone.status_code == 403
        assert alone.json()["code"] == "organization_required"

        # Olive switches to a new organization: Acme's task is hidden until she switches back.
        server.create_organization(olive, "Beta")
        elsewhere = bearer(server, olive)
        assert (await client.get(task_path, headers=elsewhere)).status_code == 404
        assert (await client.get("/api/org/tasks", headers=elsewhere)).json()["items"] == []
        server.set_active_organization(olive, acme)
        back = bearer(server, olive)
        assert (await client.get(task_path, headers=back)).json()["title"] == "Plan B"
        assert (await client.delete(task_path, headers=back)).status_code == 204
        assert (await client.get(task_path, headers=max_auth)).status_code == 404
