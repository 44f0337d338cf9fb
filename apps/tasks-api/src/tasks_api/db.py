"""SQLAlchemy engines for SQLite (aiosqlite) and PostgreSQL (asyncpg): for the migrations
(Alembic) and the ``tasks-api`` commands. The task routes do not use them: they run the same
statements on the bare drivers (store.py, statements.py).

A PostgreSQL connection uses ``DATABASE_SCHEMA`` as its search path and fails fast
(``DATABASE_CONNECT_TIMEOUT``) when the server is down; ``ping_after_idle`` (shared with
authbridge's session store) tests a pooled connection only when it sat idle for
``DATABASE_PING_AFTER_IDLE`` seconds, instead of on every checkout.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from authbridge.errors import ConfigError
from authbridge.sessions import ping_after_idle

from .settings import ServiceSettings

__all__ = ["create_engine", "ensure_sqlite_directory"]


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the directory of a SQLite file (``./data/`` by default), or raise ``ConfigError``.

    SQLite writes its journal next to the file, so the directory itself must be writable
    (a non-root container user in a root-owned working directory is the usual failure).
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    directory = Path(url.database).expanduser().parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = f"its directory {directory} cannot be created ({exc.strerror or exc})."
    else:
        if os.access(directory, os.W_OK | os.X_OK):
            return
        problem = f"its directory {directory} is not writable by this user (uid {os.getuid()})."
    raise ConfigError(
        "DATABASE_URL",
        problem,
        "point DATABASE_URL at a directory this user can write (in the Docker image, "
        "/app/data, owned by the image's user), or create the directory with that owner.",
    )


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    """An async engine; PostgreSQL connections use ``DATABASE_SCHEMA`` as their search path."""
    connect_args: dict[str, Any] = {}
    pool: dict[str, Any] = {}
    if settings.is_sqlite:
        ensure_sqlite_directory(settings.database_url)
        connect_args["timeout"] = 30  # seconds a writer waits for the file lock
    else:
        if settings.database_schema:
            connect_args["server_settings"] = {"search_path": settings.database_schema}
        # A server that is down or restarting must fail fast (answered 503), not hang.
        connect_args["timeout"] = settings.connect_timeout
        pool = {
            "pool_size": settings.pool_size,
            "max_overflow": settings.max_overflow,
            "pool_timeout": settings.pool_timeout,
            "pool_recycle": settings.pool_recycle,
        }
    engine = create_async_engine(settings.database_url, connect_args=connect_args, **pool)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        ping_after_idle(engine, settings.ping_after_idle)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while one writer writes; busy_timeout makes writers queue.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
