"""PostgreSQL becoming unreachable mid-run: 503 ``database_unavailable`` (never 500), readiness
fails, and the API recovers by itself once the server is back.

The outage is simulated with a TCP proxy in front of the shared server, which the test can
cut (dropping every open connection and refusing new ones) and restore, so no other test
loses its database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from tasks_support import make_caller, running_api

from authbridge.testing import FakeIssuer
from tasks_api.settings import ServiceSettings

pytestmark = pytest.mark.postgres


class CuttableProxy:
    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.cut = False
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()
        self.writers.discard(sink)

    def sever(self) -> None:
        self.cut = True
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.sever()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_outage_is_503_and_recovery_is_automatic(postgres_schema: str) -> None:
    proxy = CuttableProxy()
    port = await proxy.start()
    settings = ServiceSettings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test",
        database_schema=postgres_schema,
        connect_timeout=2,
        pool_timeout=2,
    )
    issuer = FakeIssuer()
    caller = make_caller(issuer)
    try:
        async with running_api(settings, issuer) as (_, client):
            made = await client.post("/api/tasks", json={"title": "before"}, headers=caller.headers)
            assert made.status_code == 201

            proxy.sever()
            for method, body in [("GET", None), ("POST", {"title": "during"})]:
                answer = await client.request(
                    method, "/api/tasks", json=body, headers=caller.headers
                )
                assert answer.status_code == 503, answer.text
                assert answer.json()["code"] == "database_unavailable"
                assert int(answer.headers["retry-after"]) > 0
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] is False

            proxy.cut = False  # the server is back
            # Recovery needs no restart: within seconds every call succeeds again. A stale
            # pooled connection may still cost a 503 on the way, never a 500.
            deadline = time.monotonic() + 15
            while True:
                listed = await client.get("/api/tasks", headers=caller.headers)
                ready = await client.get("/readyz")
                assert listed.status_code in (200, 503), listed.text
                if listed.status_code == ready.status_code == 200:
                    break
                assert time.monotonic() < deadline, (listed.text, ready.text)
                await asyncio.sleep(0.2)
            assert [t["title"] for t in listed.json()["items"]] == ["before"]
            again = await client.post("/api/tasks", json={"title": "after"}, headers=caller.headers)
            assert again.status_code == 201, again.text
    finally:
        await proxy.close()
