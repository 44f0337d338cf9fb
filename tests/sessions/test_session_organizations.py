"""The organization role in session modes, against the real Better Auth server.

In ``database`` mode the caller's role comes from the organization plugin's ``member`` table,
joined into the one session query; in ``remote`` mode from ``get-active-member``. Either way a
role changed through Better Auth's own ``update-member-role`` counts on the next request, and
a member removed through ``remove-member`` (whose session still names the organization) has
no organization access on the next request. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from authbridge import Principal
from authbridge.config import Settings, load_settings
from authbridge.fastapi import (
    ActiveOrganization,
    AuthBridge,
    require_org_role,
    require_permission,
)
from authbridge.sessions.config import SessionConfig, SessionTables
from authbridge.sessions.database import to_async_database_url
from authbridge.sessions.verifier import SessionVerifier
from harness.better_auth import BetterAuthServer, ServerPool
from harness.postgres_proxy import PostgresProxy

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("no_outside_settings")]

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, better_auth_module_factory: ServerPool
) -> BetterAuthServer:
    env: dict[str, str | int] = {"HARNESS_ADMIN": 1}
    if request.param == "postgres":
        env["DATABASE_URL"] = PG_URL
    return better_auth_module_factory(**env)


def database_url(server: BetterAuthServer) -> str:
    return server.env.get("DATABASE_URL") or server.env["DB_PATH"]


def settings_for(server: BetterAuthServer, mode: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "BETTER_AUTH_URL": server.base_url,
        "BETTER_AUTH_SECRET": server.secret,
        "AUTHBRIDGE_SESSION_MODE": mode,
        "AUTHBRIDGE_SESSION_CACHE_TTL": "0",
    }
    if mode == "database":
        values["AUTHBRIDGE_SESSION_DATABASE_URL"] = database_url(server)
        if server.env.get("DB_SCHEMA"):
            values["AUTHBRIDGE_SESSION_TABLES"] = json.dumps({"schema": server.env["DB_SCHEMA"]})
    values.update(extra)
    return load_settings(env_file=None, **values)


class Statements:
    """Counts the SQL statements an engine runs (an SQLAlchemy event listener)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.seen: list[str] = []
        sa.event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, *args: Any) -> None:
        self.seen.append(str(args[2]))

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen


@asynccontextmanager
async def counted_verifier(
    server: BetterAuthServer, tables: SessionTables | None = None
) -> AsyncIterator[tuple[SessionVerifier, Statements]]:
    engine = create_async_engine(to_async_database_url(database_url(server)))
    config = SessionConfig(
        mode="database",
        database_url=database_url(server),
        secrets=((0, server.secret),),
        tables=tables or SessionTables(schema=server.env.get("DB_SCHEMA")),
        base_url=server.base_url,
    )
    statements = Statements(engine)
    try:
        async with SessionVerifier(config, engine=engine) as verifier:
            statements.take()  # the column detection at start
            yield verifier, statements
    finally:
        await engine.dispose()


class Organization:
    """An organization made through Better Auth's own endpoints, with one added member."""

    def __init__(self, server: BetterAuthServer, role: str = "member") -> None:
        self.server = server
        self.owner, self.member = server.sign_up(), server.sign_up()
        self.id = server.create_organization(self.owner)
        self.member_id = server.admin_add_member(self.id, self.member.id, role)
        server.set_active_organization(self.member, self.id)

    def set_role(self, role: str | list[str]) -> None:
        self.server.update_member_role(self.owner, self.id, self.member_id, role)

    def remove(self) -> None:
        self.server.remove_member(self.owner, self.id, self.member_id)


# --- database mode: the member table, joined ----------------------------------------------------


async def test_database_mode_reads_the_role_fresh_in_one_statement(
    server: BetterAuthServer,
) -> None:
    org = Organization(server)
    async with counted_verifier(server) as (verifier, statements):
        owner = await verifier.verify(org.owner.signed_token)
        assert (owner.organization_id, owner.organization_role) == (org.id, "owner")
        statements.take()

        member = await verifier.verify(org.member.signed_token)
        assert (member.organization_id, member.organization_role) == (org.id, "member")
        assert len(statements.take()) == 1

        org.set_role("admin")
        member = await verifier.verify(org.member.signed_token)
        assert member.organization_role == "admin"
        assert len(statements.take()) == 1

        org.set_role(["admin", "member"])  # Better Auth stores several roles as "admin,member"
        assert (await verifier.verify(org.member.signed_token)).organization_role == (
            "admin,member"
        )
        assert len(statements.take()) == 1

        org.remove()
        removed = await verifier.verify(org.member.signed_token)
        assert removed.sub == org.member.id  # still signed in
        assert (removed.organization_id, removed.organization_role) == (None, None)
        assert len(statements.take()) == 1
        # Better Auth agrees: the session still names the organization, the member is gone.
        body, _ = server.get_session(org.member)
        assert body is not None
        assert body["session"]["activeOrganizationId"] == org.id
        answer = server.client.get(
            "/api/auth/organization/get-active-member", headers=org.member.bearer
        )
        assert answer.status_code == 400
        assert answer.json()["code"] == "MEMBER_NOT_FOUND"


async def test_no_active_organization_has_no_role(server: BetterAuthServer) -> None:
    loner = server.sign_up()
    async with counted_verifier(server) as (verifier, statements):
        principal = await verifier.verify(loner.signed_token)
        assert (principal.organization_id, principal.organization_role) == (None, None)
        assert len(statements.take()) == 1


async def test_the_member_table_can_be_turned_off(server: BetterAuthServer) -> None:
    """``member_table: null``: the session's organization is read as before, with no role."""
    org = Organization(server)
    tables = SessionTables(schema=server.env.get("DB_SCHEMA"), member_table=None)
    async with counted_verifier(server, tables) as (verifier, statements):
        principal = await verifier.verify(org.member.signed_token)
        assert (principal.organization_id, principal.organization_role) == (org.id, None)
        assert len(statements.take()) == 1
        assert not any('"member"' in s for s in statements.seen)


async def test_a_database_without_the_organization_plugin(tmp_path: Any) -> None:
    """Better Auth's core tables only (no member table, no activeOrganizationId): one query."""
    path = tmp_path / "core.db"
    engine = create_async_engine(to_async_database_url(str(path)))
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                'CREATE TABLE "user" ("id" text primary key, "name" text, "email" text, '
                '"emailVerified" integer, "image" text, "createdAt" date, "updatedAt" date)'
            )
        )
        await conn.execute(
            sa.text(
                'CREATE TABLE "session" ("id" text primary key, "expiresAt" date, "token" text, '
                '"createdAt" date, "updatedAt" date, "userId" text)'
            )
        )
        await conn.execute(
            sa.text(
                "INSERT INTO \"user\" VALUES ('u1', 'A', 'a@example.com', 1, NULL, "
                "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')"
            )
        )
        await conn.execute(
            sa.text(
                "INSERT INTO \"session\" VALUES ('s1', '2999-01-01T00:00:00.000Z', 'tok', "
                "'2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'u1')"
            )
        )
    from sessions_builders import new_secret, sign

    secret = new_secret()
    config = SessionConfig(mode="database", database_url=str(path), secrets=((0, secret),))
    statements = Statements(engine)
    try:
        async with SessionVerifier(config, engine=engine) as verifier:
            statements.take()
            principal = await verifier.verify(sign("tok", secret))
            assert principal.sub == "u1"
            assert (principal.organization_id, principal.organization_role) == (None, None)
            assert principal.claims["email"] == "a@example.com"
            assert len(statements.take()) == 1
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def pg_server(better_auth_module_factory: ServerPool) -> BetterAuthServer:
    return better_auth_module_factory(HARNESS_ADMIN=1, DATABASE_URL=PG_URL)


@pytest.mark.postgres
async def test_postgresql_the_member_join_keeps_one_round_trip(pg_server: BetterAuthServer) -> None:
    """On the wire: a lookup with the member row joined is one execute, as without it."""
    org = Organization(pg_server)
    proxy = PostgresProxy()
    port = await proxy.start()
    try:
        config = SessionConfig(
            mode="database",
            database_url=f"postgresql://postgres@127.0.0.1:{port}/test?ssl=disable",
            secrets=((0, pg_server.secret),),
            tables=SessionTables(schema=pg_server.env["DB_SCHEMA"]),
            base_url=pg_server.base_url,
        )
        async with SessionVerifier(config) as verifier:
            for _ in range(2):  # the first lookup also prepares its statement
                await verifier.verify(org.member.signed_token)
            proxy.take()
            principal = await verifier.verify(org.member.signed_token)
            assert principal.organization_role == "member"
            assert proxy.take() == ["execute"]
            org.remove()
            principal = await verifier.verify(org.member.signed_token)
            assert principal.organization_id is None
            assert proxy.take() == ["execute"]
    finally:
        await proxy.close()


# --- remote mode: get-active-member -------------------------------------------------------------


async def test_remote_mode_reads_the_role_fresh(server: BetterAuthServer) -> None:
    org = Organization(server)
    from authbridge.verifier import Verifier

    settings = settings_for(server, "remote")
    async with Verifier.from_settings(settings) as verifier:
        principal = await verifier.verify(org.member.signed_token)
        assert (principal.organization_id, principal.organization_role) == (org.id, "member")
        org.set_role("admin")
        assert (await verifier.verify(org.member.signed_token)).organization_role == "admin"
        org.remove()
        removed = await verifier.verify(org.member.signed_token)
        assert removed.sub == org.member.id
        assert (removed.organization_id, removed.organization_role) == (None, None)


async def test_remote_mode_asks_get_active_member_only_for_an_active_organization(
    server: BetterAuthServer,
) -> None:
    """The cost: one more call, only when an organization is active. The mean time per lookup
    is printed for the docs (``pytest -s``)."""
    org, loner = Organization(server), server.sign_up()
    paths: list[str] = []

    async def record(request: httpx.Request) -> None:
        paths.append(request.url.path)

    client = httpx.AsyncClient(trust_env=False, event_hooks={"request": [record]})
    config = SessionConfig(
        mode="remote", base_url=server.base_url, secrets=((0, server.secret),), cache_ttl=0
    )
    timings: dict[str, float] = {}
    async with client, SessionVerifier(config, http_client=client) as verifier:
        for name, user, expected in (
            ("no organization", loner, ["/api/auth/get-session"]),
            (
                "active organization",
                org.member,
                ["/api/auth/get-session", "/api/auth/organization/get-active-member"],
            ),
        ):
            await verifier.verify(user.signed_token)
            assert paths == expected
            rounds = 20
            started = time.perf_counter()
            for _ in range(rounds):
                await verifier.verify(user.signed_token)
            timings[name] = round((time.perf_counter() - started) / rounds * 1000, 1)
            assert len(paths) == len(expected) * (rounds + 1)
            paths.clear()
    print(f"\nremote lookup, ms per request: {timings}")


# --- FastAPI: the guards over a real app, with the session credential ---------------------------


def build_app(bridge: AuthBridge) -> FastAPI:
    app = FastAPI()
    bridge.install(app)

    @app.get("/org")
    async def org(organization: ActiveOrganization) -> dict[str, str]:
        return {"organization": organization}

    @app.delete("/org/tasks", dependencies=[Depends(require_org_role("owner", "admin"))])
    async def delete_tasks() -> dict[str, bool]:
        return {"deleted": True}

    @app.post("/org/invitations")
    async def invite(
        user: Annotated[Principal, Depends(require_permission("invitation", "create"))],
    ) -> dict[str, str | None]:
        return {"role": user.organization_role}

    return app


@pytest.mark.parametrize("mode", ["database", "remote"])
async def test_fastapi_guards_follow_the_member_table(server: BetterAuthServer, mode: str) -> None:
    org = Organization(server)
    app = build_app(AuthBridge.from_settings(settings_for(server, mode)))
    headers = org.member.bearer
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            assert (await client.get("/org", headers=headers)).json() == {"organization": org.id}
            assert (await client.delete("/org/tasks", headers=headers)).status_code == 403
            assert (await client.post("/org/invitations", headers=headers)).status_code == 403

            org.set_role("admin")
            assert (await client.delete("/org/tasks", headers=headers)).status_code == 200
            answer = await client.post("/org/invitations", headers=headers)
            assert answer.json() == {"role": "admin"}

            org.remove()
            for method, path in (
                ("GET", "/org"),
                ("DELETE", "/org/tasks"),
                ("POST", "/org/invitations"),
            ):
                refused = await client.request(method, path, headers=headers)
                assert refused.status_code == 403, (method, path)
                assert refused.json()["code"] == "organization_required"
