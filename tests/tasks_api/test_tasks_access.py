"""The admin role, optional scope enforcement (TASKS_REQUIRE_SCOPES), CORS and readiness."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from tasks_support import Caller, make_caller, running_api

from authbridge import Verifier, load_settings
from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer
from conftest import Api, settings_for
from tasks_api.app import create_app
from tasks_api.settings import ServiceSettings


async def test_admin_stats_count_across_users(api: Api, alice: Caller, bob: Caller) -> None:
    await api.create(alice, priority="high", completed=True)
    await api.create(alice, priority="low")
    await api.create(bob, priority="high")
    admin = api.caller(role="admin")
    response = await api.client.get("/api/admin/stats", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == {
        "tasks": 3,
        "completed": 1,
        "open": 2,
        "owners": 2,
        "by_priority": {"low": 1, "normal": 0, "high": 2},
    }


async def test_admin_stats_need_the_admin_role(api: Api, alice: Caller) -> None:
    for caller in (alice, api.caller(role="user"), api.caller(role="administrator")):
        response = await api.client.get("/api/admin/stats", headers=caller.headers)
        assert response.status_code == 403
        assert response.json()["code"] == "insufficient_scope"
    # A role in the token is all it takes, alongside others.
    several = api.caller(role="user,admin")
    assert (await api.client.get("/api/admin/stats", headers=several.headers)).status_code == 200


async def test_admin_role_grants_no_access_to_others_tasks(api: Api, alice: Caller) -> None:
    task = await api.create(alice)
    admin = api.caller(role="admin")
    response = await api.client.get(f"/api/tasks/{task['id']}", headers=admin.headers)
    assert response.status_code == 404


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def scoped_settings(request: pytest.FixtureRequest, tmp_path: Path) -> ServiceSettings:
    return settings_for(str(request.param), request, tmp_path, require_scopes=True)


async def test_scopes_enforced_when_required(scoped_settings: ServiceSettings) -> None:
    issuer = FakeIssuer()
    async with running_api(scoped_settings, issuer) as (_, client):
        none = make_caller(issuer)
        reader = make_caller(issuer, scope="tasks:read")
        writer = make_caller(issuer, scope="tasks:write")
        both = make_caller(issuer, scope="tasks:read tasks:write")

        assert (await client.get("/api/tasks", headers=none.headers)).status_code == 403
        assert (await client.get("/api/tasks", headers=reader.headers)).status_code == 200
        assert (await client.get("/api/tasks", headers=writer.headers)).status_code == 403
        refused = await client.post("/api/tasks", json={"title": "x"}, headers=reader.headers)
        assert refused.status_code == 403
        assert 'scope="tasks:write"' in refused.headers["www-authenticate"]
        assert refused.json()["code"] == "insufficient_scope"
        made = await client.post("/api/tasks", json={"title": "x"}, headers=writer.headers)
        assert made.status_code == 201
        mine = await client.post("/api/tasks", json={"title": "y"}, headers=both.headers)
        path = mine.headers["location"]
        assert (await client.get(path, headers=both.headers)).status_code == 200
        assert (await client.patch(path, json={}, headers=reader.headers)).status_code == 403
        assert (await client.delete(path, headers=reader.headers)).status_code == 403
        assert (await client.delete(path, headers=both.headers)).status_code == 204
        # /api/me needs only a valid token.
        assert (await client.get("/api/me", headers=none.headers)).status_code == 200


async def test_scopes_not_required_by_default(api: Api) -> None:
    assert api.settings.require_scopes is False
    caller = api.caller()  # no scope claim at all
    assert (await api.client.get("/api/tasks", headers=caller.headers)).status_code == 200


async def test_cors_preflight_and_exposed_headers(api: Api, alice: Caller) -> None:
    origin = "http://localhost:3000"
    preflight = await api.client.options(
        "/api/tasks/x",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, if-match, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "if-match", "content-type"):
        assert header in allowed
    created = await api.client.post(
        "/api/tasks", json={"title": "x"}, headers={**alice.headers, "Origin": origin}
    )
    exposed = {
        h.strip().lower() for h in created.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "location"} <= exposed
    stranger = await api.client.options(
        "/api/tasks",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in stranger.headers
    assert stranger.status_code == 400
    assert stranger.json() == {"detail": "Disallowed CORS origin.", "code": "cors_rejected"}


async def test_cors_origins_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://app.example.com, https://admin.example.com")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/t.db")
    settings = ServiceSettings()
    assert settings.origins == ["https://app.example.com", "https://admin.example.com"]
    issuer = FakeIssuer()
    async with running_api(settings, issuer) as (_, client):
        for origin, allowed in [
            ("https://admin.example.com", True),
            ("http://localhost:3000", False),
        ]:
            response = await client.get("/healthz", headers={"Origin": origin})
            assert ("access-control-allow-origin" in response.headers) is allowed


async def test_readyz_503_when_keys_are_unreachable(tmp_path: Path) -> None:
    issuer = FakeIssuer(base_url=None)
    jwks_url = issuer.start_server()
    issuer.stop_server()  # nothing listens there any more
    auth_settings = load_settings(
        AUTHBRIDGE_JWKS_URL=jwks_url,
        AUTHBRIDGE_ISSUER=issuer.issuer,
        AUTHBRIDGE_AUDIENCE=issuer.issuer,
        AUTHBRIDGE_JWKS_TIMEOUT=0.5,
    )
    bridge = AuthBridge(Verifier.from_settings(auth_settings))
    settings = ServiceSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db")
    import httpx
    from asgi_lifespan import LifespanManager

    app = create_app(settings, bridge=bridge)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["code"] == "not_ready"
            assert body["checks"] == {"database": True, "keys": False}
            assert "keys" in body["detail"]
            assert (await client.get("/healthz")).status_code == 200


async def test_readyz_503_until_migrated(tmp_path: Path) -> None:
    settings = ServiceSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db", run_migrations=False
    )
    issuer = FakeIssuer()
    async with running_api(settings, issuer) as (_, client):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"database": False, "keys": True}


@pytest.mark.parametrize(
    "value", ["localhost:3000", "https://app.example.com/", "ftp://x.example", "https://a.b/path"]
)
def test_cors_origins_must_be_origins(value: str) -> None:
    from authbridge.errors import ConfigError
    from tasks_api.settings import load_service_settings

    with pytest.raises(ConfigError) as caught:
        load_service_settings(cors_origins=value)
    assert caught.value.variable == "CORS_ORIGINS"


def test_wildcard_cors_never_allows_credentials() -> None:
    assert ServiceSettings(cors_origins="*").cors_credentials is False
    assert ServiceSettings(cors_origins="http://localhost:3000").cors_credentials is True


async def test_database_down_is_503_not_500(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ServiceSettings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test",
        run_migrations=False,
    )
    issuer = FakeIssuer()
    caller = make_caller(issuer)
    async with running_api(settings, issuer) as (_, client):
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": False, "keys": True}
        for method, body in [("GET", None), ("POST", {"title": "x"})]:
            response = await client.request(method, "/api/tasks", json=body, headers=caller.headers)
            assert response.status_code == 503, response.text
            assert response.json() == {
                "detail": "The database is unavailable. Retry later.",
                "code": "database_unavailable",
            }
            assert response.headers["retry-after"] == "5"
            assert str(port) not in response.text
