"""store.py on SQLite: two workers (two stores on one file) racing conditional writes, and
readers that cannot write."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import delete
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
