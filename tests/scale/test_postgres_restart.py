"""A restart of PostgreSQL under load: no committed task is lost, requests during the outage get
a clean 503, and the service (``tasks-api serve --workers 2``) recovers by itself.

PostgreSQL is stopped for a few seconds and started again; whatever happens, the test makes
sure it is running when it ends (other tests use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from scale_helpers import authbridge_serve, clean_env

from authbridge.testing import FakeIssuer

pytestmark = pytest.mark.postgres

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
OUTAGE_SECONDS = 3.0


def _cluster(action: str) -> subprocess.CompletedProcess[str]:
    versions = sorted(os.listdir("/etc/postgresql"))
    if not versions:
        raise RuntimeError("no PostgreSQL cluster under /etc/postgresql")
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", action]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _postgres_ready() -> bool:
    done = subprocess.run(
        ["pg_isready", "-h", "127.0.0.1", "-p", "5432"], capture_output=True, timeout=30
    )
    return done.returncode == 0


def ensure_postgres_running() -> None:
    """Start the cluster if it is down, and wait until it accepts connections."""
    deadline = time.monotonic() + 60
    while not _postgres_ready():
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not come back")
        _cluster("start")  # harmless if it is already starting or running
        time.sleep(0.5)


@contextlib.contextmanager
def postgres_outage_guard() -> Iterator[None]:
    try:
        yield
    finally:
        ensure_postgres_running()


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)  # titles answered 201
    statuses: dict[int, int] = field(default_factory=dict)
    unavailable_bodies: list[dict[str, object]] = field(default_factory=list)
    transport_errors: int = 0
    recovered_at: float | None = None

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"scale_{secrets.token_hex(4)}"
    yield name

    async def drop() -> None:
        connection = await asyncpg.connect(POSTGRES_DSN)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await connection.close()

    ensure_postgres_running()
    asyncio.run(drop())


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer("http://127.0.0.1:3000")


@pytest.fixture
def server(issuer: FakeIssuer, schema: str, tmp_path: Path) -> Iterator[str]:
    """``tasks-api serve --workers 2`` on PostgreSQL; yields its origin."""
    env = clean_env(
        AUTHBRIDGE_JWKS=json.dumps(issuer.jwks()),
        AUTHBRIDGE_ISSUER=issuer.issuer,
        AUTHBRIDGE_AUDIENCE=issuer.issuer,
        DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        DATABASE_SCHEMA=schema,
        DATABASE_POOL_SIZE="4",
        DATABASE_POOL_TIMEOUT="3",
        DATABASE_CONNECT_TIMEOUT="2",
    )
    with authbridge_serve(env, tmp_path, "--workers", "2", "--log-level", "warning") as served:
        try:
            yield served.origin
        finally:
            print(served.tail())  # shown by pytest if the test failed


async def _writer(
    client: httpx.AsyncClient, name: str, outcome: Outcome, stop: asyncio.Event
) -> None:
    number = 0
    while not stop.is_set():
        number += 1
        title = f"{name}-{number}"
        try:
            answer = await client.post("/api/tasks", json={"title": title})
        except httpx.HTTPError:
            outcome.transport_errors += 1
            await asyncio.sleep(0.05)
            continue
        outcome.count(answer.status_code)
        if answer.status_code == 201:
            outcome.created.append(title)
        elif answer.status_code == 503:
            outcome.unavailable_bodies.append({**answer.json(), **dict(answer.headers)})
            await asyncio.sleep(0.05)


async def _reader(client: httpx.AsyncClient, outcome: Outcome, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            answer = await client.get("/api/tasks", params={"limit": 5})
        except httpx.HTTPError:
            outcome.transport_errors += 1
            await asyncio.sleep(0.05)
            continue
        outcome.count(answer.status_code)
        if answer.status_code == 503:
            await asyncio.sleep(0.05)


async def _titles_in_database(schema: str) -> set[str]:
    connection = await asyncpg.connect(POSTGRES_DSN)
    try:
        rows = await connection.fetch(f'SELECT title FROM "{schema}".tasks')
    finally:
        await connection.close()
    return {row["title"] for row in rows}


async def test_a_postgres_restart_mid_load_loses_no_committed_task(
    server: str, issuer: FakeIssuer, schema: str
) -> None:
    outcome = Outcome()
    stop = asyncio.Event()
    headers = {"Authorization": f"Bearer {issuer.token()}"}
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(
        base_url=server, headers=headers, timeout=30, limits=limits
    ) as client:
        workers = [
            asyncio.create_task(_writer(client, f"w{n}", outcome, stop)) for n in range(6)
        ] + [asyncio.create_task(_reader(client, outcome, stop)) for _ in range(2)]
        try:
            await asyncio.sleep(2.0)  # load before the outage
            before_outage = len(outcome.created)
            with postgres_outage_guard():
                stopped = await asyncio.to_thread(_cluster, "stop")
                assert stopped.returncode == 0, stopped.stderr
                await asyncio.sleep(OUTAGE_SECONDS)
                ready_during_outage = (await client.get("/readyz")).status_code
                started = await asyncio.to_thread(_cluster, "start")
                assert started.returncode == 0, started.stderr
            restarted = time.monotonic()
            created_at_restart = len(outcome.created)
            deadline = restarted + 30
            while len(outcome.created) < created_at_restart + 20:  # recovered, no restart
                assert time.monotonic() < deadline, f"no recovery: {outcome.statuses}"
                await asyncio.sleep(0.1)
            outcome.recovered_at = time.monotonic() - restarted
        finally:
            stop.set()
            await asyncio.gather(*workers)
        ready_after = (await client.get("/readyz")).status_code

    assert before_outage > 0
    assert set(outcome.statuses) <= {200, 201, 503}, outcome.statuses  # never a 500
    assert outcome.transport_errors == 0
    assert outcome.statuses.get(503, 0) > 0, "the outage was not seen"
    for body in outcome.unavailable_bodies:
        assert body["code"] == "database_unavailable"
        assert int(str(body["retry-after"])) > 0
    assert ready_during_outage == 503
    assert ready_after == 200
    assert outcome.recovered_at is not None
    assert outcome.recovered_at < 30
    stored = await _titles_in_database(schema)
    lost = set(outcome.created) - stored
    assert not lost, f"{len(lost)} committed tasks are missing"
    assert len(outcome.created) == len(set(outcome.created))
