"""Database mode: ``validateApiKey`` against Better Auth's ``apikey`` table, writes included.

Every write is one guarded statement (``UPDATE ... WHERE <guard> RETURNING``), the plugin's
``incrementOne``: a decrement applies only while ``remaining > 0``, a rate-limit increment
only while ``requestCount < max`` inside the window, a refill only while ``lastRefillAt`` is
still the value read. So concurrent requests, in this process, in other instances or in
Better Auth itself, can never use a key more often than the plugin allows. The decisions are
``rules.py``'s; this module only reads rows and applies them.

Dates are written as Better Auth's adapter writes them: ``timestamptz`` on PostgreSQL, and on
SQLite the ISO-8601 text of JavaScript's ``toISOString()`` (millisecond precision, ``Z``), so
that the guards compare like with like.
"""

from __future__ import annotations

from authbridge.extras import require_extra

require_extra("authbridge.apikeys.database", "sessions", sqlalchemy="SQLAlchemy")

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from authbridge.apikeys.config import ApiKeyTables
from authbridge.apikeys.records import ApiKeyRecord
from authbridge.apikeys.rules import (
    KeyRow,
    rate_limit_decision,
    refill_due,
    refusal,
    scopes_from_permissions,
)
from authbridge.errors import (
    ApiKeyRateLimited,
    ApiKeyStoreUnavailable,
    ApiKeyUsageExceeded,
    InvalidApiKey,
)
from authbridge.sessions.config import SessionTables

# One engine machinery for both stores: URL forms, drivers, timeouts, the idle-connection ping.
from authbridge.sessions.database import PING_AFTER_IDLE, _create_engine
from authbridge.sessions.records import (
    parse_banned,
    parse_bool,
    parse_roles,
    parse_text,
    parse_timestamp,
    user_object,
)

__all__ = ["DatabaseApiKeyStore"]

T = TypeVar("T")

# A lost compare-and-swap re-reads the row and decides again, as the plugin does; a key under
# such contention that it loses this many times in a row is refused (as rate limited).
_MAX_ATTEMPTS: Final = 8
# (label, ApiKeyTables field) of every column read.
_COLUMNS: Final = (
    "id",
    "key",
    "reference_id",
    "config_id",
    "enabled",
    "expires_at",
    "remaining",
    "refill_amount",
    "refill_interval",
    "last_refill_at",
    "rate_limit_enabled",
    "rate_limit_time_window",
    "rate_limit_max",
    "request_count",
    "last_request",
    "created_at",
    "permissions",
)


class DatabaseApiKeyStore:
    """Validates keys in the ``apikey`` table exactly as the plugin's database storage does."""

    def __init__(
        self,
        database_url: str,
        tables: ApiKeyTables,
        user_tables: SessionTables,
        *,
        config_id: str = "default",
        rate_limit: bool = True,
        timeout: float = 5.0,
        engine: AsyncEngine | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._config_id = config_id
        self._rate_limit = rate_limit
        self._timeout = timeout
        self._clock = clock or _now
        self._owns_engine = engine is None
        self._engine = engine or _create_engine(database_url, timeout, PING_AFTER_IDLE)
        self._sqlite = self._engine.dialect.name == "sqlite"
        t = tables
        self._names = {label: getattr(t, label) for label in (*_COLUMNS, "updated_at")}
        self._table = sa.table(
            t.table,
            *(sa.column(name) for name in dict.fromkeys(self._names.values())),
            schema=t.schema if t.schema is not None else user_tables.schema,
        )
        self._user_tables = user_tables
        self._user_extras: dict[str, str] | None = None
        self._user_rest: tuple[str, ...] = ()  # the user's other columns (additionalFields)
        self._user_lock = asyncio.Lock()
        self._find_query = sa.select(*self._selected()).where(
            self._col("key") == sa.bindparam("hashed")
        )

    async def aclose(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()

    async def start(self) -> None:
        """Find which admin-plugin columns (role, ban) the user table has."""
        await self._run(self._detect_user_columns)

    # --- the one entry point -----------------------------------------------------------------

    async def validate(self, hashed: str) -> ApiKeyRecord:
        """The key with this hash, validated and its use counted; or the plugin's refusal."""

        async def run(connection: AsyncConnection) -> ApiKeyRecord:
            return await self._validate(connection, hashed)

        return await self._run(run)

    async def permissions(self, key_id: str) -> frozenset[str]:
        """The scopes of the key with this id, read only (remote mode: get-session has none)."""
        query = sa.select(self._col("permissions").label("permissions")).where(
            self._col("id") == sa.bindparam("id")
        )

        async def run(connection: AsyncConnection) -> frozenset[str]:
            row = (await connection.execute(query, {"id": key_id})).mappings().first()
            return scopes_from_permissions(row["permissions"]) if row is not None else frozenset()

        return await self._run(run)

    # --- validateApiKey ----------------------------------------------------------------------

    async def _validate(self, connection: AsyncConnection, hashed: str) -> ApiKeyRecord:
        found = (await connection.execute(self._find_query, {"hashed": hashed})).mappings().first()
        row = _row(found) if found is not None else None
        if row is None:
            raise InvalidApiKey()
        refused = refusal(row, self._clock(), self._config_id)
        if refused is not None:
            if refused.delete:
                await self._delete(connection, row.id)
            raise refused.error
        if row.remaining is not None:
            row = await self._consume_remaining(connection, row)
        row, limited = await self._consume_rate_limit(connection, row)
        final = await self._update(
            connection, row.id, [], {"updated_at": self._param(self._clock())}
        )
        if final is None:
            raise InvalidApiKey()  # deleted meanwhile
        user = await self._find_user(connection, final.reference_id)
        if user is None:
            raise InvalidApiKey()  # the plugin's INVALID_REFERENCE_ID_FROM_API_KEY
        return ApiKeyRecord(
            key_id=final.id,
            user_id=str(user["user_id"]),
            expires_at=final.expires_at,
            email=parse_text(user["email"]),
            name=parse_text(user["name"]),
            email_verified=parse_bool(user["email_verified"]),
            image=parse_text(user["image"]),
            roles=parse_roles(user.get("role")),
            scopes=scopes_from_permissions(final.permissions),
            banned=parse_banned(user.get("banned")),
            ban_expires=user.get("ban_expires"),
            cacheable=final.unlimited and not limited,
            # The whole user row, as the session database mode gives it: typed users.
            user=MappingProxyType(user_object(user, self._user_extras or {}, self._user_rest)),
        )

    async def _consume_remaining(self, connection: AsyncConnection, row: KeyRow) -> KeyRow:
        """``consumeRemaining``: the refill (compare-and-swap) when due, else a guarded
        decrement."""
        now = self._clock()
        if refill_due(row, now):
            assert row.refill_amount is not None
            observed = self._col("last_refill_at")
            guard = (
                observed.is_(None)
                if row.last_refill_at_raw is None
                else observed == self._raw_param(row.last_refill_at_raw)
            )
            refilled = await self._update(
                connection,
                row.id,
                [guard],
                {
                    "remaining": sa.literal(row.refill_amount - 1),
                    "last_refill_at": self._param(now),
                },
            )
            if refilled is not None:
                return refilled
        remaining = self._col("remaining")
        decremented = await self._update(
            connection, row.id, [remaining > 0], {"remaining": remaining - 1}
        )
        if decremented is None:
            raise ApiKeyUsageExceeded()
        return decremented

    async def _consume_rate_limit(
        self, connection: AsyncConnection, row: KeyRow
    ) -> tuple[KeyRow, bool]:
        """``consumeRateLimit``; also says whether a rate limit applies to the key."""
        last_request, count = self._col("last_request"), self._col("request_count")
        for _ in range(_MAX_ATTEMPTS):
            now = self._clock()
            decision = rate_limit_decision(row, now, enabled=self._rate_limit)
            if decision.kind == "skip":
                return row, False
            if decision.kind == "touch":
                touched = await self._update(
                    connection, row.id, [], {"last_request": self._param(now)}
                )
                return touched or row, False
            if decision.kind == "deny":
                raise ApiKeyRateLimited()
            if decision.kind == "increment":
                assert decision.window_start is not None
                guards = [
                    last_request > self._param(decision.window_start),
                    count < decision.max,
                ]
                values: dict[str, Any] = {
                    "request_count": count + 1,
                    "last_request": self._param(now),
                }
            else:  # start or reset: a new window, guarded on the window the row was in
                guards = [
                    last_request.is_(None)
                    if decision.kind == "start"
                    else last_request <= self._param(decision.window_start)
                ]
                values = {"request_count": sa.literal(1), "last_request": self._param(now)}
            updated = await self._update(connection, row.id, guards, values)
            if updated is not None:
                return updated, True
            found = await self._select_by_id(connection, row.id)
            if found is None:
                raise InvalidApiKey()
            row = found
        raise ApiKeyRateLimited()

    # --- statements ----------------------------------------------------------------------------

    def _col(self, label: str) -> sa.ColumnClause[Any]:
        column: sa.ColumnClause[Any] = self._table.c[self._names[label]]
        return column

    def _selected(self) -> list[sa.Label[Any]]:
        return [self._col(label).label(label) for label in _COLUMNS]

    def _param(self, moment: datetime | None) -> sa.BindParameter[Any]:
        """A date as the adapter stores it: ``toISOString()`` text on SQLite, else timestamptz."""
        assert moment is not None
        moment = moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)
        if self._sqlite:
            return sa.literal(moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment:%f}"[:3] + "Z")
        return sa.literal(moment, sa.DateTime(timezone=True))

    def _raw_param(self, value: Any) -> sa.BindParameter[Any]:
        if isinstance(value, datetime):
            return sa.literal(value, sa.DateTime(timezone=True))
        return sa.literal(value)

    async def _update(
        self,
        connection: AsyncConnection,
        key_id: str,
        guards: list[sa.ColumnElement[bool]],
        values: dict[str, Any],
    ) -> KeyRow | None:
        statement = (
            sa.update(self._table)
            .where(self._col("id") == sa.literal(key_id), *guards)
            .values({self._names[label]: value for label, value in values.items()})
            .returning(*self._selected())
        )
        result = (await connection.execute(statement)).mappings().first()
        await connection.commit()
        return _row(result) if result is not None else None

    async def _delete(self, connection: AsyncConnection, key_id: str) -> None:
        await connection.execute(
            sa.delete(self._table).where(self._col("id") == sa.literal(key_id))
        )
        await connection.commit()

    async def _select_by_id(self, connection: AsyncConnection, key_id: str) -> KeyRow | None:
        query = sa.select(*self._selected()).where(self._col("id") == sa.literal(key_id))
        found = (await connection.execute(query)).mappings().first()
        return _row(found) if found is not None else None

    async def _find_user(self, connection: AsyncConnection, user_id: str) -> dict[str, Any] | None:
        if self._user_extras is None:
            await self._detect_user_columns(connection)
        assert self._user_extras is not None
        t = self._user_tables
        names = [t.user_id, t.user_email, t.user_name, t.user_email_verified, t.user_image]
        names.extend(self._user_extras.values())
        names.extend(self._user_rest)
        user = sa.table(
            t.user_table, *(sa.column(n) for n in dict.fromkeys(names)), schema=t.schema
        )
        # The whole row in the one statement the bans and the email need anyway.
        selected = [
            user.c[t.user_id].label("user_id"),
            user.c[t.user_email].label("email"),
            user.c[t.user_name].label("name"),
            user.c[t.user_email_verified].label("email_verified"),
            user.c[t.user_image].label("image"),
            *(user.c[name].label(label) for label, name in self._user_extras.items()),
            *(user.c[name].label(f"u{i}") for i, name in enumerate(self._user_rest)),
        ]
        query = sa.select(*selected).where(user.c[t.user_id] == sa.literal(user_id)).limit(1)
        found = (await connection.execute(query)).mappings().first()
        return dict(found) if found is not None else None

    async def _detect_user_columns(self, connection: AsyncConnection) -> None:
        """Once: which of the admin plugin's user columns (role, ban) exist, and the others
        (``additionalFields``), read for typed users."""
        async with self._user_lock:
            if self._user_extras is not None:
                return
            t = self._user_tables
            wanted = {
                "role": t.user_role,
                "banned": t.user_banned,
                "ban_expires": t.user_ban_expires,
            }

            def column_names(sync_connection: sa.Connection) -> set[str]:
                inspector = sa.inspect(sync_connection)
                return {c["name"] for c in inspector.get_columns(t.user_table, schema=t.schema)}

            present = await connection.run_sync(column_names)
            extras = {label: name for label, name in wanted.items() if name and name in present}
            core = {t.user_id, t.user_email, t.user_name, t.user_email_verified, t.user_image}
            known = {*core, *extras.values()}
            self._user_rest = tuple(sorted(name for name in present if name not in known))
            self._user_extras = extras  # last: another task reads _user_rest once it is set

    async def _run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                async with self._engine.connect() as connection:
                    return await work(connection)
        except (SQLAlchemyError, OSError, TimeoutError):
            # Never the SQL or its parameters: they would hold the key's hash.
            raise ApiKeyStoreUnavailable(retry_after=5) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _int(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _row(found: Any) -> KeyRow:
    return KeyRow(
        id=str(found["id"]),
        reference_id=str(found["reference_id"]),
        config_id=parse_text(found["config_id"]),
        enabled=parse_bool(found["enabled"]),
        expires_at=parse_timestamp(found["expires_at"]),
        remaining=_int(found["remaining"]),
        refill_amount=_int(found["refill_amount"]),
        refill_interval=_int(found["refill_interval"]),
        last_refill_at=parse_timestamp(found["last_refill_at"]),
        last_refill_at_raw=found["last_refill_at"],
        created_at=parse_timestamp(found["created_at"]),
        rate_limit_enabled=parse_bool(found["rate_limit_enabled"]),
        rate_limit_time_window=_int(found["rate_limit_time_window"]),
        rate_limit_max=_int(found["rate_limit_max"]),
        request_count=_int(found["request_count"]) or 0,
        last_request=parse_timestamp(found["last_request"]),
        permissions=found["permissions"] if isinstance(found["permissions"], str) else None,
    )
