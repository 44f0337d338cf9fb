"""store.py on SQLite: two workers (two stores on one file) racing conditional writes,
readers that cannot write, and reads that run on the event loop only within their budget."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, text
from tasks_support import make_caller, running_api

from authbridge.testing import FakeIssuer
from tasks_api.errors import DatabaseUnavailable
from tasks_api.models import tasks
from tasks_api.settings import ServiceSettings
from tasks_api.statements import Shape
from tasks_api.store import Connection, SqliteStore


def sqlite_settings(tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/data/tasks.db")


async def test_two_workers_racing_conditional_patches(tmp_path: Path) -> None:
    """Each app has its own writer thread; BEGIN IMMEDIATE makes the second process wait for
    the lock instead of failing its read-then-write: one 200, the rest 412, no 500."""
    issuer = FakeIssuer()
    settings = sqlite_settings(tmp_path)
    alice = make_caller(issuer)
    async with (
        running_api(settings, issuer) as (_, first),
        running_api(settings, issuer) as (
            _,
            second,
        ),
    ):
        created = await first.post("/api/tasks", json={"title": "race"}, headers=alice.headers)
        path, etag = created.headers["location"], created.headers["etag"]

        async def attempt(n: int) -> int:
            client = first if n % 2 else second
            headers = {**alice.headers, "If-Match": etag}
            response = await client.patch(path, json={"title": f"winner {n}"}, headers=headers)
            return response.status_code

        statuses = await asyncio.gather(*(attempt(n) for n in range(20)))
        assert sorted(statuses) == [200] + [412] * 19
        creates = await asyncio.gather(
            *(
                (first if n % 2 else second).post(
                    "/api/tasks", json={"title": f"t{n}"}, headers=alice.headers
                )
                for n in range(40)
            )
        )
        assert {response.status_code for response in creates} == {201}
        page = await second.get("/api/tasks?limit=100", headers=alice.headers)
        assert len(page.json()["items"]) == 41


async def test_readers_cannot_write(tmp_path: Path) -> None:
    issuer = FakeIssuer()
    settings = sqlite_settings(tmp_path)
    async with running_api(settings, issuer):  # migrated
        store = SqliteStore(settings.database_url)
        try:

            async def write(conn: Connection) -> int:
                return await conn.execute(Shape(delete(tasks)), {})

            with pytest.raises(DatabaseUnavailable) as refused:
                await store.read(write)
            assert "readonly" in str(refused.value.__cause__)
            assert await store.write(write) == 0  # the writer can
        finally:
            await store.close()


async def test_only_short_reads_run_on_the_loop(tmp_path: Path) -> None:
    """A read within ``LOOP_READ_STEPS`` runs on the loop's thread; a longer one is stopped
    there and run again, whole, on a reader thread, with the same answer; a read that fails
    for another reason fails as before."""
    issuer = FakeIssuer()
    settings = sqlite_settings(tmp_path)
    count_to = Shape(
        text(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < :last)"
            " SELECT count(*) FROM n"
        )
    )
    threads: list[str] = []

    async def count(conn: Connection, last: int) -> int:
        threads.append(threading.current_thread().name)
        ((counted,),) = await conn.fetch(count_to, {"last": last})
        return int(counted)

    async def broken(conn: Connection) -> object:
        return await conn.fetch(Shape(text("SELECT * FROM no_such_table")), {})

    async with running_api(settings, issuer):  # migrated
        store = SqliteStore(settings.database_url)
        try:
            here = threading.current_thread().name
            assert await store.read(count, 10) == 10
            assert threads == [here]
            assert await store.read(count, 100_000) == 100_000
            assert threads[1] == here  # stopped at the budget ...
            assert threads[2].startswith("tasks-sqlite-read")  # ... and run on a thread
            assert await store.read(count, 10) == 10  # the loop's connection is fine after
            assert threads[3] == here
            with pytest.raises(DatabaseUnavailable) as failed:
                await store.read(broken)
            assert "no such table" in str(failed.value.__cause__)
            assert len(threads) == 4
        finally:
            await store.close()
