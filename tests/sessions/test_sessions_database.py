"""The database resolver on SQLite (temp file) and PostgreSQL (127.0.0.1:5432/test).

Tables are created with the exact DDL Better Auth's migrations produce for each
database, and rows are written the way Better Auth writes them (ISO-8601 text
and 0/1 in SQLite; timestamptz and boolean in PostgreSQL).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sessions_builders import iso, new_secret, new_token, sign
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from authbridge.errors import SessionInvalid, SessionStoreUnavailable
from authbridge.sessions.config import SessionConfig, SessionTables
from authbridge.sessions.database import DatabaseSessionStore
from authbridge.sessions.verifier import SessionVerifier
from harness.better_auth_tables import PG_DDL, ROLE_COLUMN, sqlite_ddl
from harness.postgres_proxy import PostgresProxy

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Store:
    """One Better Auth-shaped database and helpers that write rows like Better Auth."""

    kind: str
    url: str
    schema: str | None
    engine: AsyncEngine
    secret: str

    def config(self, **overrides: Any) -> SessionConfig:
        settings: dict[str, Any] = {
            "mode": "database",
            "database_url": self.url,
            "secrets": ((0, self.secret),),
            "tables": SessionTables(schema=self.schema),
            "base_url": "http://127.0.0.1:3005",
        }
        settings.update(overrides)
        return SessionConfig(**settings)

    def _date(self, moment: datetime) -> Any:
        return iso(moment) if self.kind == "sqlite" else moment

    def _table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"' if self.schema else f'"{name}"'

    async def add_user(self, *, role: str | None = "user", verified: bool = True) -> str:
        user_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        columns = '"id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt"'
        values = ":id, :name, :email, :verified, :image, :now, :now"
        params: dict[str, Any] = {
            "id": user_id,
            "name": "Alice",
            "email": f"{user_id}@example.com",
            "verified": (1 if verified else 0) if self.kind == "sqlite" else verified,
            "image": "https://img.example/a.png",
            "now": self._date(now),
        }
        if role is not None:
            columns += ', "role"'
            values += ", :role"
            params["role"] = role
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.text(f"INSERT INTO {self._table('user')} ({columns}) VALUES ({values})"),
                params,
            )
        return user_id

    async def add_session(
        self, user_id: str, *, expires_in: timedelta = timedelta(days=7), raw_expiry: Any = None
    ) -> tuple[str, str]:
        token, session_id = new_token(), uuid.uuid4().hex
        now = datetime.now(UTC)
        expires = raw_expiry if raw_expiry is not None else self._date(now + expires_in)
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    f"INSERT INTO {self._table('session')} "
                    '("id", "expiresAt", "token", "createdAt", "updatedAt", "userId") '
                    "VALUES (:id, :expires, :token, :now, :now, :user)"
                ),
                {
                    "id": session_id,
                    "expires": expires,
                    "token": token,
                    "now": self._date(now),
                    "user": user_id,
                },
            )
        return token, session_id

    async def delete_session(self, token: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.text(f'DELETE FROM {self._table("session")} WHERE "token" = :t'), {"t": token}
            )


async def _sqlite_store(tmp_path: Path, *, role: bool = True) -> AsyncIterator[Store]:
    path = tmp_path / "auth.db"
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        for ddl in sqlite_ddl(role=role):
            await conn.execute(sa.text(ddl))
    yield Store("sqlite", str(path), None, engine, new_secret())
    await engine.dispose()


async def _pg_store(*, role: bool = True) -> AsyncIterator[Store]:
    schema = f"ab_sess_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(PG_URL.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        for ddl in PG_DDL:
            await conn.execute(sa.text(ddl.format(schema=schema, role=ROLE_COLUMN if role else "")))
    try:
        yield Store("postgres", PG_URL, schema, engine, new_secret())
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    factory = _sqlite_store(tmp_path) if request.param == "sqlite" else _pg_store()
    async for value in factory:
        yield value


Use = Callable[[SessionConfig], Awaitable[SessionVerifier]]


@pytest.fixture
async def use() -> AsyncIterator[Use]:
    opened: list[SessionVerifier] = []

    async def open_verifier(config: SessionConfig) -> SessionVerifier:
        verifier = SessionVerifier(config)
        await verifier.start()
        opened.append(verifier)
        return verifier

    yield open_verifier
    for verifier in opened:
        await verifier.aclose()


async def test_live_session_resolves_to_principal(store: Store, use: Use) -> None:
    user_id = await store.add_user(role="admin,user")
    token, session_id = await store.add_session(user_id)
    verifier = await use(store.config())
    principal = await verifier.verify(sign(token, store.secret))
    assert principal.sub == user_id
    assert principal.session_id == session_id
    assert principal.credential == "session"
    assert principal.email == f"{user_id}@example.com"
    assert principal.name == "Alice"
    assert principal.image == "https://img.example/a.png"
    assert principal.email_verified is True
    assert principal.roles == {"admin", "user"}
    assert principal.issuer == "http://127.0.0.1:3005"
    assert principal.expires_at is not None
    remaining = principal.expires_at - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < remaining <= timedelta(days=7)


async def test_expired_session_is_rejected(store: Store, use: Use) -> None:
    user_id = await store.add_user()
    token, _ = await store.add_session(user_id, expires_in=timedelta(seconds=-1))
    verifier = await use(store.config())
    with pytest.raises(SessionInvalid):
        await verifier.verify(sign(token, store.secret))


async def test_signed_out_session_is_rejected_at_once(store: Store, use: Use) -> None:
    user_id = await store.add_user()
    token, session_id = await store.add_session(user_id)
    verifier = await use(store.config())
    assert (await verifier.verify(sign(token, store.secret))).sub == user_id
    assert await verifier.session_exists(session_id)
    await store.delete_session(token)
    with pytest.raises(SessionInvalid):
        await verifier.verify(sign(token, store.secret))
    assert not await verifier.session_exists(session_id)


async def test_unknown_token_and_bad_signature(store: Store, use: Use) -> None:
    user_id = await store.add_user()
    token, _ = await store.add_session(user_id)
    verifier = await use(store.config())
    with pytest.raises(SessionInvalid):
        await verifier.verify(sign(new_token(), store.secret))
    with pytest.raises(SessionInvalid) as unsigned:
        await verifier.verify(token)
    assert unsigned.value.code == "session_invalid"
    with pytest.raises(Exception) as forged:
        await verifier.verify(sign(token, new_secret()))
    assert getattr(forged.value, "code", None) == "invalid_signature"


async def test_raw_token_accepted_only_when_allowed(store: Store, use: Use) -> None:
    user_id = await store.add_user()
    token, _ = await store.add_session(user_id)
    verifier = await use(store.config(allow_unsigned=True))
    assert (await verifier.verify(token)).sub == user_id


async def test_cache_serves_within_ttl_then_forgets(store: Store, use: Use) -> None:
    user_id = await store.add_user()
    token, _ = await store.add_session(user_id)
    verifier = await use(store.config(cache_ttl=0.5))
    signed = sign(token, store.secret)
    assert (await verifier.verify(signed)).sub == user_id
    await store.delete_session(token)
    assert (await verifier.verify(signed)).sub == user_id  # cached
    await asyncio.sleep(0.6)
    with pytest.raises(SessionInvalid):
        await verifier.verify(signed)


async def test_session_exists_false_for_expired_or_odd_ids(store: Store, use: Use) -> None:
    user_id = await store.add_user()
    _, expired_id = await store.add_session(user_id, expires_in=timedelta(seconds=-1))
    verifier = await use(store.config())
    assert not await verifier.session_exists(expired_id)
    assert not await verifier.session_exists("")
    assert not await verifier.session_exists("x" * 1000)
    assert not await verifier.session_exists("'; DROP TABLE session; --")


async def test_unverified_email_and_missing_role(store: Store, use: Use) -> None:
    user_id = await store.add_user(role=None, verified=False)
    token, _ = await store.add_session(user_id)
    principal = await (await use(store.config())).verify(sign(token, store.secret))
    assert principal.email_verified is False
    assert principal.roles == frozenset()


@pytest.mark.parametrize(
    "raw_expiry",
    [
        "epoch_ms",
        "epoch_s",
        "sqlite_text",
        "iso_offset",
    ],
)
async def test_sqlite_date_formats(tmp_path: Path, use: Use, raw_expiry: str) -> None:
    async for store in _sqlite_store(tmp_path):
        future = datetime.now(UTC) + timedelta(hours=2)
        value = {
            "epoch_ms": int(future.timestamp() * 1000),
            "epoch_s": int(future.timestamp()),
            "sqlite_text": future.strftime("%Y-%m-%d %H:%M:%S"),
            "iso_offset": future.isoformat(),
        }[raw_expiry]
        user_id = await store.add_user()
        token, _ = await store.add_session(user_id, raw_expiry=value)
        principal = await (await use(store.config())).verify(sign(token, store.secret))
        assert principal.expires_at is not None
        assert abs((principal.expires_at - future).total_seconds()) < 1.5
        past = int((datetime.now(UTC) - timedelta(seconds=5)).timestamp() * 1000)
        old_token, _ = await store.add_session(user_id, raw_expiry=past)
        with pytest.raises(SessionInvalid):
            await (await use(store.config())).verify(sign(old_token, store.secret))


async def test_table_without_role_column(tmp_path: Path, use: Use) -> None:
    async for store in _sqlite_store(tmp_path, role=False):
        user_id = await store.add_user(role=None)
        token, _ = await store.add_session(user_id)
        principal = await (await use(store.config())).verify(sign(token, store.secret))
        assert principal.sub == user_id
        assert principal.roles == frozenset()


async def test_custom_table_and_column_names(tmp_path: Path, use: Use) -> None:
    path = tmp_path / "custom.db"
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    now = iso(datetime.now(UTC) + timedelta(days=1))
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "CREATE TABLE users (uid text primary key, mail text, full_name text, "
                "verified integer, avatar text, roles text)"
            )
        )
        await conn.execute(
            sa.text(
                "CREATE TABLE sessions (sid text primary key, tok text, user_id text, expires text)"
            )
        )
        await conn.execute(sa.text("INSERT INTO users VALUES ('u1','a@x.io','A',1,NULL,'ops')"))
        await conn.execute(
            sa.text("INSERT INTO sessions VALUES ('s1','tok123',  'u1', :e)"), {"e": now}
        )
    await engine.dispose()
    secret = new_secret()
    tables = SessionTables(
        session_table="sessions",
        user_table="users",
        session_id="sid",
        session_token="tok",
        session_user_id="user_id",
        session_expires_at="expires",
        user_id="uid",
        user_email="mail",
        user_name="full_name",
        user_email_verified="verified",
        user_image="avatar",
        user_role="roles",
    )
    config = SessionConfig(
        mode="database", database_url=str(path), secrets=((0, secret),), tables=tables
    )
    principal = await (await use(config)).verify(sign("tok123", secret))
    assert (principal.sub, principal.session_id, principal.roles) == ("u1", "s1", {"ops"})
    assert principal.issuer == "better-auth-session"


async def test_unreachable_database_is_503(use: Use) -> None:
    config = SessionConfig(
        mode="database",
        database_url="postgresql://postgres@127.0.0.1:1/test",
        secrets=((0, new_secret()),),
        timeout=2,
    )
    verifier = SessionVerifier(config)
    with pytest.raises(SessionStoreUnavailable) as caught:
        await verifier.verify(sign(new_token(), config.secrets[0][1]))
    assert caught.value.status == 503
    assert caught.value.code == "session_store_unavailable"
    with pytest.raises(SessionStoreUnavailable):
        await verifier.start()
    await verifier.aclose()


async def test_missing_tables_are_503_not_500(tmp_path: Path, use: Use) -> None:
    secret = new_secret()
    config = SessionConfig(
        mode="database", database_url=str(tmp_path / "empty.db"), secrets=((0, secret),)
    )
    verifier = SessionVerifier(config)
    with pytest.raises(SessionStoreUnavailable):
        await verifier.verify(sign(new_token(), secret))
    await verifier.aclose()


async def test_verify_never_blocks_the_event_loop(store: Store, use: Use) -> None:
    from blockbuster import blockbuster_ctx

    user_id = await store.add_user()
    token, session_id = await store.add_session(user_id)
    verifier = await use(store.config())
    with blockbuster_ctx():
        assert (await verifier.verify(sign(token, store.secret))).sub == user_id
        assert await verifier.session_exists(session_id)


@asynccontextmanager
async def _proxied_pg_store() -> AsyncIterator[tuple[Store, PostgresProxy, str]]:
    """A PostgreSQL store, a proxy that sees its wire, and the proxied database URL."""
    proxy = PostgresProxy()
    port = await proxy.start()
    try:
        async for store in _pg_store():
            yield store, proxy, f"postgresql://postgres@127.0.0.1:{port}/test?ssl=disable"
    finally:
        await proxy.close()


@pytest.mark.postgres
async def test_a_lookup_is_one_round_trip(use: Use) -> None:
    """Autocommit, and no ping for a connection used moments ago: just the SELECT."""
    async with _proxied_pg_store() as (store, proxy, url):
        user_id = await store.add_user()
        token, session_id = await store.add_session(user_id)
        verifier = await use(store.config(database_url=url))
        signed = sign(token, store.secret)
        for _ in range(2):  # the first lookup also prepares its statements
            assert (await verifier.verify(signed)).sub == user_id
        assert await verifier.session_exists(session_id)
        proxy.take()
        assert (await verifier.verify(signed)).sub == user_id
        assert await verifier.session_exists(session_id)
        assert proxy.take() == ["execute", "execute"]  # one lookup, one session check


@pytest.mark.postgres
async def test_an_idle_connection_is_pinged_before_use() -> None:
    async with _proxied_pg_store() as (store, proxy, url):
        user_id = await store.add_user()
        token, _ = await store.add_session(user_id)
        database = DatabaseSessionStore(url, store.config().tables, ping_after_idle=0.5)
        try:
            for _ in range(2):
                assert await database.find(token) is not None
            await asyncio.sleep(0.6)
            assert await database.find(token) is not None  # prepares the ping's statement
            proxy.take()
            await asyncio.sleep(0.6)
            record = await database.find(token)
            assert record is not None
            assert record.user_id == user_id
            assert proxy.take() == ["execute", "execute"]  # the ping, then the lookup
        finally:
            await database.aclose()


@pytest.mark.postgres
async def test_a_connection_that_died_is_replaced_unseen(use: Use) -> None:
    """PostgreSQL restarted between two lookups: the dead pooled connection fails the first
    try, and the lookup runs again on a new one instead of answering 503."""
    async with _proxied_pg_store() as (store, proxy, url):
        user_id = await store.add_user()
        token, session_id = await store.add_session(user_id)
        verifier = await use(store.config(database_url=url))
        signed = sign(token, store.secret)
        assert (await verifier.verify(signed)).sub == user_id
        opened = proxy.connections
        proxy.sever()  # the pooled connection dies...
        proxy.cut = False  # ...and the server takes new ones again
        assert (await verifier.verify(signed)).sub == user_id
        assert await verifier.session_exists(session_id)
        assert proxy.connections == opened + 1


@pytest.mark.postgres
async def test_a_database_that_stays_down_is_503(use: Use) -> None:
    async with _proxied_pg_store() as (store, proxy, url):
        user_id = await store.add_user()
        token, _ = await store.add_session(user_id)
        verifier = await use(store.config(database_url=url, timeout=2))
        signed = sign(token, store.secret)
        assert (await verifier.verify(signed)).sub == user_id
        proxy.sever()  # and it refuses new connections
        with pytest.raises(SessionStoreUnavailable) as caught:
            await verifier.verify(signed)
        assert caught.value.status == 503
        assert caught.value.code == "session_store_unavailable"
        proxy.cut = False
        assert (await verifier.verify(signed)).sub == user_id  # back without a restart
