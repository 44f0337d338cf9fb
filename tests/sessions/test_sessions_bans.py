"""Session mode and the admin and organization plugins: bans, the active organization and
the impersonator, read from Better Auth's own tables (SQLite and PostgreSQL) and from its
``get-session`` answer.

The plugin columns are added as Better Auth's migrations add them (admin: ``user.banned``,
``banReason``, ``banExpires``, ``session.impersonatedBy``; organization:
``session.activeOrganizationId``), and written as its Kysely adapter writes them: 0/1 and
``toISOString()`` text in SQLite, boolean and ``timestamptz`` in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sessions_builders import (
    compact_cookie,
    iso,
    jwt_cookie,
    new_secret,
    new_token,
    session_data,
    sign,
    url_encode,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from authbridge.errors import UserBanned
from authbridge.sessions.config import SessionConfig, SessionTables
from authbridge.sessions.verifier import SessionVerifier
from harness.better_auth_tables import PG_DDL, ROLE_COLUMN, sqlite_ddl
from harness.postgres_proxy import PostgresProxy

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

# What Better Auth's migrations add for each plugin, per database.
_PLUGIN_COLUMNS = {
    "sqlite": [
        ('"user"', '"banned" integer'),
        ('"user"', '"banReason" text'),
        ('"user"', '"banExpires" date'),
        ('"session"', '"impersonatedBy" text'),
        ('"session"', '"activeOrganizationId" text'),
    ],
    "postgres": [
        ('"user"', '"banned" boolean'),
        ('"user"', '"banReason" text'),
        ('"user"', '"banExpires" timestamptz'),
        ('"session"', '"impersonatedBy" text'),
        ('"session"', '"activeOrganizationId" text'),
    ],
}


@dataclass
class Store:
    kind: str
    url: str
    schema: str | None
    engine: AsyncEngine
    secret: str
    plugins: bool

    def config(self, **overrides: Any) -> SessionConfig:
        settings: dict[str, Any] = {
            "mode": "database",
            "database_url": self.url,
            "secrets": ((0, self.secret),),
            "tables": SessionTables(schema=self.schema),
        }
        settings.update(overrides)
        return SessionConfig(**settings)

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"' if self.schema else f'"{name}"'

    def date(self, moment: datetime) -> Any:
        return iso(moment) if self.kind == "sqlite" else moment

    def flag(self, value: bool) -> Any:
        return int(value) if self.kind == "sqlite" else value

    async def add_user(self) -> str:
        user_id = uuid.uuid4().hex
        now = self.date(datetime.now(UTC))
        columns = '"id", "name", "email", "emailVerified", "createdAt", "updatedAt", "role"'
        values = ":id, 'Bo', :email, :verified, :now, :now, 'user'"
        params: dict[str, Any] = {
            "id": user_id,
            "email": f"{user_id}@example.com",
            "verified": self.flag(True),
            "now": now,
        }
        if self.plugins:  # the admin plugin's default: banned false
            columns += ', "banned"'
            values += ", :banned"
            params["banned"] = self.flag(False)
        await self.run(f"INSERT INTO {self.table('user')} ({columns}) VALUES ({values})", params)
        return user_id

    async def add_session(self, user_id: str, **plugin: Any) -> str:
        token, now = new_token(), datetime.now(UTC)
        columns = '"id", "expiresAt", "token", "createdAt", "updatedAt", "userId"'
        values = ":id, :expires, :token, :now, :now, :user"
        params: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "expires": self.date(now + timedelta(days=7)),
            "token": token,
            "now": self.date(now),
            "user": user_id,
        }
        for name, value in plugin.items():
            columns += f', "{name}"'
            values += f", :{name}"
            params[name] = value
        await self.run(f"INSERT INTO {self.table('session')} ({columns}) VALUES ({values})", params)
        return sign(token, self.secret)

    async def ban(self, user_id: str, expires: Any, *, banned: Any = None) -> None:
        """What the admin plugin's ban-user endpoint writes (minus deleting the sessions,
        which would hide the ban behind ``session_invalid``)."""
        await self.run(
            f'UPDATE {self.table("user")} SET "banned" = :banned, "banReason" = :reason, '
            '"banExpires" = :expires WHERE "id" = :id',
            {
                "banned": self.flag(True) if banned is None else banned,
                "reason": "spam",
                "expires": expires,
                "id": user_id,
            },
        )

    async def run(self, statement: str, params: dict[str, Any]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.text(statement), params)


async def _sqlite(tmp_path: Path, plugins: bool) -> AsyncIterator[Store]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}")
    async with engine.begin() as conn:
        for ddl in sqlite_ddl(role=True):
            await conn.execute(sa.text(ddl))
        for table, column in _PLUGIN_COLUMNS["sqlite"] if plugins else ():
            await conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column}"))
    yield Store("sqlite", str(tmp_path / "auth.db"), None, engine, new_secret(), plugins)
    await engine.dispose()


async def _postgres(plugins: bool) -> AsyncIterator[Store]:
    schema = f"ab_bans_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(PG_URL.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        for ddl in PG_DDL:
            await conn.execute(sa.text(ddl.format(schema=schema, role=ROLE_COLUMN)))
        for table, column in _PLUGIN_COLUMNS["postgres"] if plugins else ():
            await conn.execute(sa.text(f'ALTER TABLE "{schema}".{table} ADD COLUMN {column}'))
    try:
        yield Store("postgres", PG_URL, schema, engine, new_secret(), plugins)
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    factory = _sqlite(tmp_path, True) if request.param == "sqlite" else _postgres(True)
    async for value in factory:
        yield value


@pytest.fixture(params=KINDS)
async def bare_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Better Auth without the admin and organization plugins: none of their columns."""
    factory = _sqlite(tmp_path, False) if request.param == "sqlite" else _postgres(False)
    async for value in factory:
        yield value


@pytest.fixture
async def verifiers() -> AsyncIterator[list[SessionVerifier]]:
    opened: list[SessionVerifier] = []
    yield opened
    for verifier in opened:
        await verifier.aclose()


async def _open(store: Store, opened: list[SessionVerifier], **config: Any) -> SessionVerifier:
    verifier = SessionVerifier(store.config(**config))
    await verifier.start()
    opened.append(verifier)
    return verifier


async def test_organization_and_impersonator_come_from_the_session(
    store: Store, verifiers: list[SessionVerifier]
) -> None:
    user_id = await store.add_user()
    admin_id = await store.add_user()
    token = await store.add_session(user_id, activeOrganizationId="org-1", impersonatedBy=admin_id)
    plain = await store.add_session(user_id)  # no organization, nobody impersonating
    verifier = await _open(store, verifiers)
    principal = await verifier.verify(token)
    assert (principal.sub, principal.organization_id, principal.impersonator) == (
        user_id,
        "org-1",
        admin_id,
    )
    principal = await verifier.verify(plain)
    assert (principal.organization_id, principal.impersonator) == (None, None)


async def test_switching_organization_counts_on_the_next_request(
    store: Store, verifiers: list[SessionVerifier]
) -> None:
    user_id = await store.add_user()
    token = await store.add_session(user_id, activeOrganizationId="org-1")
    verifier = await _open(store, verifiers)
    assert (await verifier.verify(token)).organization_id == "org-1"
    await store.run(
        f'UPDATE {store.table("session")} SET "activeOrganizationId" = :org WHERE "userId" = :u',
        {"org": "org-2", "u": user_id},
    )
    assert (await verifier.verify(token)).organization_id == "org-2"


async def test_a_banned_user_is_refused(store: Store, verifiers: list[SessionVerifier]) -> None:
    user_id = await store.add_user()
    token = await store.add_session(user_id)
    verifier = await _open(store, verifiers)
    assert (await verifier.verify(token)).sub == user_id
    await store.ban(user_id, None)  # permanent
    with pytest.raises(UserBanned):
        await verifier.verify(token)
    await store.ban(user_id, store.date(datetime.now(UTC) + timedelta(hours=1)))
    with pytest.raises(UserBanned):
        await verifier.verify(token)


async def test_an_expired_ban_does_not_refuse(
    store: Store, verifiers: list[SessionVerifier]
) -> None:
    user_id = await store.add_user()
    token = await store.add_session(user_id)
    await store.ban(user_id, store.date(datetime.now(UTC) - timedelta(minutes=1)))
    verifier = await _open(store, verifiers)
    assert (await verifier.verify(token)).sub == user_id


async def test_sqlite_epoch_and_unreadable_expiries(
    tmp_path: Path, verifiers: list[SessionVerifier]
) -> None:
    """Other adapters write epoch numbers; text Better Auth never writes fails closed."""
    async for store in _sqlite(tmp_path, True):
        user_id = await store.add_user()
        token = await store.add_session(user_id)
        verifier = await _open(store, verifiers)
        past = datetime.now(UTC) - timedelta(minutes=1)
        future = datetime.now(UTC) + timedelta(minutes=10)
        for expiry in (int(past.timestamp() * 1000), int(past.timestamp())):
            await store.ban(user_id, expiry)
            assert (await verifier.verify(token)).sub == user_id
        # (A numeric string would be no test: the date column's NUMERIC affinity stores it as
        # an integer.)
        for expiry in (int(future.timestamp() * 1000), "soon", "2026-13-01T00:00:00.000Z"):
            await store.ban(user_id, expiry)
            with pytest.raises(UserBanned):
                await verifier.verify(token)
        await store.ban(user_id, None, banned="yes")  # an unreadable flag fails closed
        with pytest.raises(UserBanned):
            await verifier.verify(token)


async def test_a_cached_session_is_let_in_once_the_ban_expires(
    store: Store, verifiers: list[SessionVerifier]
) -> None:
    """The session cache keeps the row, not the verdict: a ban that expires while the row is
    cached stops refusing at that moment, without a new lookup."""
    user_id = await store.add_user()
    token = await store.add_session(user_id)
    await store.ban(user_id, store.date(datetime.now(UTC) + timedelta(seconds=1)))
    verifier = await _open(store, verifiers, cache_ttl=60.0)
    with pytest.raises(UserBanned):
        await verifier.verify(token)
    await store.run(f"DELETE FROM {store.table('session')}", {})  # only the cache has it now
    await asyncio.sleep(1.1)
    assert (await verifier.verify(token)).sub == user_id


async def test_tables_without_the_plugin_columns(
    bare_store: Store, verifiers: list[SessionVerifier]
) -> None:
    """Better Auth without the plugins: the lookup reads only the columns that exist."""
    user_id = await bare_store.add_user()
    token = await bare_store.add_session(user_id)
    verifier = await _open(bare_store, verifiers)
    principal = await verifier.verify(token)
    assert (principal.sub, principal.roles) == (user_id, {"user"})
    assert (principal.organization_id, principal.impersonator) == (None, None)
    assert await verifier.database.diagnose() is None  # type: ignore[union-attr]


async def test_plugin_columns_can_be_turned_off(
    store: Store, verifiers: list[SessionVerifier]
) -> None:
    user_id = await store.add_user()
    token = await store.add_session(user_id, activeOrganizationId="org-1")
    await store.ban(user_id, None)
    tables = SessionTables(
        schema=store.schema,
        user_banned=None,
        user_ban_expires=None,
        session_active_organization_id=None,
        session_impersonated_by=None,
    )
    verifier = await _open(store, verifiers, tables=tables)
    principal = await verifier.verify(token)
    assert principal.organization_id is None


@pytest.mark.postgres
async def test_the_plugin_columns_keep_one_round_trip(verifiers: list[SessionVerifier]) -> None:
    proxy = PostgresProxy()
    port = await proxy.start()
    try:
        async for store in _postgres(True):
            user_id = await store.add_user()
            token = await store.add_session(user_id, activeOrganizationId="org-1")
            url = f"postgresql://postgres@127.0.0.1:{port}/test?ssl=disable"
            verifier = await _open(store, verifiers, database_url=url)
            for _ in range(2):  # the first lookup also prepares its statements
                assert (await verifier.verify(token)).organization_id == "org-1"
            proxy.take()
            assert (await verifier.verify(token)).organization_id == "org-1"
            assert proxy.take() == ["execute"]
            await verifier.aclose()
    finally:
        await proxy.close()


# --- remote mode: the get-session answer -----------------------------------------------------


def _answer(**user: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "session": {
            "id": "s1",
            "userId": "u1",
            "expiresAt": iso(now + timedelta(days=1)),
            "activeOrganizationId": "org-9",
            "impersonatedBy": "admin-1",
        },
        "user": {"id": "u1", "email": "r@example.com", "role": "user", **user},
    }


async def _remote(body: dict[str, Any]) -> tuple[SessionVerifier, str]:
    secret = new_secret()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/organization/get-active-member"):
            member = {"id": "m1", "userId": "u1", "organizationId": "org-9", "role": "admin"}
            return httpx.Response(200, json=member)
        return httpx.Response(200, json=body)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    config = SessionConfig(
        mode="remote", base_url="https://auth.example.com", secrets=((0, secret),)
    )
    return SessionVerifier(config, http_client=client), sign(new_token(), secret)


async def test_remote_maps_organization_and_impersonator() -> None:
    verifier, token = await _remote(_answer(banned=False, banExpires=None))
    principal = await verifier.verify(token)
    assert (principal.organization_id, principal.impersonator) == ("org-9", "admin-1")
    assert principal.organization_role == "admin"  # from get-active-member
    await verifier.aclose()


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        ({"banned": True, "banExpires": None}, True),
        ({"banned": True}, True),
        ({"banned": True, "banExpires": "2999-01-01T00:00:00.000Z"}, True),
        ({"banned": True, "banExpires": "not a date"}, True),
        ({"banned": True, "banExpires": "2020-01-01T00:00:00.000Z"}, False),
        ({"banned": False, "banExpires": None}, False),
        ({}, False),
    ],
)
async def test_remote_bans(fields: dict[str, Any], refused: bool) -> None:
    verifier, token = await _remote(_answer(**fields))
    if refused:
        with pytest.raises(UserBanned):
            await verifier.verify(token)
    else:
        assert (await verifier.verify(token)).sub == "u1"
    await verifier.aclose()


# --- the cookie cache: Better Auth's session_data cookie carries the user, ban included ------


@pytest.mark.parametrize("strategy", ["compact", "jwt"])
async def test_the_cookie_cache_shows_the_ban(
    tmp_path: Path, verifiers: list[SessionVerifier], strategy: str
) -> None:
    builders = {"compact": compact_cookie, "jwt": jwt_cookie}
    async for store in _sqlite(tmp_path, True):
        user_id = await store.add_user()
        signed = await store.add_session(user_id)
        token = signed.split(".")[0]
        verifier = await _open(store, verifiers, cookies_enabled=True, cookie_cache=strategy)
        for ban, refused in (
            ({"banned": True, "banExpires": None}, True),
            ({"banned": True, "banExpires": iso(datetime.now(UTC) + timedelta(hours=1))}, True),
            ({"banned": True, "banExpires": iso(datetime.now(UTC) - timedelta(hours=1))}, False),
            ({"banned": False, "banExpires": None}, False),
        ):
            data = session_data(token, user_id=user_id)
            data["user"].update(ban)
            data["session"]["activeOrganizationId"] = "org-c"
            cookies = {
                "better-auth.session_token": url_encode(signed),
                "better-auth.session_data": builders[strategy](data, store.secret),
            }
            if refused:
                with pytest.raises(UserBanned):
                    await verifier.verify_cookies(cookies, method="GET", headers={})
            else:
                principal = await verifier.verify_cookies(cookies, method="GET", headers={})
                assert principal is not None
                assert principal.organization_id == "org-c"  # from the cache, not the row
