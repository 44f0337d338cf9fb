"""Fixtures: the Tasks API on SQLite *and* PostgreSQL, called with real signed tokens.

Every test using ``api`` runs twice (``[sqlite]`` and ``[postgres]``). PostgreSQL is the
local server (127.0.0.1:5432, database ``test``); this session gets its own schema, dropped
at the end. A PostgreSQL that is down makes those tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from tasks_support import POSTGRES_URL, Caller, make_caller, postgres_execute, running_api

from authbridge.testing import FakeIssuer
from tasks_api.dependencies import STORE_STATE
from tasks_api.models import tasks
from tasks_api.settings import ServiceSettings
from tasks_api.statements import Shape
from tasks_api.store import Connection, Store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    name = f"tasks_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(postgres_execute(f'CREATE SCHEMA "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(postgres_execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def settings_for(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, **extra: object
) -> ServiceSettings:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/data/tasks.db"
        return ServiceSettings(database_url=url, **extra)
    schema = request.getfixturevalue("postgres_schema")
    return ServiceSettings(database_url=POSTGRES_URL, database_schema=schema, **extra)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> ServiceSettings:
    return settings_for(backend, request, tmp_path)


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    issuer: FakeIssuer
    settings: ServiceSettings

    def caller(self, **claims: object) -> Caller:
        return make_caller(self.issuer, **claims)

    def member(
        self, organization: str, role: str = "member", *, of: Caller | None = None
    ) -> Caller:
        """A caller whose token names ``organization`` as active, with ``role`` in it (as the
        web app's and the interop server's definePayload add them); ``of`` keeps the user."""
        claims = {"activeOrganizationId": organization, "organizationRole": role}
        if of is None:
            return make_caller(self.issuer, **claims)
        token = self.issuer.token(of.user, **claims)
        return Caller(of.sub, {"Authorization": f"Bearer {token}"}, of.user)

    async def create(
        self, caller: Caller, *, path: str = "/api/tasks", **fields: object
    ) -> dict[str, object]:
        body = {"title": "a task", **fields}
        response = await self.client.post(path, json=body, headers=caller.headers)
        assert response.status_code == 201, response.text
        created: dict[str, object] = response.json()
        return created


@pytest.fixture
async def api(settings: ServiceSettings, issuer: FakeIssuer) -> AsyncIterator[Api]:
    async with running_api(settings, issuer) as (app, client):
        harness = Api(app, client, issuer, settings)
        if not settings.is_sqlite:  # the PostgreSQL schema is shared by the session
            # Through the app's store, as requests go: its pool then holds a connection
            # (opening one reads ~/.pgpass, which test_tasks_event_loop would catch).
            store: Store = getattr(app.state, STORE_STATE)
            await store.write(_delete_every_task)
        yield harness


async def _delete_every_task(conn: Connection) -> int:
    return await conn.execute(_DELETE_ALL, {})


_DELETE_ALL = Shape(delete(tasks))


def new_organization() -> str:
    """An organization id shaped like Better Auth's."""
    return uuid.uuid4().hex[:32]


@pytest.fixture
def alice(api: Api) -> Caller:
    return api.caller()


@pytest.fixture
def bob(api: Api) -> Caller:
    return api.caller()
