"""What each request costs PostgreSQL, in round trips counted on the wire.

A read is one round trip: it runs in autocommit, so no ``BEGIN``/``ROLLBACK`` surrounds it,
and a pooled connection is pinged only after ``DATABASE_PING_AFTER_IDLE`` seconds unused. A
write keeps its transaction. A connection that died while idle in the pool is replaced
before use, so the caller never sees it. Under steady load the pool keeps its connections
instead of closing and reopening them.

The API reaches PostgreSQL through ``PostgresProxy``, which reads the protocol messages the
driver sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from tasks_support import Caller, make_caller, running_api

from authbridge.testing import FakeIssuer
from harness.postgres_proxy import PostgresProxy
from tasks_api.settings import ServiceSettings

pytestmark = pytest.mark.postgres


@asynccontextmanager
async def tasks_api(
    schema: str, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, PostgresProxy, Caller]]:
    """The API on PostgreSQL through a proxy; one pooled connection unless told otherwise."""
    proxy = PostgresProxy()
    port = await proxy.start()
    options: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, **settings}
    service = ServiceSettings(database_url=proxy.url(port), database_schema=schema, **options)
    issuer = FakeIssuer()
    try:
        async with running_api(service, issuer) as (_, client):
            yield client, proxy, make_caller(issuer)
    finally:
        await proxy.close()


async def _list(client: httpx.AsyncClient, caller: Caller) -> list[str]:
    answer = await client.get("/api/tasks", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return [item["title"] for item in answer.json()["items"]]


async def test_a_read_is_one_round_trip(postgres_schema: str) -> None:
    async with tasks_api(postgres_schema, ping_after_idle=60.0) as (client, wire, caller):
        for _ in range(2):  # the first of each statement also prepares it
            made = await client.post("/api/tasks", json={"title": "t"}, headers=caller.headers)
            assert made.status_code == 201
            await _list(client, caller)
            one = await client.get(f"/api/tasks/{made.json()['id']}", headers=caller.headers)
            assert one.status_code == 200
        wire.take()

        made = await client.post("/api/tasks", json={"title": "t"}, headers=caller.headers)
        assert made.status_code == 201
        assert wire.take() == ["BEGIN", "execute", "COMMIT"]  # a write keeps its transaction

        assert await _list(client, caller) == ["t", "t", "t"]
        assert wire.take() == ["execute"]

        one = await client.get(f"/api/tasks/{made.json()['id']}", headers=caller.headers)
        assert one.status_code == 200
        assert wire.take() == ["execute"]


async def test_an_idle_connection_is_pinged_before_use(postgres_schema: str) -> None:
    async with tasks_api(postgres_schema, ping_after_idle=1.0) as (client, wire, caller):
        await _list(client, caller)
        await asyncio.sleep(1.1)
        await _list(client, caller)  # pinged
        wire.take()
        await _list(client, caller)
        assert wire.take() == ["execute"]  # used moments ago: no ping

        await asyncio.sleep(1.1)
        await _list(client, caller)
        assert wire.take() == ["SELECT", "execute"]  # the ping (one simple query), then the read


async def test_a_connection_that_died_idle_is_replaced_unseen(postgres_schema: str) -> None:
    async with tasks_api(postgres_schema, ping_after_idle=0.2) as (client, wire, caller):
        made = await client.post("/api/tasks", json={"title": "kept"}, headers=caller.headers)
        assert made.status_code == 201
        wire.sever()  # the pooled connection dies (as in a restart of PostgreSQL)...
        wire.cut = False  # ...and the server takes new ones again
        await asyncio.sleep(0.3)
        assert await _list(client, caller) == ["kept"]  # no 503: the ping caught it


async def test_steady_load_reuses_the_pools_connections(postgres_schema: str) -> None:
    """With the default pool, 24 requests at a time open at most ``DATABASE_POOL_SIZE``
    connections, once. (Overflow connections, closed as they come back, made the old
    defaults, 5 + 10, open a new PostgreSQL backend every few requests.)"""
    fields = ServiceSettings.model_fields
    pool = {name: fields[name].default for name in ("pool_size", "max_overflow")}
    async with tasks_api(postgres_schema, **pool) as (client, wire, caller):
        for number in range(20):
            made = await client.post(
                "/api/tasks", json={"title": f"t{number}"}, headers=caller.headers
            )
            assert made.status_code == 201
        opened_before = wire.connections  # the migration's and the seeding's

        async def lister() -> None:
            for _ in range(12):
                assert len(await _list(client, caller)) == 20

        await asyncio.gather(*(lister() for _ in range(24)))
        opened = wire.connections - opened_before
        assert 1 <= opened <= pool["pool_size"] + pool["max_overflow"], opened
