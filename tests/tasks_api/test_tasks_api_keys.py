"""The Tasks API with Better Auth API keys, configured by the environment alone (no code of its
own): a real Better Auth server running ``@better-auth/api-key`` makes the keys, and their
permissions are the scopes the Tasks API already requires (``tasks:read``, ``tasks:write``).

Both API-key modes; the Better Auth database is SQLite or PostgreSQL with the Tasks database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from authbridge.errors import ConfigError
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
    *,
    require_scopes: bool = True,
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
    app = create_app(settings.model_copy(update={"require_scopes": require_scopes}))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
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


@pytest.mark.parametrize("mode", ["remote", "database"])
async def test_with_scopes_off_a_key_still_acts_within_its_permissions(
    mode: str,
    backend: str,
    better_auth_factory: ServerPool,
    settings: ServiceSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TASKS_REQUIRE_SCOPES off (the default): a signed-in user needs no scope, but an API
    key acts as its user limited by its permissions, on personal and team routes alike."""
    env: dict[str, str | int] = {"APIKEY": 1, "APIKEY_RATE_LIMIT": 0}
    if backend == "postgres":
        env["DATABASE_URL"] = PG_URL
    server = better_auth_factory(**env)
    ada = server.sign_up(name="Ada")
    writer = server.create_api_key(ada.id, permissions={"tasks": ["read", "write"]})
    reader = server.create_api_key(ada.id, permissions={"tasks": ["read"]})
    bare = server.create_api_key(ada.id)  # no permissions at all

    async with api_for(server, settings, mode, monkeypatch, require_scopes=False) as client:
        # The user's own JWT (no scope claim) writes: scopes are off for signed-in users.
        jwt = {"Authorization": f"Bearer {server.get_jwt(ada)}"}
        assert (await client.post("/api/tasks", json={"title": "by jwt"}, headers=jwt)).is_success

        made = await client.post(
            "/api/tasks", json={"title": "by key"}, headers={"x-api-key": writer.key}
        )
        assert made.status_code == 201
        task = made.json()["id"]

        listed = await client.get("/api/tasks", headers={"x-api-key": reader.key})
        assert listed.status_code == 200
        assert sorted(t["title"] for t in listed.json()["items"]) == ["by jwt", "by key"]

        read_only = {"x-api-key": reader.key}
        refused = [
            await client.post("/api/tasks", json={"title": "no"}, headers=read_only),
            await client.patch(f"/api/tasks/{task}", json={"completed": True}, headers=read_only),
            await client.delete(f"/api/tasks/{task}", headers=read_only),
            await client.post("/api/org/tasks", json={"title": "no"}, headers=read_only),
            await client.get("/api/tasks", headers={"x-api-key": bare.key}),
        ]
        for answer in refused:
            assert answer.status_code == 403, answer.request.url
            assert answer.json()["code"] == "insufficient_scope"
            assert 'scope="tasks:' in answer.headers["www-authenticate"]
        # Nothing was written by the refused requests.
        after = await client.get(f"/api/tasks/{task}", headers=read_only)
        assert after.json()["completed"] is False

        deleted = await client.delete(f"/api/tasks/{task}", headers={"x-api-key": writer.key})
        assert deleted.status_code == 204


async def test_remote_keys_without_their_permissions_are_a_startup_error(
    better_auth_factory: ServerPool,
    settings: ServiceSettings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Remote mode without AUTHBRIDGE_SESSION_DATABASE_URL: get-session answers no
    permissions, so every key would be 403. The app and ``tasks-api serve`` refuse to start,
    naming the variable and the fix."""
    server = better_auth_factory(APIKEY=1, APIKEY_RATE_LIMIT=0)
    for name in ("AUTHBRIDGE_SESSION_DATABASE_URL", "AUTHBRIDGE_SESSION_TABLES"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "BETTER_AUTH_URL": server.base_url,
        "AUTHBRIDGE_JWKS_URL": server.jwks_url,
        "AUTHBRIDGE_API_KEYS": "remote",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env
    with pytest.raises(ConfigError) as caught:
        create_app(settings)
    assert caught.value.variable == "AUTHBRIDGE_SESSION_DATABASE_URL"
    assert "AUTHBRIDGE_API_KEYS=database" in caught.value.fix

    tasks_api = str(Path(sys.executable).with_name("tasks-api"))
    done = subprocess.run(
        [tasks_api, "serve", "--port", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/tasks.db"},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "configuration error: AUTHBRIDGE_SESSION_DATABASE_URL:" in done.stderr
    assert "Traceback" not in done.stderr
