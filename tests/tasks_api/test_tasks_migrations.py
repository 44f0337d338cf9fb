"""Alembic migrations: upgrade, downgrade, re-upgrade, concurrent upgrades, the CLI, and
that the migrated schema matches the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from tasks_support import POSTGRES_URL, make_caller, postgres_execute, running_api

from authbridge.errors import ConfigError
from authbridge.testing import FakeIssuer
from conftest import BACKENDS
from tasks_api.db import create_engine, ensure_sqlite_directory
from tasks_api.migrate import current_revision, migrate
from tasks_api.models import UTCDateTime, metadata
from tasks_api.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=BACKENDS)
async def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ServiceSettings]:
    """Settings for an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield ServiceSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/db/tasks.db")
        return
    schema = f"tasks_mig_{uuid.uuid4().hex[:12]}"
    try:
        yield ServiceSettings(database_url=POSTGRES_URL, database_schema=schema)
    finally:
        await postgres_execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_downgrade_upgrade(fresh: ServiceSettings) -> None:
    engine = create_engine(fresh)
    try:
        await migrate(engine, schema=fresh.database_schema)  # creates the schema if needed
        assert await current_revision(engine) == "0002"
        assert {"tasks", "tasks_alembic_version"} <= await table_names(engine)
        await migrate(engine, schema=fresh.database_schema)  # idempotent at head
        assert await current_revision(engine) == "0002"

        await migrate(engine, "downgrade", "base", schema=fresh.database_schema)
        assert await current_revision(engine) is None
        assert "tasks" not in await table_names(engine)

        await migrate(engine, "upgrade", "head", schema=fresh.database_schema)
        assert await current_revision(engine) == "0002"
        assert "tasks" in await table_names(engine)
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_the_models(fresh: ServiceSettings) -> None:
    engine = create_engine(fresh)
    try:
        await migrate(engine, schema=fresh.database_schema)

        def differences(conn: Connection) -> list[object]:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))

        async with engine.connect() as conn:
            diff = await conn.run_sync(differences)
        # Alembic's own table is not in the models; nothing else may differ.
        assert [d for d in diff if "tasks_alembic_version" not in repr(d)] == []
    finally:
        await engine.dispose()


async def test_concurrent_upgrades_are_serialised(fresh: ServiceSettings) -> None:
    engines = [create_engine(fresh) for _ in range(4)]
    try:
        await asyncio.gather(*(migrate(e, schema=fresh.database_schema) for e in engines))
        assert await current_revision(engines[0]) == "0002"
    finally:
        for engine in engines:
            await engine.dispose()


def run_cli(settings: ServiceSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url}
    env.pop("DATABASE_SCHEMA", None)
    if settings.database_schema:
        env["DATABASE_SCHEMA"] = settings.database_schema
    return subprocess.run(
        [sys.executable, "-m", "tasks_api", "migrate", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


async def test_migrate_command(fresh: ServiceSettings) -> None:
    upgraded = await asyncio.to_thread(run_cli, fresh)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == "database at revision: 0002"
    down = await asyncio.to_thread(run_cli, fresh, "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip() == "database at revision: base (empty)"
    current = await asyncio.to_thread(run_cli, fresh, "current")
    assert current.stdout.strip() == "database at revision: base (empty)"
    missing_revision = await asyncio.to_thread(run_cli, fresh, "downgrade")
    assert missing_revision.returncode == 2


def test_sqlite_directory_is_created(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "data" / "tasks.db"
    settings = ServiceSettings(database_url=f"sqlite+aiosqlite:///{target}")

    async def go() -> None:
        engine = create_engine(settings)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())
    assert target.exists()


def test_an_unusable_sqlite_directory_is_a_config_error_naming_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-root container user in a root-owned working directory cannot create ./data."""
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("")
    with pytest.raises(ConfigError) as blocked:
        ensure_sqlite_directory(f"sqlite+aiosqlite:///{in_the_way}/data/tasks.db")
    assert blocked.value.variable == "DATABASE_URL"
    assert "cannot be created" in blocked.value.problem
    monkeypatch.setattr("tasks_api.db.os.access", lambda path, mode: False)
    with pytest.raises(ConfigError, match="not writable by this user"):
        ensure_sqlite_directory(f"sqlite+aiosqlite:///{tmp_path}/data/tasks.db")


def test_migrate_and_serve_refuse_an_unusable_sqlite_directory(tmp_path: Path) -> None:
    """The real commands: one message naming DATABASE_URL and exit 2, not a traceback."""
    (tmp_path / "a-file").write_text("")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/a-file/data/tasks.db",
        "AUTHBRIDGE_JWKS": '{"keys": []}',
        "AUTHBRIDGE_ISSUER": "https://auth.example.com",
        "AUTHBRIDGE_AUDIENCE": "https://auth.example.com",
    }
    env.pop("DATABASE_SCHEMA", None)
    tasks_api = str(Path(sys.executable).with_name("tasks-api"))
    for command in (
        [sys.executable, "-m", "tasks_api", "migrate"],
        [tasks_api, "migrate"],
        [tasks_api, "serve", "--port", "1"],
    ):
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False
        )
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "configuration error: DATABASE_URL:" in done.stderr
        assert "Traceback" not in done.stderr


def test_default_database_is_a_sqlite_file_under_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here either
    settings = ServiceSettings()
    assert settings.database_url == "sqlite+aiosqlite:///./data/tasks.db"

    async def go() -> None:
        engine = create_engine(settings)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())
    assert (tmp_path / "data" / "tasks.db").is_file()


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u@db:5432/app", "postgresql+asyncpg://u@db:5432/app"),
        ("postgresql://u@db/app", "postgresql+asyncpg://u@db/app"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("postgresql+asyncpg://u@db/app", "postgresql+asyncpg://u@db/app"),
    ],
)
def test_plain_database_urls_get_the_async_driver(given: str, used: str) -> None:
    assert ServiceSettings(database_url=given).database_url == used


@pytest.mark.parametrize("url", ["mysql://u@db/app", "postgresql+psycopg2://u@db/app", "x"])
def test_unsupported_database_urls_are_config_errors(url: str) -> None:
    from authbridge.errors import ConfigError
    from tasks_api.settings import load_service_settings

    with pytest.raises(ConfigError) as caught:
        load_service_settings(database_url=url)
    assert caught.value.variable == "DATABASE_URL"


# The tasks table as revision 0001 made it: rows written by a service from before team tasks.
TASKS_0001 = sa.table(
    "tasks",
    sa.column("id", sa.Uuid(as_uuid=True)),
    sa.column("owner_id", sa.String()),
    sa.column("title", sa.String()),
    sa.column("description", sa.Text()),
    sa.column("completed", sa.Boolean()),
    sa.column("due_at", UTCDateTime()),
    sa.column("priority", sa.SmallInteger()),
    sa.column("version", sa.Integer()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


async def test_upgrade_from_0001_keeps_personal_tasks(fresh: ServiceSettings) -> None:
    """A database with personal tasks, upgraded by `tasks-api migrate`: every task stays its
    owner's (created by them), none is a team task, the constraints still hold; downgrading
    back keeps them and drops team tasks, which 0001 cannot store."""
    issuer = FakeIssuer()
    alice = make_caller(issuer)
    ada_org = make_caller(issuer, activeOrganizationId="acme", organizationRole="owner")
    engine = create_engine(fresh)
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    ids = [uuid.uuid4() for _ in range(3)]
    try:
        await migrate(engine, "upgrade", "0001", schema=fresh.database_schema)
        rows = [
            {
                "id": ident,
                "owner_id": alice.sub,
                "title": f"old {n}",
                "description": None,
                "completed": n == 0,
                "due_at": None,
                "priority": n,
                "version": 1,
                "created_at": moment,
                "updated_at": moment,
            }
            for n, ident in enumerate(ids)
        ]
        async with engine.begin() as conn:
            await conn.execute(sa.insert(TASKS_0001), rows)
    finally:
        await engine.dispose()

    upgraded = await asyncio.to_thread(run_cli, fresh)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == "database at revision: 0002"

    async with running_api(fresh.model_copy(update={"run_migrations": False}), issuer) as (
        _app,
        client,
    ):
        listed = await client.get("/api/tasks", params={"sort": "priority"}, headers=alice.headers)
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["items"]] == [str(i) for i in ids[::-1]]
        assert (await client.get("/api/org/tasks", headers=ada_org.headers)).json()["items"] == []
        patched = await client.patch(
            f"/api/tasks/{ids[0]}", json={"title": "still mine"}, headers=alice.headers
        )
        assert patched.status_code == 200, patched.text
        team = await client.post("/api/org/tasks", json={"title": "t"}, headers=ada_org.headers)
        assert team.status_code == 201, team.text
        engine = create_engine(fresh)  # the app's requests run on the bare driver
        async with engine.connect() as conn:
            stored = (await conn.execute(sa.text("SELECT owner_type, created_by FROM tasks"))).all()
            assert sorted(stored) == sorted(
                [("user", alice.sub)] * 3 + [("organization", ada_org.sub)]
            )
        # The CHECK constraints survived the upgrade (SQLite rebuilds the table).
        for column, value in (("priority", 7), ("owner_type", "team")):
            with pytest.raises(sa.exc.IntegrityError):
                async with engine.begin() as conn:
                    await conn.execute(
                        sa.text(f"UPDATE tasks SET {column} = :value"), {"value": value}
                    )
        await engine.dispose()

    down = await asyncio.to_thread(run_cli, fresh, "downgrade", "0001")
    assert down.returncode == 0, down.stderr
    engine = create_engine(fresh)
    try:
        async with engine.connect() as conn:
            remaining = (await conn.execute(sa.select(TASKS_0001.c.id, TASKS_0001.c.title))).all()
        expected = [(ids[0], "still mine"), (ids[1], "old 1"), (ids[2], "old 2")]
        assert sorted(remaining) == sorted(expected)
    finally:
        await engine.dispose()
