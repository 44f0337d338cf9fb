"""The Tasks API with Better Auth API keys, configured by the environment alone (no code of its
own): a real Better Auth server running ``@better-auth/api-key`` makes the keys, and their
permissions are the scopes the Tasks API already requires (``tasks:read``, ``tasks:write``).

Both API-key modes; the Better Auth database is SQLite or PostgreSQL with the Tasks database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager

from harness.better_auth import BetterAuthServer, ServerPool
from tasks_api.app import create_app
from tasks_api.settings import ServiceSettings

pytestmark = pytest.mark.interop

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@asynccontextmanager
async def api_for(
    server: BetterAuthServer,
    settings: ServiceSettings,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("BETTER_AUTH_URL", server.base_url)
    monkeypatch.setenv("AUTHBRIDGE_JWKS_URL", server.jwks_url)
    monkeypatch.setenv("AUTHBRIDGE_API_KEYS", mode)
    # Database mode validates there; remote mode reads only the keys' permissions from it.
    monkeypatch.setenv(
        "AUTHBRIDGE_SESSION_DATABASE_URL", server.env.get("DATABASE_URL") or server.env["DB_PATH"]
    )
    if server.env.get("DB_SCHEMA"):
        monkeypatch.setenv(
            "AUTHBRIDGE_SESSION_TABLES", f'{{"schema": "{server.env["DB_SCHEMA"]}"}}'
        )
    app = create_app(settings.model_copy(update={"require_scopes": True}))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tasks.test") as client:
            yield client


@pytest.mark.parametrize("mode", ["remote", "database"])
async def test_better_auth_api_keys_on_the_tasks_api(
    mode: str,
    backend: str,
    better_auth_factory: ServerPool,
    settings: ServiceSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env: dict[str, str | int] = {"APIKEY": 1, "APIKEY_RATE_LIMIT": 0}
    if backend == "postgres":
        env["DATABASE_URL"] = PG_URL
    server = better_auth_factory(**env)
    ada = server.sign_up(name="Ada")
    writer = server.create_api_key(ada.id, permissions={"tasks": ["read", "write"]})
    reader = server.create_api_key(ada.id, permissions={"tasks": ["read"]})
    disabled = server.create_api_key(ada.id, permissions={"tasks": ["read"]})
    deleted = server.create_api_key(ada.id, permissions={"tasks": ["read"]})
    server.update_api_key(disabled, enabled=False)
    server.delete_api_key(deleted)

    async with api_for(server, settings, mode, monkeypatch) as client:
        me = (await client.get("/api/me", headers={"x-api-key": writer.key})).json()
        assert (me["sub"], me["credential"], me["session_id"]) == (ada.id, "api_key", writer.id)
        assert me["scopes"] == ["tasks:read", "tasks:write"]

        made = await client.post(
            "/api/tasks", json={"title": "by key"}, headers={"x-api-key": writer.key}
        )
        assert made.status_code == 201
        listed = await client.get("/api/tasks", headers={"x-api-key": reader.key})
        assert listed.status_code == 200
        assert [t["title"] for t in listed.json()["items"]] == ["by key"]

        denied = await client.post(
            "/api/tasks", json={"title": "no"}, headers={"x-api-key": reader.key}
        )
        assert denied.status_code == 403
        assert denied.json()["code"] == "insufficient_scope"

        for key in (disabled, deleted):
            refused = await client.get("/api/tasks", headers={"x-api-key": key.key})
            assert refused.status_code == 401
            assert refused.json()["code"] == "invalid_api_key"
            assert 'error="invalid_api_key"' in refused.headers["www-authenticate"]
