"""Where the task queries run: one call per request, whatever the backend.

The repository's functions are synchronous SQLAlchemy Core on a ``Connection``. A route hands
one of them (with its arguments bound) to ``Store.read`` or ``Store.write``, which runs it:

* SQLite: in a thread, on a plain ``sqlite3`` connection, in **one** hop off the event loop.
  Through aiosqlite, every DBAPI call (checkout, cursor, execute, fetch, close, rollback) was
  its own hop to the connection's thread and back, each a wake-up of both threads under the
  GIL: about two thirds of a list request's CPU (docs/tasks-api.md, "Profile"). Writes go to
  a single writer thread with one connection, so this process's writers queue in memory
  instead of polling SQLite's file lock (the old p99 of a second under 32 writers), and each
  write transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock before reading,
  so a read-then-write (a conditional PATCH) never fails to upgrade its lock when another
  process (a second worker) wrote in between. Readers use their own small pool of connections,
  read-only, which WAL lets run beside the writer.
* PostgreSQL: on the async engine's pool (asyncpg), the function run with ``run_sync``; reads
  in autocommit (no ``BEGIN``/``ROLLBACK`` round trips), writes in a transaction.

Errors are SQLAlchemy's either way, so ``errors.py`` answers a database outage 503 as before.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import reading
from .settings import ServiceSettings

__all__ = ["PostgresStore", "SqliteStore", "Store", "open_store"]

T = TypeVar("T")

# Reader threads (and connections) per process: SQLite releases the GIL while it steps, so two
# let one read wait on the disk while another encodes; more only add switching.
SQLITE_READERS = 2


class Store(Protocol):
    async def read(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(connection, *args, **kwargs)`` for a single-statement read."""
        ...

    async def write(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(connection, *args, **kwargs)`` in one transaction, committed if it returns."""
        ...

    async def close(self) -> None: ...


class PostgresStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = reading(engine)

    async def read(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        async with self._reader.connect() as conn:
            return await conn.run_sync(fn, *args, **kwargs)

    async def write(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        async with self._engine.begin() as conn:
            return await conn.run_sync(fn, *args, **kwargs)

    async def close(self) -> None:
        pass  # the engine belongs to the app, which disposes of it


class SqliteStore:
    def __init__(self, database_url: str) -> None:
        url = make_url(database_url).set(drivername="sqlite+pysqlite")
        # check_same_thread: a pooled connection may serve a different thread of the same
        # executor next time; each is used by one thread at a time.
        args = {"check_same_thread": False, "timeout": 30}
        self._reader = create_engine(
            url, connect_args=args, pool_size=SQLITE_READERS, max_overflow=0
        )
        self._writer = create_engine(url, connect_args=args, pool_size=1, max_overflow=0)
        event.listen(self._reader, "connect", _reader_pragmas)
        event.listen(self._writer, "connect", _writer_pragmas)
        event.listen(self._writer, "begin", _begin_immediate)
        self._reads = ThreadPoolExecutor(SQLITE_READERS, thread_name_prefix="tasks-sqlite-read")
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="tasks-sqlite-write")

    async def read(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        call = functools.partial(_in_connection, self._reader, fn, args, kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._reads, call)

    async def write(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        call = functools.partial(_in_transaction, self._writer, fn, args, kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._writes, call)

    async def close(self) -> None:
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._reads.shutdown(wait=True)
        self._writes.shutdown(wait=True)
        self._reader.dispose()
        self._writer.dispose()


def _in_connection(engine: Engine, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
    with engine.connect() as conn:
        return fn(conn, *args, **kwargs)


def _in_transaction(engine: Engine, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
    with engine.begin() as conn:
        return fn(conn, *args, **kwargs)


def _common_pragmas(dbapi_connection: Any) -> None:
    # WAL lets readers run while the writer writes; busy_timeout makes another process's
    # writer (a second worker) wait for the lock instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _reader_pragmas(dbapi_connection: Any, _record: Any) -> None:
    _common_pragmas(dbapi_connection)
    dbapi_connection.execute("PRAGMA query_only=ON")


def _writer_pragmas(dbapi_connection: Any, _record: Any) -> None:
    _common_pragmas(dbapi_connection)
    # In WAL mode, NORMAL syncs the log at checkpoints instead of at every commit: a commit
    # survives the process crashing, and only an operating-system crash or power loss can
    # undo the last commits before a checkpoint (the database stays consistent). With FULL,
    # each commit waited for an fsync, and 32 writers queued behind one another's.
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    # SQLAlchemy emits the BEGIN itself (_begin_immediate), not the sqlite3 module.
    dbapi_connection.isolation_level = None


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def open_store(settings: ServiceSettings, engine: AsyncEngine) -> Store:
    """The store for ``settings``' backend (SQLite beside ``engine``, or on its pool)."""
    if settings.is_sqlite:
        return SqliteStore(settings.database_url)
    return PostgresStore(engine)
