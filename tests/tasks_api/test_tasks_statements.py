"""statements.py against SQLAlchemy: the rows the bare drivers hand back are the values
SQLAlchemy's own engine reads from the same table, and what they write SQLAlchemy reads back
as written (UUIDs, aware UTC datetimes to the microsecond, booleans, priority ranks). Runs on
both backends (the ``settings`` fixture)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select

from tasks_api.db import create_engine
from tasks_api.migrate import upgrade_off_loop
from tasks_api.models import tasks
from tasks_api.repository import Owner, get_task, insert_task, list_tasks, update_task
from tasks_api.settings import ServiceSettings
from tasks_api.store import open_store


async def test_rows_are_the_values_sqlalchemy_reads(settings: ServiceSettings) -> None:
    await upgrade_off_loop(settings)
    owner = Owner.user(f"statements-{uuid.uuid4().hex}")
    # An instant with microseconds, given in another zone: stored and read back as UTC.
    due = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=-5)))
    store = await open_store(settings)
    engine = create_engine(settings)
    try:
        made = [
            await store.write(
                insert_task,
                owner,
                owner.id,
                {"title": f"t{n}", "completed": n == 1, "due_at": due if n else None},
            )
            for n in range(3)
        ]
        changed = await store.write(
            update_task, owner, made[2].id, {"priority": "high", "description": "d"}
        )
        assert changed is not None
        assert (changed.priority, changed.version, changed.description) == (2, 2, "d")
        page = await store.read(list_tasks, owner, sort="created", limit=10)
        one = await store.read(get_task, owner, made[1].id)
        async with engine.connect() as conn:
            query = select(tasks).where(tasks.c.owner_id == owner.id)
            expected = {row.id: tuple(row) for row in await conn.execute(query)}
        assert len(page.rows) == 3
        for row in [*page.rows, one]:
            assert row is not None
            assert tuple(row) == expected[row.id]
            assert isinstance(row.id, uuid.UUID)
            assert type(row.completed) is bool
            for instant in (row.created_at, row.updated_at, row.due_at):
                assert instant is None or instant.tzinfo is UTC
        assert one is not None
        assert one.completed is True
        assert one.due_at == due
        assert one.due_at.microsecond == 123456
    finally:
        await store.close()
        await engine.dispose()
