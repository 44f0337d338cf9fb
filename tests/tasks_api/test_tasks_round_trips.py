"""What each request costs PostgreSQL, in round trips counted on the wire.

A read is one round trip: it runs in autocommit, so no ``BEGIN``/``ROLLBACK`` surrounds it,
and a pooled connection is pinged only after ``DATABASE_PING_AFTER_IDLE`` seconds unused. A
write keeps its transaction. A connection that died while idle in the pool is replaced
before use, so the caller never sees it.

The API reaches PostgreSQL through ``PostgresProxy``, which reads the protocol messages the
driver sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from tasks_support import Caller, make_caller, running_api

from authbridge.testing import FakeIssuer
from harness.postgres_proxy import PostgresProxy
from tasks_api.settings import ServiceSettings

pytestmark = pytest.mark.postgres


@asynccontextmanager
async def tasks_api(
    schema: str, *, ping_after_idle: float
) -> AsyncIterator[tuple[httpx.AsyncClient, PostgresProxy, Caller]]:
    proxy = PostgresProxy()
    port = await proxy.start()
    settings = ServiceSettings(
        database_url=proxy.url(port),
        database_schema=schema,
        ping_after_idle=ping_after_idle,
        pool_size=1,
        max_overflow=0,  # one connection, so "the pooled connection" is unambiguous
    )
    issuer = FakeIssuer()
    try:
        async with running_api(settings, issuer) as (_, client):
            yield client, proxy, make_caller(issuer)
    finally:
        await proxy.close()


async def _list(client: httpx.AsyncClient, caller: Caller) -> list[str]:
    answer = await client.get("/api/tasks", headers=caller.headers)
    assert answer.status_code == 200, answer.text
    return [item["title"] for item in answer.json()["items"]]


async def test_a_read_is_one_round_trip(postgres_schema: str) -> None:
    async with tasks_api(postgres_schema, ping_after_idle=60) as (client, wire, caller):
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
    async with tasks_api(postgres_schema, ping_after_idle=0.3) as (client, wire, caller):
        await _list(client, caller)
        await asyncio.sleep(0.4)
        await _list(client, caller)  # prepares the ping's statement
        wire.take()
        await _list(client, caller)
        assert wire.take() == ["execute"]  # used moments ago: no ping

        await asyncio.sleep(0.4)
        await _list(client, caller)
        assert wire.take() == ["BEGIN", "execute", "ROLLBACK", "execute"]  # ping, then the read


async def test_a_connection_that_died_idle_is_replaced_unseen(postgres_schema: str) -> None:
    async with tasks_api(postgres_schema, ping_after_idle=0.2) as (client, wire, caller):
        made = await client.post("/api/tasks", json={"title": "kept"}, headers=caller.headers)
        assert made.status_code == 201
        wire.sever()  # the pooled connection dies (as in a restart of PostgreSQL)...
        wire.cut = False  # ...and the server takes new ones again
        await asyncio.sleep(0.3)
        assert await _list(client, caller) == ["kept"]  # no 503: the ping caught it
