"""Where the task queries run: one call per request, on the bare driver.

A route hands ``Store.read`` or ``Store.write`` an async function of a ``Connection`` (with
its arguments bound); the function runs the repository's statements (``statements.Shape``:
SQLAlchemy statements compiled once per dialect) through ``fetch`` and ``execute``.

* SQLite: plain ``sqlite3``. The function's connection never suspends (sqlite3 blocks), so
  the whole coroutine runs to its end in one call (``_run_to_end``). A read runs first on the
  event loop's own read-only connection, under a budget of SQLite VM steps
  (``LOOP_READ_STEPS``, a progress handler): a page of tasks from an index takes a few hundred
  steps, tens of µs, less than a hop to a thread and back. A read that would run longer is
  interrupted at the budget, and one that meets a lock (``busy_timeout`` is 0 on this
  connection, so it never waits) too: either is run again, whole, on a reader thread. So the
  loop is never held for more than the budget's worth of steps (plus any disk read the page
  cache misses). Writes go to a single writer thread with one connection, so
  this process's writers queue in memory instead of polling SQLite's file lock, and each
  write transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock before reading,
  so a read-then-write (a conditional PATCH) never fails to upgrade its lock when another
  process (a second worker) wrote in between. Readers have their own connections, read-only,
  which WAL lets run beside the writer.
* PostgreSQL: asyncpg connections, used directly, from the process's own pool
  (``pg_pool.py``: an idle connection is taken and given back without a wait). asyncpg
  prepares each statement once per connection and caches it. Reads run without ``BEGIN``
  (a single ``SELECT`` sees one snapshot either way); writes run in one transaction. A
  connection idle for ``DATABASE_PING_AFTER_IDLE`` seconds is pinged before use, one older
  than ``DATABASE_POOL_RECYCLE`` is replaced, and one the server closed (a restart) or a
  cancelled request left mid-statement is dropped, and a new one opened in its place.

A failure to reach the database (refused, timed out, too many connections, a server shutting
down or restarting, a pool with no free connection in time) is raised as
``DatabaseUnavailable`` (answered 503 by errors.py); any other driver error as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Final, NamedTuple, Protocol, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from .db import ensure_sqlite_directory
from .errors import DatabaseUnavailable
from .pg_pool import ConnectionPool
from .settings import ServiceSettings
from .statements import POSTGRESQL, SQLITE, Shape, Task, task_from_sqlite

__all__ = ["Connection", "PostgresStore", "SqliteStore", "Store", "open_store"]

T = TypeVar("T")

# Reader threads (and connections) per process, for the reads that outgrow the loop's budget:
# SQLite releases the GIL while it steps, so two let one read wait on the disk while another
# encodes; more only add switching.
SQLITE_READERS = 2
# SQLite VM steps a read may take on the event loop before it is interrupted and run on a reader
# thread instead. A page of 20 tasks from an index takes about 370, a page of 100 about 1,700;
# a filter that skips most of an owner's rows (``completed``, ``q``) can take 100,000s. At a
# few hundred ns a step, the budget holds the loop for about a millisecond at most.
LOOP_READ_STEPS = 4_000


class Connection(Protocol):
    async def fetch(self, shape: Shape, params: Mapping[str, Any]) -> list[Any]:
        """The rows (``Task`` for a shape of task rows, else tuples)."""
        ...

    async def execute(self, shape: Shape, params: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        ...


Work = Callable[..., Coroutine[Any, Any, T]]


class Store(Protocol):
    async def read(self, fn: Work[T], /, *args: Any, **kwargs: Any) -> T:
        """``await fn(connection, *args, **kwargs)`` for a single-statement read."""
        ...

    async def write(self, fn: Work[T], /, *args: Any, **kwargs: Any) -> T:
        """``await fn(connection, *args, **kwargs)`` in one transaction, committed if it
        returns."""
        ...

    async def close(self) -> None: ...


# --- SQLite ------------------------------------------------------------------------------


class _SqliteConnection:
    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def fetch(self, shape: Shape, params: Mapping[str, Any]) -> list[Any]:
        compiled = shape.compiled(SQLITE)
        rows = self._db.execute(compiled.sql, compiled.arguments(params)).fetchall()
        if shape.tasks:
            return [task_from_sqlite(row) for row in rows]
        return rows

    async def execute(self, shape: Shape, params: Mapping[str, Any]) -> int:
        compiled = shape.compiled(SQLITE)
        return self._db.execute(compiled.sql, compiled.arguments(params)).rowcount


def _run_to_end(work: Awaitable[T]) -> T:
    """The result of a coroutine that never suspends (it awaits only sqlite3 calls, which
    block), without an event loop."""
    coroutine = work.__await__()
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("a SQLite store function awaited something that suspends")


_SQLITE_UNAVAILABLE: Final = (sqlite3.OperationalError, sqlite3.InterfaceError)
# What the loop's connection answers when a read outgrew its budget (the progress handler
# stopped it) or met a lock it would have had to wait for: run it again on a reader thread.
_NOT_ON_LOOP: Final = frozenset(
    {sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
)


# How often (in VM steps) SQLite calls the loop connection's progress handler. SQLite counts a
# cached statement's steps across its executions, so the handler counts the calls of one read
# itself (``_Budget``): a read is stopped between ``LOOP_READ_STEPS - _STEPS_PER_CHECK`` and
# ``LOOP_READ_STEPS`` steps, and a page of 20 costs the handler at most one call.
_STEPS_PER_CHECK: Final = 500


class _Budget:
    """The loop connection's progress handler: interrupts a read (a non-zero answer) once it
    has used ``LOOP_READ_STEPS``."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = 0

    def renew(self) -> None:
        self.left = LOOP_READ_STEPS // _STEPS_PER_CHECK

    def __call__(self) -> bool:
        self.left -= 1
        return self.left <= 0


class _Threads:
    """Threads that run calls handed over from the event loop, each answered on an asyncio
    future. ``run_in_executor`` chains a ``concurrent.futures.Future`` to an asyncio one, with
    locks and callbacks on both sides: about 9 µs of CPU per call with 32 requests waiting,
    against 2-3 µs here."""

    def __init__(self, count: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}_{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((call, future, loop))
        return await future

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, future, loop = job
            try:
                result = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                loop.call_soon_threadsafe(_fail, future, exc)
            else:
                loop.call_soon_threadsafe(_succeed, future, result)

    def close(self) -> None:
        """Stop after the calls already handed over."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():  # the request went away; the call's work is done anyway
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(exc)


class _LoopReader(NamedTuple):
    connection: _SqliteConnection
    budget: _Budget


class _NotForTheLoop(Exception):
    """The read outgrew the loop's budget, or met a lock: it is run on a reader thread."""


def _read_on_loop(reader: _LoopReader, fn: Work[T], args: Any, kwargs: Any) -> T:
    """``fn`` run to its end on the event loop's connection, within the budget."""
    reader.budget.renew()
    try:
        return _run_to_end(fn(reader.connection, *args, **kwargs))
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF in _NOT_ON_LOOP:  # the primary result code
            raise _NotForTheLoop from exc
        raise


class SqliteStore:
    def __init__(self, database_url: str) -> None:
        self._path = make_url(database_url).database or ":memory:"
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._reads = _Threads(SQLITE_READERS, "tasks-sqlite-read")
        self._writes = _Threads(1, "tasks-sqlite-write")

    async def read(self, fn: Work[T], /, *args: Any, **kwargs: Any) -> T:
        try:
            on_loop: _LoopReader | None = getattr(self._local, "loop_reader", None)
            if on_loop is None:
                on_loop = await self._loop_reader()
            with contextlib.suppress(_NotForTheLoop):
                return _read_on_loop(on_loop, fn, args, kwargs)
            call = functools.partial(self._read_here, fn, args, kwargs)
            return await self._reads.run(call)
        except _SQLITE_UNAVAILABLE as exc:
            raise DatabaseUnavailable from exc

    async def write(self, fn: Work[T], /, *args: Any, **kwargs: Any) -> T:
        call = functools.partial(self._write_here, fn, args, kwargs)
        try:
            return await self._writes.run(call)
        except _SQLITE_UNAVAILABLE as exc:
            raise DatabaseUnavailable from exc

    async def close(self) -> None:
        await asyncio.to_thread(self._shutdown)

    def _connection(self, *, writer: bool) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._open(writer=writer)
        return db

    async def _loop_reader(self) -> _LoopReader:
        """The event loop thread's read-only connection, opened on a reader thread (opening
        touches the file) and used on the loop from then on."""
        db = await self._reads.run(functools.partial(self._open, writer=False, on_loop=True))
        found: _LoopReader | None = getattr(self._local, "loop_reader", None)
        if found is not None:  # another request opened one while this one waited
            return found
        budget = _Budget()
        db.set_progress_handler(budget, _STEPS_PER_CHECK)
        reader = self._local.loop_reader = _LoopReader(_SqliteConnection(db), budget)
        return reader

    def _open(self, *, writer: bool, on_loop: bool = False) -> sqlite3.Connection:
        db = _open_sqlite(self._path, writer=writer, on_loop=on_loop)
        with self._lock:
            self._opened.append(db)
        return db

    def _read_here(self, fn: Work[T], args: Any, kwargs: Any) -> T:
        db = self._connection(writer=False)
        return _run_to_end(fn(_SqliteConnection(db), *args, **kwargs))

    def _write_here(self, fn: Work[T], args: Any, kwargs: Any) -> T:
        db = self._connection(writer=True)
        db.execute("BEGIN IMMEDIATE")
        try:
            result = _run_to_end(fn(_SqliteConnection(db), *args, **kwargs))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return result

    def _shutdown(self) -> None:
        self._reads.close()
        self._writes.close()
        with self._lock:
            for db in self._opened:
                db.close()
            self._opened.clear()


def _open_sqlite(path: str, *, writer: bool, on_loop: bool = False) -> sqlite3.Connection:
    # isolation_level=None: the module starts no transaction of its own; the writer says
    # BEGIN IMMEDIATE itself. check_same_thread=False so that close() may run elsewhere, and
    # the loop's connection is opened on a reader thread: each connection is then used by
    # one thread only.
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    # WAL lets readers run while the writer writes; busy_timeout makes another process's
    # writer (a second worker) wait for the lock instead of failing. The loop's connection
    # never waits: it is answered SQLITE_BUSY at once, and the read moves to a thread.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=0" if on_loop else "PRAGMA busy_timeout=30000")
    db.execute("PRAGMA foreign_keys=ON")
    if writer:
        # In WAL mode, NORMAL syncs the log at checkpoints instead of at every commit: a
        # commit survives the process crashing, and only an operating-system crash or power
        # loss can undo the last commits before a checkpoint (the database stays consistent).
        # With FULL, each commit waited for an fsync, and 32 writers queued behind it.
        db.execute("PRAGMA synchronous=NORMAL")
    else:
        db.execute("PRAGMA query_only=ON")
    return db


# --- PostgreSQL --------------------------------------------------------------------------


class _PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """asyncpg's connection, plus when it opened and when it was last used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened_at = self.used_at = time.monotonic()

    def mark_used(self) -> None:
        self.used_at = time.monotonic()


class _PostgresConnection:
    __slots__ = ("_con",)

    def __init__(self, con: Any) -> None:
        self._con = con

    async def fetch(self, shape: Shape, params: Mapping[str, Any]) -> list[Any]:
        compiled = shape.compiled(POSTGRESQL)
        records = await self._con.fetch(compiled.sql, *compiled.arguments(params))
        if shape.tasks:
            make = Task._make
            return [make(record) for record in records]
        return [tuple(record) for record in records]

    async def execute(self, shape: Shape, params: Mapping[str, Any]) -> int:
        compiled = shape.compiled(POSTGRESQL)
        status: str = await self._con.execute(compiled.sql, *compiled.arguments(params))
        return int(status.rpartition(" ")[2] or 0)  # "DELETE 1"


# SQLSTATE classes and codes that mean "the server cannot serve right now", not a bad query:
# 08 connection exception, 53 insufficient resources (53300: too many connections), 57P01-03
# (shutting down, crashed, starting up: a restart).
_OUTAGE_CLASSES: Final = ("08", "53")
_OUTAGE_STATES: Final = frozenset({"57P01", "57P02", "57P03"})
# No server answer at all: refused or reset (OSError), connect or pool timeout (TimeoutError,
# an OSError), a connection asyncpg found closed (InterfaceError), or one a restart left in a
# state asyncpg cannot go on from (InternalClientError: "another operation is in progress").
_UNREACHABLE: Final = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
)


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, _UNREACHABLE):
        return True
    state = getattr(exc, "sqlstate", None)
    return (
        isinstance(exc, asyncpg.PostgresError)
        and isinstance(state, str)
        and (state.startswith(_OUTAGE_CLASSES) or state in _OUTAGE_STATES)
    )


# A read runs without BEGIN (a single SELECT sees one snapshot either way).
_NO_TRANSACTION: Final = contextlib.nullcontext()


class PostgresStore:
    def __init__(self, pool: ConnectionPool, settings: ServiceSettings) -> None:
        self._pool = pool
        self._acquire_timeout = settings.pool_timeout
        self._ping_after = settings.ping_after_idle
        self._recycle_after = settings.pool_recycle

    @classmethod
    async def open(cls, settings: ServiceSettings) -> PostgresStore:
        """A pool that opens connections when first needed (so the API starts while the
        database is down), with the connect arguments SQLAlchemy's asyncpg dialect uses."""
        url = make_url(settings.database_url)
        _, connect = POSTGRESQL.create_connect_args(url)
        for adapter_only in ("prepared_statement_cache_size", "prepared_statement_name_func"):
            connect.pop(adapter_only, None)
        if settings.database_schema:
            connect["server_settings"] = {"search_path": settings.database_schema}
        # Recycling is by age and an idle connection is pinged, both in _checkout; nothing
        # resets a connection given back (the API changes no session state: the search path
        # is a connection setting).
        opener = functools.partial(
            asyncpg.connect,
            connection_class=_PooledConnection,
            timeout=settings.connect_timeout,  # a server that is down fails fast
            **connect,
        )
        return cls(ConnectionPool(opener, settings.pool_size + settings.max_overflow), settings)

    async def read(self, fn: Work[T], /, *args: Any, **kwargs: Any) -> T:
        return await self._run(fn, args, kwargs, transaction=False)

    async def write(self, fn: Work[T], /, *args: Any, **kwargs: Any) -> T:
        return await self._run(fn, args, kwargs, transaction=True)

    async def _run(self, fn: Work[T], args: Any, kwargs: Any, *, transaction: bool) -> T:
        """``fn`` on a pooled connection (in one transaction if ``transaction``), released
        after; an outage closes the connection and is raised as ``DatabaseUnavailable``."""
        con = await self._connection()
        try:
            async with con.transaction() if transaction else _NO_TRANSACTION:
                result = await fn(_PostgresConnection(con), *args, **kwargs)
            con.mark_used()
            return result
        except Exception as exc:
            if is_outage(exc):
                # The connection's state is unknown (a restart can leave it open but
                # mid-operation): closed, so the pool opens a new one for the next request.
                con.terminate()
                raise DatabaseUnavailable from exc
            raise
        except BaseException:
            # Cancelled mid-statement: asyncpg is still cancelling it on the connection.
            con.terminate()
            raise
        finally:
            self._pool.release(con)

    async def _connection(self) -> Any:
        try:
            return await self._checkout()
        except Exception as exc:
            if is_outage(exc):
                raise DatabaseUnavailable from exc
            raise

    async def _checkout(self) -> Any:
        """A pooled connection fit for use: one idle too long answers a ping first, and one
        that fails it, or is older than the recycle age, is replaced by a new one."""
        con = await self._pool.acquire(timeout=self._acquire_timeout)
        now = time.monotonic()
        if now - con.used_at < self._ping_after and now - con.opened_at < self._recycle_after:
            return con
        if now - con.opened_at < self._recycle_after:
            try:
                await con.execute("SELECT 1")
                return con
            except Exception as exc:
                if not is_outage(exc):
                    self._pool.release(con)
                    raise
            except BaseException:  # cancelled mid-ping: its place must not be lost
                con.terminate()
                self._pool.release(con)
                raise
        con.terminate()
        self._pool.release(con)  # closed: its place opens a new connection
        return await self._pool.acquire(timeout=self._acquire_timeout)

    async def close(self) -> None:
        await self._pool.close()


async def open_store(settings: ServiceSettings) -> Store:
    """The store for ``settings``' backend."""
    if settings.is_sqlite:
        # Off the loop: it may create the SQLite file's directory.
        await asyncio.to_thread(ensure_sqlite_directory, settings.database_url)
        return SqliteStore(settings.database_url)
    return await PostgresStore.open(settings)
