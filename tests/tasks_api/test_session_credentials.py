"""The Tasks API with Better Auth session credentials, end to end, on SQLite and PostgreSQL.

A real Better Auth server (Node) signs users up and out; its database (SQLite file, or a
schema of the local PostgreSQL) is the one authbridge reads sessions from. The Tasks API is
configured only through environment variables, as ``tasks-api serve`` would be, and its own
database follows the same backend. JWTs and session tokens work side by side.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from tasks_support import clean_env, serving

from harness.better_auth import BAUser, BetterAuthServer, ServerPool
from tasks_api.app import create_app
from tasks_api.settings import ServiceSettings

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("no_outside_settings")]

BETTER_AUTH_PG = "postgresql://postgres@127.0.0.1:5432/test"
WEB_ORIGIN = "http://localhost:3000"
EVIL_ORIGIN = "https://evil.example"

ServerFor = Callable[[str], BetterAuthServer]


@pytest.fixture(scope="module")
def servers(better_auth_module_factory: ServerPool) -> ServerFor:
    """One Better Auth server per database backend, started when first needed."""
    started: dict[str, BetterAuthServer] = {}

    def server_for(backend: str) -> BetterAuthServer:
        if backend not in started:
            env: dict[str, str | int] = {"JWT_DEFINE_PAYLOAD": 1, "HARNESS_ADMIN": 1}
            if backend == "postgres":
                env["DATABASE_URL"] = BETTER_AUTH_PG
            started[backend] = better_auth_module_factory(**env)
        return started[backend]

    return server_for


@pytest.fixture
def server(backend: str, servers: ServerFor) -> BetterAuthServer:
    return servers(backend)


def session_env(server: BetterAuthServer, **extra: str) -> dict[str, str]:
    """Every authbridge variable the deployment needs: JWKS and the shared session table."""
    env = {
        "BETTER_AUTH_URL": server.base_url,
        "BETTER_AUTH_SECRET": server.secret,
        "AUTHBRIDGE_JWKS_URL": server.jwks_url,
        "AUTHBRIDGE_SESSION_MODE": "database",
        "AUTHBRIDGE_SESSION_DATABASE_URL": server.env.get("DATABASE_URL") or server.env["DB_PATH"],
        "AUTHBRIDGE_SESSION_COOKIE": "on",
        "AUTHBRIDGE_TRUSTED_ORIGINS": WEB_ORIGIN,
    }
    schema = server.env.get("DB_SCHEMA")
    if schema:
        env["AUTHBRIDGE_SESSION_TABLES"] = json.dumps({"schema": schema})
    env.update(extra)
    return env


@asynccontextmanager
async def tasks_api(
    settings: ServiceSettings, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app(settings)  # AuthBridge.from_env(): the same settings `serve` reads
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tasks.test") as client:
            yield client


def with_cookie(user: BAUser, **headers: str) -> dict[str, str]:
    """The cookie exactly as Better Auth set it, and the browser's other headers."""
    return {"Cookie": user.cookie_header, **headers}


def from_web(user: BAUser) -> dict[str, str]:
    return with_cookie(user, Origin=WEB_ORIGIN)


def titles(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(task["title"] for task in response.json()["items"])


async def test_session_token_and_cookie_then_sign_out(
    server: BetterAuthServer, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = server.sign_up(name="Session User")
    session_body, _ = server.get_session(user)
    assert session_body is not None
    session_id = session_body["session"]["id"]
    async with tasks_api(settings, session_env(server), monkeypatch) as client:
        me = await client.get("/api/me", headers=user.bearer)
        assert me.status_code == 200, me.text
        assert me.json()["sub"] == user.id
        assert me.json()["credential"] == "session"
        assert me.json()["session_id"] == session_id
        assert me.json()["email"] == user.email

        by_bearer = await client.post("/api/tasks", json={"title": "bearer"}, headers=user.bearer)
        assert by_bearer.status_code == 201, by_bearer.text
        encoded = {"Authorization": f"Bearer {user.cookie_value}"}  # URL-encoded form
        by_encoded = await client.post("/api/tasks", json={"title": "encoded"}, headers=encoded)
        assert by_encoded.status_code == 201, by_encoded.text
        by_cookie = await client.post(
            "/api/tasks", json={"title": "cookie"}, headers=from_web(user)
        )
        assert by_cookie.status_code == 201, by_cookie.text
        assert "Authorization, Cookie" in by_cookie.headers["vary"]  # (CORS adds Origin)

        expected = ["bearer", "cookie", "encoded"]
        assert titles(await client.get("/api/tasks", headers=with_cookie(user))) == expected
        assert titles(await client.get("/api/tasks", headers=user.bearer)) == expected
        # The JWT for the same user sees the same tasks: both resolve to the user's id.
        jwt_headers = {"Authorization": f"Bearer {server.get_jwt(user)}"}
        assert titles(await client.get("/api/tasks", headers=jwt_headers)) == expected

        server.sign_out(user)
        for headers in (user.bearer, encoded, with_cookie(user), from_web(user)):
            gone = await client.get("/api/tasks", headers=headers)
            assert gone.status_code == 401
            assert gone.json()["code"] == "invalid_token"
        refused = await client.post("/api/tasks", json={"title": "late"}, headers=from_web(user))
        assert refused.status_code == 401
        # Without AUTHBRIDGE_JWT_SESSION_CHECK a JWT stays valid until it expires.
        assert (await client.get("/api/tasks", headers=jwt_headers)).status_code == 200


async def test_jwt_with_sid_is_rejected_right_after_sign_out(
    server: BetterAuthServer, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, other = server.sign_up(), server.sign_up()
    jwt = {"Authorization": f"Bearer {server.get_jwt(user)}"}
    other_jwt = {"Authorization": f"Bearer {server.get_jwt(other)}"}
    env = session_env(server, AUTHBRIDGE_JWT_SESSION_CHECK="true")
    async with tasks_api(settings, env, monkeypatch) as client:
        me = (await client.get("/api/me", headers=jwt)).json()
        assert me["credential"] == "jwt"
        assert me["session_id"]  # Better Auth put the session id in `sid`
        assert (
            await client.post("/api/tasks", json={"title": "t"}, headers=jwt)
        ).status_code == 201
        for _ in range(3):  # verified repeatedly (cached signature, fresh session lookup)
            assert (await client.get("/api/tasks", headers=jwt)).status_code == 200

        server.sign_out(user)
        revoked = await client.get("/api/tasks", headers=jwt)
        assert revoked.status_code == 401
        assert revoked.json()["code"] == "invalid_token"
        assert (await client.get("/api/tasks", headers=other_jwt)).status_code == 200


async def test_csrf_rules_on_the_tasks_api(
    server: BetterAuthServer, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = server.sign_up()
    async with tasks_api(settings, session_env(server), monkeypatch) as client:
        cross_site = await client.post(
            "/api/tasks", json={"title": "x"}, headers=with_cookie(user, Origin=EVIL_ORIGIN)
        )
        assert cross_site.status_code == 403
        assert cross_site.json() == {
            "detail": "The request's origin is not trusted.",
            "code": "csrf_rejected",
        }
        no_origin = await client.post("/api/tasks", json={"title": "x"}, headers=with_cookie(user))
        assert no_origin.status_code == 403
        assert no_origin.json()["code"] == "csrf_rejected"
        assert titles(await client.get("/api/tasks", headers=user.bearer)) == []

        same_site = await client.post("/api/tasks", json={"title": "ok"}, headers=from_web(user))
        assert same_site.status_code == 201
        task_url = same_site.headers["location"]
        by_referer = await client.post(
            "/api/tasks",
            json={"title": "ref"},
            headers=with_cookie(user, Referer=f"{WEB_ORIGIN}/tasks"),
        )
        assert by_referer.status_code == 201
        foreign_read = await client.get("/api/tasks", headers=with_cookie(user, Origin=EVIL_ORIGIN))
        assert titles(foreign_read) == ["ok", "ref"]
        foreign_delete = await client.delete(
            task_url, headers=with_cookie(user, Origin=EVIL_ORIGIN)
        )
        assert foreign_delete.status_code == 403
        assert (await client.get(task_url, headers=from_web(user))).status_code == 200


async def test_session_mode_off_refuses_session_credentials(
    server: BetterAuthServer, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = server.sign_up()
    env = {
        "BETTER_AUTH_URL": server.base_url,
        "AUTHBRIDGE_JWKS_URL": server.jwks_url,
    }
    async with tasks_api(settings, env, monkeypatch) as client:
        assert (await client.get("/api/tasks", headers=user.bearer)).status_code == 401
        cookie_only = await client.get("/api/tasks", headers=from_web(user))
        assert cookie_only.status_code == 401
        assert cookie_only.json()["code"] == "token_missing"
        jwt = {"Authorization": f"Bearer {server.get_jwt(user)}"}
        assert (await client.get("/api/tasks", headers=jwt)).status_code == 200


# ---- `tasks-api serve`: a real process configured only by the environment -----------------------


@pytest.fixture
def served(servers: ServerFor, tmp_path: Path) -> Iterator[tuple[str, BetterAuthServer]]:
    """``tasks-api serve`` in session mode (SQLite for both), until the test ends."""
    server = servers("sqlite")
    env = clean_env(
        **session_env(server),
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/tasks.db",
        CORS_ORIGINS=WEB_ORIGIN,
    )
    with serving([], env, tmp_path) as url:
        yield url, server


def test_authbridge_serve_reads_the_session_settings(
    served: tuple[str, BetterAuthServer],
) -> None:
    url, server = served
    user = server.sign_up()
    with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
        made = client.post("/api/tasks", json={"title": "served"}, headers=from_web(user))
        assert made.status_code == 201, made.text
        listed = client.get("/api/tasks", headers=user.bearer)
        assert titles(listed) == ["served"]
        jwt = {"Authorization": f"Bearer {server.get_jwt(user)}"}
        assert titles(client.get("/api/tasks", headers=jwt)) == ["served"]
        # A browser on the web origin reads it with credentials (CORS), the cookie carrying auth.
        cors = client.get("/api/tasks", headers=from_web(user))
        assert cors.headers["access-control-allow-origin"] == WEB_ORIGIN
        assert cors.headers["access-control-allow-credentials"] == "true"
        server.sign_out(user)
        assert client.get("/api/tasks", headers=from_web(user)).status_code == 401


async def test_a_role_change_and_a_removal_count_on_the_next_request(
    server: BetterAuthServer, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Session mode reads the member's role fresh from Better Auth's member table: demoted
    from admin to member through Better Auth's organization/update-member-role, the next
    DELETE is 403; removed through organization/remove-member, the next team request is 403
    ``organization_required``. The session itself still names the organization."""
    owner, member = server.sign_up(name="Owner"), server.sign_up(name="Member")
    acme = server.create_organization(owner)
    member_id = server.admin_add_member(acme, member.id, "admin")
    server.set_active_organization(member, acme)
    async with tasks_api(settings, session_env(server), monkeypatch) as client:
        me = (await client.get("/api/me", headers=member.bearer)).json()
        assert (me["credential"], me["organization_id"]) == ("session", acme)
        assert me["organization_role"] == "admin"

        paths = []
        for title in ("first", "second"):
            made = await client.post("/api/org/tasks", json={"title": title}, headers=owner.bearer)
            assert made.status_code == 201, made.text
            paths.append(made.headers["location"])
        assert (await client.delete(paths[0], headers=member.bearer)).status_code == 204

        server.update_member_role(owner, acme, member_id, "member")
        me = (await client.get("/api/me", headers=member.bearer)).json()
        assert me["organization_role"] == "member"
        refused = await client.delete(paths[1], headers=member.bearer)
        assert refused.status_code == 403
        assert refused.json()["code"] == "insufficient_scope"
        # A member still reads and writes the team's tasks.
        assert titles(await client.get("/api/org/tasks", headers=member.bearer)) == ["second"]

        server.remove_member(owner, acme, member_id)
        for answer in (
            await client.get("/api/org/tasks", headers=member.bearer),
            await client.get(paths[1], headers=member.bearer),
            await client.post("/api/org/tasks", json={"title": "late"}, headers=member.bearer),
        ):
            assert answer.status_code == 403, answer.text
            assert answer.json()["code"] == "organization_required"
        me = (await client.get("/api/me", headers=member.bearer)).json()
        assert (me["organization_id"], me["organization_role"]) == (None, None)
        # The owner's access is untouched, and the task is still there.
        assert titles(await client.get("/api/org/tasks", headers=owner.bearer)) == ["second"]
