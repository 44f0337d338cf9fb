"""The PostgreSQL connections of one process: taken and given back without a wait when one
is free.

``asyncpg.Pool`` wraps every ``acquire`` in a timeout (an ``asyncio.timeout`` and a timer on
the loop, even when a connection sits idle), hands out a proxy object, and gives a connection
back through ``asyncio.shield`` on a task of its own, under a second timeout: about a tenth of
a list request's CPU (``docs/tasks-api.md``). Here an idle connection is taken at once, only a
wait for one (every connection busy) is timed, and giving one back runs no query and needs no
task: the store hands back a connection only once its statement and transaction are over.

A connection that comes back closed or inside a transaction (a rollback that failed) is
terminated instead, and its place goes to the next waiter, which opens a new one; so does a
connection found closed while idle (PostgreSQL restarted). Connections open when first
needed, so the API starts while the database is down, and at most ``max_size`` at a time.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]

__all__ = ["ConnectionPool"]

# What a waiter is handed: a connection, or ``None``, a place to open one in.
_Handed = Any


def _expire(waiter: asyncio.Future[_Handed]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no free database connection in time"))


class ConnectionPool:
    """At most ``max_size`` connections made by ``connect``; the most recently used first."""

    def __init__(self, connect: Callable[[], Awaitable[Any]], max_size: int) -> None:
        self._connect = connect
        self._max_size = max_size
        self._idle: list[Any] = []
        self._places = 0  # connections open or opening, idle or in use
        self._waiters: collections.deque[asyncio.Future[_Handed]] = collections.deque()
        self._closed = False

    @property
    def size(self) -> int:
        """Connections open or being opened."""
        return self._places

    async def acquire(self, timeout: float) -> Any:  # noqa: ASYNC109 - only a wait is timed
        """A connection; waits at most ``timeout`` seconds for one to be free (then
        ``TimeoutError``). Opening a new one is bounded by the connect timeout instead."""
        if self._closed:
            raise asyncpg.InterfaceError("the connection pool is closed")
        while self._idle:
            con = self._idle.pop()
            if not con.is_closed():
                return con
            self._give_place()  # died while idle: its place goes to a waiter or is freed
        if self._places < self._max_size:
            self._places += 1
            return await self._open_in_place()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[_Handed] = loop.create_future()
        self._waiters.append(waiter)
        # One timer on the waiter itself: ``asyncio.timeout`` would add a context object,
        # a reschedule and a task cancellation to every wait (under load, most requests
        # beyond the pool's size wait a moment).
        expiry = loop.call_later(timeout, _expire, waiter)
        try:
            handed = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed something just as this caller was cancelled: it goes to the next
                # waiter.
                self._pass_on(waiter.result())
            else:
                waiter.cancel()  # skipped by whoever hands out next
            raise
        finally:
            expiry.cancel()
        if handed is None:
            return await self._open_in_place()
        return handed

    def release(self, con: Any) -> None:
        """Give ``con`` back. Never waits: a connection that cannot be reused as it is
        (closed, or inside a transaction) is terminated and its place handed on."""
        if self._closed or con.is_closed() or con.is_in_transaction():
            if not con.is_closed():
                con.terminate()
            self._give_place()
            return
        self._pass_on(con)

    async def close(self) -> None:
        """Close the idle connections; any still in use is terminated when it comes back.
        Waiters get ``InterfaceError`` (an outage to the store: 503)."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the connection pool is closed"))
        idle, self._idle = self._idle, []
        self._places -= len(idle)
        for con in idle:
            try:
                await con.close(timeout=5)
            except Exception:  # noqa: BLE001 - going away either way
                con.terminate()

    async def _open_in_place(self) -> Any:
        """A new connection in a place already counted; the place is handed on if it fails."""
        try:
            return await self._connect()
        except BaseException:
            self._give_place()
            raise

    def _pass_on(self, handed: _Handed) -> None:
        """Hand a connection (or, for ``None``, a place) to the first live waiter, or keep it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return
        if handed is None:
            self._places -= 1
        elif self._closed:
            handed.terminate()
            self._places -= 1
        else:
            self._idle.append(handed)

    def _give_place(self) -> None:
        """A connection is gone: its place goes to a waiter, which opens a new one."""
        if self._closed:
            self._places -= 1
        else:
            self._pass_on(None)
