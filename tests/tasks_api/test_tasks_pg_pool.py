"""The Tasks API's PostgreSQL connection pool (``tasks_api/pg_pool.py``).

The pool's bookkeeping is checked with stand-in connections, where every interleaving can be
forced: a connection is never lost, never handed to two callers, and never more than
``max_size`` are open, whatever times out, is cancelled, dies or fails to open. Then the
store's use of it on the real server: a pool with no free connection in time is a 503, a
request cancelled mid-statement costs its connection (never the next caller's answer).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import asyncpg
import pytest
from tasks_support import POSTGRES_URL

from tasks_api.errors import DatabaseUnavailable
from tasks_api.pg_pool import ConnectionPool
from tasks_api.settings import ServiceSettings
from tasks_api.store import PostgresStore


class FakeConnection:
    """What the pool reads of an asyncpg connection."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.closed = False
        self.in_transaction = False
        self.terminated = False

    def is_closed(self) -> bool:
        return self.closed

    def is_in_transaction(self) -> bool:
        return self.in_transaction

    def terminate(self) -> None:
        self.closed = self.terminated = True

    async def close(self, timeout: float | None = None) -> None:
        self.closed = True


class Opener:
    """``connect`` for the pool: numbered stand-ins. The next ``failures`` opens fail, and
    each one after with ``rng`` at ``fail_rate``."""

    def __init__(
        self,
        rng: random.Random | None = None,
        fail_rate: float = 0.0,
        kind: type[FakeConnection] = FakeConnection,
    ) -> None:
        self.opened: list[FakeConnection] = []
        self.kind = kind
        self.failures = 0
        self.rng, self.fail_rate = rng, fail_rate
        self.delay = 0.0

    async def __call__(self) -> FakeConnection:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures or (self.rng is not None and self.rng.random() < self.fail_rate):
            self.failures = max(0, self.failures - 1)
            raise ConnectionRefusedError("refused")
        con = self.kind(len(self.opened))
        self.opened.append(con)
        return con

    def alive(self) -> list[FakeConnection]:
        return [con for con in self.opened if not con.closed]


async def _one_held_one_waiting() -> tuple[ConnectionPool, FakeConnection, asyncio.Task[Any]]:
    """A pool of one connection, held, and a caller waiting for it."""
    pool = ConnectionPool(Opener(), max_size=1)
    held = await pool.acquire(1)
    waiter = asyncio.create_task(pool.acquire(5))
    await asyncio.sleep(0)
    return pool, held, waiter


async def test_an_idle_connection_is_reused_without_opening_another() -> None:
    opener = Opener()
    pool = ConnectionPool(opener, max_size=3)
    first = await pool.acquire(1)
    pool.release(first)
    assert await pool.acquire(1) is first
    second = await pool.acquire(1)
    assert second is not first
    pool.release(first)
    pool.release(second)
    assert await pool.acquire(1) is second  # the most recently used first
    assert len(opener.opened) == 2
    assert pool.size == 2


async def test_a_full_pool_makes_callers_wait_in_turn_then_time_out() -> None:
    opener = Opener()
    pool = ConnectionPool(opener, max_size=1)
    held = await pool.acquire(1)
    waiting = [asyncio.create_task(pool.acquire(5)) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in waiting)
    pool.release(held)
    assert await waiting[0] is held  # first come, first served
    pool.release(held)
    assert await waiting[1] is held

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await pool.acquire(0.05)  # held by waiting[1]'s caller
    assert 0.04 <= time.monotonic() - started < 1
    pool.release(held)
    assert await pool.acquire(0.05) is held  # the timed-out waiter kept nothing
    assert len(opener.opened) == 1


async def test_a_connection_handed_to_a_waiter_that_is_cancelled_goes_on() -> None:
    opener = Opener()
    pool = ConnectionPool(opener, max_size=1)
    held = await pool.acquire(1)
    doomed = asyncio.create_task(pool.acquire(5))
    patient = asyncio.create_task(pool.acquire(5))
    await asyncio.sleep(0)
    pool.release(held)  # handed to ``doomed``, which is cancelled before it runs again
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert await patient is held
    assert pool.size == 1


async def test_a_connection_that_cannot_be_reused_gives_its_place_to_a_new_one() -> None:
    pool, held, waiter = await _one_held_one_waiting()
    held.in_transaction = True  # a rollback that failed
    pool.release(held)
    assert held.terminated
    replacement = await waiter
    assert replacement is not held
    assert not replacement.closed
    assert pool.size == 1

    replacement.closed = True  # the server closed it (a restart) while in use
    pool.release(replacement)
    assert pool.size == 0
    fresh = await pool.acquire(1)
    assert fresh.number == 2


async def test_an_idle_connection_that_died_is_skipped() -> None:
    opener = Opener()
    pool = ConnectionPool(opener, max_size=2)
    first, second = await pool.acquire(1), await pool.acquire(1)
    pool.release(first)
    pool.release(second)
    second.closed = True  # PostgreSQL restarted while both were idle
    assert await pool.acquire(1) is first
    assert pool.size == 1


async def test_a_failed_open_frees_its_place() -> None:
    opener = Opener()
    pool = ConnectionPool(opener, max_size=1)
    opener.failures = 1
    with pytest.raises(ConnectionRefusedError):
        await pool.acquire(1)
    assert pool.size == 0
    assert not (await pool.acquire(1)).closed


async def test_a_waiter_gets_the_place_of_a_connection_that_failed_to_open() -> None:
    opener = Opener()
    pool = ConnectionPool(opener, max_size=1)
    opener.failures, opener.delay = 1, 0.02
    opening = asyncio.create_task(pool.acquire(1))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(pool.acquire(1))  # opens its own once the first fails
    with pytest.raises(ConnectionRefusedError):
        await opening
    assert not (await waiter).closed
    assert pool.size == 1


async def test_close_closes_the_idle_fails_the_waiters_and_ends_the_rest() -> None:
    opener = Opener()
    pool = ConnectionPool(opener, max_size=2)
    idle, held = await pool.acquire(1), await pool.acquire(1)
    pool.release(idle)
    other = await pool.acquire(1)
    assert other is idle
    waiter = asyncio.create_task(pool.acquire(5))
    await asyncio.sleep(0)
    pool.release(other)  # to the waiter
    assert await waiter is other
    pool.release(other)
    blocked = asyncio.create_task(pool.acquire(5))
    pool.release(held)  # idle again: nothing waits yet
    await pool.close()
    assert idle.closed
    assert held.closed
    with pytest.raises(asyncpg.InterfaceError):
        await blocked  # asked after close began
    with pytest.raises(asyncpg.InterfaceError):
        await pool.acquire(1)
    assert pool.size == 0


async def test_close_terminates_a_connection_given_back_afterwards() -> None:
    pool, held, waiter = await _one_held_one_waiting()
    await pool.close()
    with pytest.raises(asyncpg.InterfaceError):
        await waiter
    pool.release(held)
    assert held.terminated
    assert pool.size == 0


@pytest.mark.parametrize("seed", range(8))
async def test_random_traffic_never_loses_or_shares_a_connection(seed: int) -> None:
    """Callers that hold connections for random times, time out, get cancelled, break their
    connection or meet failed opens: the pool stays within ``max_size``, no connection is
    held by two callers at once, and once all are done every place is an idle connection."""
    rng = random.Random(seed)
    opener = Opener(rng, fail_rate=0.3)
    opener.failures = 1  # at least one, whatever order the callers come in
    max_size = 3
    pool = ConnectionPool(opener, max_size=max_size)
    holders: dict[int, int] = {}
    outcomes: dict[str, int] = {"used": 0, "timed out": 0, "cancelled": 0, "refused": 0}

    async def caller(number: int) -> None:
        await asyncio.sleep(rng.random() * 0.02)
        try:
            con = await pool.acquire(rng.choice((0.001, 0.01, 1.0)))
        except TimeoutError:
            outcomes["timed out"] += 1
            return
        except ConnectionRefusedError:
            outcomes["refused"] += 1
            return
        assert id(con) not in holders, "one connection handed to two callers"
        assert not con.closed
        holders[id(con)] = number
        try:
            await asyncio.sleep(rng.random() * 0.005)
            if rng.random() < 0.1:
                con.closed = True  # died in use
            elif rng.random() < 0.05:
                con.in_transaction = True
        finally:
            del holders[id(con)]
            pool.release(con)
        outcomes["used"] += 1
        assert pool.size <= max_size

    tasks = [asyncio.create_task(caller(n)) for n in range(200)]
    for _ in range(20):
        await asyncio.sleep(rng.random() * 0.005)
        victim = rng.choice(tasks)
        if victim.cancel():
            outcomes["cancelled"] += 1
    await asyncio.gather(*tasks, return_exceptions=True)
    assert outcomes["used"] > 20, outcomes  # every path above was taken
    assert outcomes["timed out"] > 0, outcomes
    assert outcomes["refused"] > 0, outcomes
    assert not holders
    assert pool.size == len(pool._idle) <= max_size
    assert all(not con.closed for con in pool._idle)
    assert len(opener.alive()) == pool.size  # nothing open outside the pool


class IdleForLong(FakeConnection):
    """A connection unused for long enough to be pinged, whose ping never ends."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.opened_at = self.used_at = time.monotonic() - 100

    async def execute(self, query: str) -> str:
        await asyncio.sleep(30)
        return "SELECT 1"


async def _never_reached(con: Any) -> None:
    raise AssertionError("the read ran without its connection answering the ping")


async def test_a_request_cancelled_mid_ping_gives_its_place_back() -> None:
    opener = Opener(kind=IdleForLong)
    pool = ConnectionPool(opener, max_size=1)
    settings = ServiceSettings(
        database_url=POSTGRES_URL, pool_size=1, max_overflow=0, ping_after_idle=1
    )
    store = PostgresStore(pool, settings)
    reading = asyncio.create_task(store.read(_never_reached))
    await asyncio.sleep(0.05)  # now waiting for the ping
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert opener.opened[0].terminated  # its state unknown: not reused
    assert pool.size == 0


# --- the store on the real server ----------------------------------------------------------

pg = pytest.mark.postgres


async def _store(schema: str, **settings: Any) -> PostgresStore:
    options: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, **settings}
    return await PostgresStore.open(
        ServiceSettings(database_url=POSTGRES_URL, database_schema=schema, **options)
    )


async def _sleep_then(con: Any, seconds: float) -> int:
    return int(await con._con.fetchval("SELECT 1 FROM pg_sleep($1)", seconds))


@pg
async def test_no_free_connection_in_time_is_database_unavailable(postgres_schema: str) -> None:
    store = await _store(postgres_schema, pool_timeout=0.2)
    try:
        busy = asyncio.create_task(store.read(_sleep_then, 1.0))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            await store.read(_sleep_then, 0)
        assert 0.15 <= time.monotonic() - started < 0.9
        assert await busy == 1
        assert await store.read(_sleep_then, 0) == 1  # the pool is whole again
    finally:
        await store.close()


@pg
async def test_a_request_cancelled_mid_statement_costs_only_its_connection(
    postgres_schema: str,
) -> None:
    store = await _store(postgres_schema)
    try:
        slow = asyncio.create_task(store.read(_sleep_then, 5.0))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        started = time.monotonic()
        assert await store.read(_sleep_then, 0) == 1  # a new connection, at once
        assert time.monotonic() - started < 2
        assert store._pool.size == 1
    finally:
        await store.close()
