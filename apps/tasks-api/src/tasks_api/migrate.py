"""Run Alembic migrations programmatically, on the service's own async engine.

Several workers may start at once, so an upgrade holds a lock: a PostgreSQL advisory lock,
or for SQLite an exclusive file lock next to the database file.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import create_engine
from .models import VERSION_TABLE
from .settings import ServiceSettings

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "current_revision",
    "migrate",
    "upgrade_off_loop",
]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_ADVISORY_LOCK_KEY = 0x7A5C_0001  # any constant unique to this service


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _run(connection: Connection, direction: Literal["upgrade", "downgrade"], rev: str) -> None:
    config = alembic_config(connection)
    if direction == "upgrade":
        command.upgrade(config, rev)
    else:
        command.downgrade(config, rev)


def _lock_path(database: str) -> str:
    return str(Path(database).expanduser()) + ".migrate.lock"


@contextlib.asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        yield
        return
    lock_path = _lock_path(database)
    descriptor = await asyncio.to_thread(os.open, lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


async def migrate(
    engine: AsyncEngine,
    direction: Literal["upgrade", "downgrade"] = "upgrade",
    revision: str = "head",
    *,
    schema: str | None = None,
) -> None:
    """Upgrade (or downgrade) the database to ``revision``, once even with many workers."""
    if engine.dialect.name == "sqlite":
        async with _sqlite_file_lock(engine), engine.begin() as connection:
            await connection.run_sync(_run, direction, revision)
        return
    async with engine.begin() as connection:
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
        )
        if schema:  # validated as a plain identifier by the settings
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await connection.run_sync(_run, direction, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None before the first upgrade."""

    def read(connection: Connection) -> str | None:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def upgrade_off_loop(settings: ServiceSettings) -> None:
    """Upgrade to head from a worker thread, with its own event loop and engine.

    Alembic reads its scripts from disk (and SQLite may wait on the migration file lock);
    none of that may block the loop that serves requests.
    """

    async def upgrade() -> None:
        engine = create_engine(settings)
        try:
            await migrate(engine, schema=settings.database_schema)
        finally:
            await engine.dispose()

    await asyncio.to_thread(asyncio.run, upgrade())
