"""Look sessions up in the database Better Auth writes to (SQLAlchemy async).

``SELECT ... FROM session JOIN user ON user.id = session.userId WHERE session.token = :t``,
as Better Auth's ``findSession`` does. Revocation is row deletion, so a missing
row means signed out. Names come from :class:`SessionTables`; SQLAlchemy quotes
them (``"user"`` is reserved in PostgreSQL, ``"userId"`` is mixed case).

With the organization plugin the same query also ``LEFT JOIN``s ``member`` on the session's
active organization and user, so the caller's role is as fresh as the session row and a
removed member loses the organization on the next request, still in one round trip. Every
column of the user row is selected too (``additionalFields``, for typed users): the columns
are found once, at start.
"""

from __future__ import annotations

from authbridge.extras import require_extra

require_extra("authbridge.sessions.database", "sessions", sqlalchemy="SQLAlchemy")

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from authbridge.errors import ConfigError, SessionStoreUnavailable
from authbridge.sessions.config import SessionTables
from authbridge.sessions.pool_ping import ping_after_idle
from authbridge.sessions.records import (
    SessionRecord,
    parse_banned,
    parse_bool,
    parse_roles,
    parse_text,
    parse_timestamp,
    user_object,
)

__all__ = ["DatabaseSessionStore", "to_async_database_url"]

PING_AFTER_IDLE = 10.0  # seconds a pooled connection may sit unused before it is tested


def to_async_database_url(url: str) -> str:
    """Better Auth-style URLs to SQLAlchemy async ones.

    ``postgres://`` and ``postgresql://`` use asyncpg; ``sqlite:///path``, ``file:path``
    and a bare file path use aiosqlite. URLs that already name a driver pass through.
    """
    value = url.strip()
    for scheme in ("postgres://", "postgresql://"):
        if value.startswith(scheme):
            return "postgresql+asyncpg://" + value[len(scheme) :]
    if value.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + value[len("sqlite://") :]
    if value.startswith("file:"):
        value = value[len("file:") :]
    if "://" not in value:
        return f"sqlite+aiosqlite:///{Path(value).expanduser().resolve()}"
    return value


class DatabaseSessionStore:
    """Finds live sessions by token and checks session ids (for JWT ``sid`` revocation)."""

    def __init__(
        self,
        database_url: str,
        tables: SessionTables,
        *,
        timeout: float = 5.0,
        engine: AsyncEngine | None = None,
        ping_after_idle: float = PING_AFTER_IDLE,
    ) -> None:
        self._tables = tables
        self._timeout = timeout
        self._owns_engine = engine is None
        self._engine = engine or _create_engine(database_url, timeout, ping_after_idle)
        # Optional plugin columns found at start: the label each is selected as -> its name.
        self._user_extras: dict[str, str] = {}
        self._session_extras: dict[str, str] = {}
        # The user table's other columns (additionalFields...), selected as "u0", "u1"...
        self._user_rest: tuple[str, ...] = ()
        # Whether the member table is joined (organization plugin installed).
        self._join_member = False
        self._columns_checked = False
        self._columns_lock = asyncio.Lock()
        self._find_query: sa.Select[Any] | None = None
        self._session = sa.table(
            tables.session_table,
            sa.column(tables.session_id),
            sa.column(tables.session_token),
            sa.column(tables.session_user_id),
            sa.column(tables.session_expires_at),
            schema=tables.schema,
        )

    async def start(self) -> None:
        """Check the connection and which plugin columns (role, ban, organization,
        impersonation) the user and session tables have."""
        await self._detect_columns()

    async def aclose(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()

    async def diagnose(self) -> str | None:
        """Run the session lookup once, for a token no session has: ``None`` when the database
        answers and has the tables and columns it reads, else what failed (for ``authbridge
        check``). The answer names the error, never the SQL, its parameters or a password."""
        url = self._engine.url
        file = url.database if url.get_backend_name() == "sqlite" else None
        # Connecting would create an empty SQLite file.
        if file not in (None, "", ":memory:") and not await asyncio.to_thread(Path(file).exists):
            return f"the SQLite file {file} does not exist"
        query = self._build_find_query()  # plugin columns only if already detected
        try:
            async with asyncio.timeout(self._timeout):
                async with self._engine.connect() as connection:
                    await connection.execute(query, {"token": "authbridge-check-no-such-token"})
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except DBAPIError as error:  # its text would hold the SQL: name the driver's error
            return _safe_error(error.orig or error, url.password)
        except (SQLAlchemyError, OSError) as error:
            return _safe_error(error, url.password)
        return None

    async def find(self, token: str) -> SessionRecord | None:
        """The session with this token joined to its user, or None when there is no row."""
        await self._detect_columns()
        if self._find_query is None:
            self._find_query = self._build_find_query()
        row = await self._fetch_one(self._find_query, {"token": token})
        if row is None:
            return None
        return _record_from_row(row, self._user_row(row), member_joined=self._join_member)

    def _user_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """The user row under Better Auth's field names (the configured core and plugin
        column names mapped back), the other columns under their own names."""
        return user_object(row, self._user_extras, self._user_rest)

    def _build_find_query(self) -> sa.Select[Any]:
        t = self._tables
        core = self._core_user_columns()
        user_names = (*core, *self._user_extras.values(), *self._user_rest)
        user = sa.table(
            t.user_table, *(sa.column(name) for name in dict.fromkeys(user_names)), schema=t.schema
        )
        session = self._session
        if self._session_extras:
            names = (t.session_id, t.session_token, t.session_user_id, t.session_expires_at)
            session = sa.table(
                t.session_table,
                *(sa.column(name) for name in dict.fromkeys(names)),
                *(sa.column(name) for name in self._session_extras.values()),
                schema=t.schema,
            )
        selected = [
            session.c[t.session_id].label("session_id"),
            session.c[t.session_expires_at].label("expires_at"),
        ]
        selected.extend(user.c[name].label(label) for name, label in core.items())
        # One query still: the plugin columns ride on the same SELECT and JOIN.
        selected.extend(user.c[name].label(label) for label, name in self._user_extras.items())
        selected.extend(user.c[name].label(f"u{i}") for i, name in enumerate(self._user_rest))
        selected.extend(
            session.c[name].label(label) for label, name in self._session_extras.items()
        )
        joined = session.join(user, user.c[t.user_id] == session.c[t.session_user_id])
        if self._join_member and t.member_table and t.session_active_organization_id:
            member = sa.table(
                t.member_table,
                *(
                    sa.column(name)
                    for name in dict.fromkeys(
                        (t.member_organization_id, t.member_user_id, t.member_role)
                    )
                ),
                schema=t.schema,
            )
            # The member row of this user in the session's active organization, if any: no
            # row (removed, or never a member) leaves both columns NULL.
            joined = joined.outerjoin(
                member,
                sa.and_(
                    member.c[t.member_organization_id]
                    == session.c[t.session_active_organization_id],
                    member.c[t.member_user_id] == session.c[t.session_user_id],
                ),
            )
            selected.append(member.c[t.member_user_id].label("member_user_id"))
            selected.append(member.c[t.member_role].label("organization_role"))
        return (
            sa.select(*selected)
            .select_from(joined)
            .where(session.c[t.session_token] == sa.bindparam("token"))
            .limit(1)
        )

    def _core_user_columns(self) -> dict[str, str]:
        """The core user columns -> the label each is selected as."""
        t = self._tables
        return {
            t.user_id: "user_id",
            t.user_email: "email",
            t.user_name: "name",
            t.user_email_verified: "email_verified",
            t.user_image: "image",
        }

    async def exists(self, session_id: str) -> bool:
        """True when a session row with this id exists and has not expired."""
        t = self._tables
        session = self._session
        query = (
            sa.select(session.c[t.session_expires_at].label("expires_at"))
            .where(session.c[t.session_id] == sa.bindparam("sid"))
            .limit(1)
        )
        row = await self._fetch_one(query, {"sid": session_id})
        if row is None:
            return False
        expires_at = parse_timestamp(row["expires_at"])
        return expires_at is not None and expires_at > datetime.now(UTC)

    async def _fetch_one(
        self, query: sa.Select[Any], params: dict[str, str]
    ) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(self._timeout):
                try:
                    return await self._select_one(query, params)
                except DBAPIError as error:
                    # The connection died in the pool (PostgreSQL restarted, say): SQLAlchemy
                    # has dropped it and every older one, and one SELECT is safe to repeat.
                    if not error.connection_invalidated:
                        raise
                    return await self._select_one(query, params)
        except (SQLAlchemyError, OSError, TimeoutError):
            raise SessionStoreUnavailable(retry_after=5) from None

    async def _select_one(
        self, query: sa.Select[Any], params: dict[str, str]
    ) -> dict[str, Any] | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(query, params)
            row = result.mappings().first()
        return dict(row) if row is not None else None

    async def _detect_columns(self) -> None:
        """Find, once, the user table's columns and which optional plugin columns and tables
        exist: they exist only when the plugin is installed, and selecting a missing one would
        fail every lookup."""
        if self._columns_checked:
            return
        t = self._tables
        async with self._columns_lock:
            if self._columns_checked:
                return
            schema = t.schema

            def inspect(sync_connection: sa.Connection) -> tuple[list[str], set[str], set[str]]:
                inspector = sa.inspect(sync_connection)
                user = [col["name"] for col in inspector.get_columns(t.user_table, schema=schema)]
                session = {
                    col["name"] for col in inspector.get_columns(t.session_table, schema=schema)
                }
                member: set[str] = set()
                if t.member_table and inspector.has_table(t.member_table, schema=schema):
                    member = {
                        col["name"] for col in inspector.get_columns(t.member_table, schema=schema)
                    }
                return user, session, member

            try:
                async with asyncio.timeout(self._timeout):
                    async with self._engine.connect() as connection:
                        user_names, session_names, member_names = await connection.run_sync(inspect)
            except (SQLAlchemyError, OSError, TimeoutError):
                raise SessionStoreUnavailable(retry_after=5) from None
            self._apply_columns(user_names, session_names, member_names)
            self._find_query = None
            self._columns_checked = True

    def _apply_columns(
        self, user_names: list[str], session_names: set[str], member_names: set[str]
    ) -> None:
        t = self._tables
        wanted_user = {
            "role": t.user_role,
            "banned": t.user_banned,
            "ban_expires": t.user_ban_expires,
        }
        wanted_session = {
            "organization_id": t.session_active_organization_id,
            "impersonator": t.session_impersonated_by,
        }
        present = set(user_names)
        self._user_extras = {
            label: name for label, name in wanted_user.items() if name and name in present
        }
        self._session_extras = {
            label: name for label, name in wanted_session.items() if name and name in session_names
        }
        known = {*self._core_user_columns(), *self._user_extras.values()}
        self._user_rest = tuple(name for name in user_names if name not in known)
        member_columns = {t.member_organization_id, t.member_user_id, t.member_role}
        self._join_member = "organization_id" in self._session_extras and (
            member_columns <= member_names
        )


def _safe_error(error: BaseException, password: str | None) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if password:
        text = text.replace(password, "••••••")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _record_from_row(
    row: dict[str, Any], user: dict[str, Any], *, member_joined: bool
) -> SessionRecord | None:
    expires_at = parse_timestamp(row["expires_at"])
    session_id, user_id = row["session_id"], row["user_id"]
    if expires_at is None or session_id is None or user_id is None:
        return None
    organization_id = parse_text(row.get("organization_id"))
    organization_role = None
    if member_joined:
        # The member row decides: no row means the user is not (or no longer) a member, and a
        # session still naming that organization gives no access to it.
        if row.get("member_user_id") is None:
            organization_id = None
        else:
            organization_role = parse_text(row.get("organization_role"))
    return SessionRecord(
        session_id=str(session_id),
        user_id=str(user_id),
        expires_at=expires_at,
        email=row["email"] or None,
        name=row["name"] or None,
        email_verified=parse_bool(row["email_verified"]),
        image=row["image"] or None,
        roles=parse_roles(row.get("role")),
        organization_id=organization_id,
        organization_role=organization_role,
        impersonator=parse_text(row.get("impersonator")),
        banned=parse_banned(row.get("banned")),
        ban_expires=row.get("ban_expires"),
        user=MappingProxyType(user),
    )


def _create_engine(database_url: str, timeout: float, ping_after: float) -> AsyncEngine:
    url = to_async_database_url(database_url)
    try:
        driver = make_url(url).drivername
    except ArgumentError:
        raise ConfigError(
            "DATABASE_URL",
            "is not a database URL.",
            "Use postgres://user@host/db or a SQLite file path.",
        ) from None
    options: dict[str, Any] = {}
    if driver.startswith("postgresql+asyncpg"):
        options["connect_args"] = {"timeout": timeout, "command_timeout": timeout}
        # Every lookup is one SELECT: autocommit spares it a BEGIN and a ROLLBACK, so with
        # the idle-only ping a lookup is one round trip.
        options["isolation_level"] = "AUTOCOMMIT"
    elif driver.startswith("sqlite"):
        options["connect_args"] = {"timeout": timeout}
    try:
        engine = create_async_engine(url, **options)
    except (ArgumentError, ImportError):
        raise ConfigError(
            "DATABASE_URL",
            "names a database driver authbridge cannot use.",
            "Use PostgreSQL (asyncpg) or SQLite (aiosqlite).",
        ) from None
    ping_after_idle(engine, ping_after)
    return engine
