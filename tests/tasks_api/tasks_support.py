"""Helpers for the Tasks API tests: callers with real FakeIssuer tokens, an app over ASGI."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import ASGIApp

from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer
from tasks_api.app import create_app
from tasks_api.settings import ServiceSettings

# `tasks-api serve` as users run it: the real entry point, in its own process group.
TASKS_API = str(Path(sys.executable).with_name("tasks-api"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AUTHBRIDGE_", "BETTER_"))}
    for name in (
        *("DATABASE_URL", "DATABASE_SCHEMA", "TASKS_CURSOR_SECRET", "CORS_ORIGINS"),
        *("HOST", "PORT", "WEB_CONCURRENCY", "LOG_LEVEL", "LOG_FORMAT", "PROXY_HEADERS"),
        *("FORWARDED_ALLOW_IPS", "GRACEFUL_SHUTDOWN_SECONDS"),
    ):
        keep.pop(name, None)
    return {**keep, **extra}


def serve_once(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``tasks-api serve ARGS`` expected to refuse to start: its exit code and output."""
    return subprocess.run(
        [TASKS_API, "serve", "--port", str(free_port()), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@contextmanager
def serving(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[str]:
    """``tasks-api serve ARGS`` until ``/readyz`` answers; its output goes to ``serve.log``."""
    port = free_port()
    log = (cwd / "serve.log").open("w")
    process = subprocess.Popen(
        [TASKS_API, "serve", "--port", str(port), *args],
        env=env,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (cwd / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (cwd / "serve.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # our own process group only
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Caller:
    """One user of the API and the headers that carry their real, signed token."""

    sub: str
    headers: Mapping[str, str]
    user: Mapping[str, Any] = field(default_factory=dict)

    def with_headers(self, **extra: str) -> dict[str, str]:
        return {**self.headers, **{k.replace("_", "-"): v for k, v in extra.items()}}


def make_caller(issuer: FakeIssuer, **claims: Any) -> Caller:
    user = issuer.make_user()
    token = issuer.token(user, **claims)
    return Caller(user["id"], {"Authorization": f"Bearer {token}"}, user)


async def postgres_execute(*statements: str) -> None:
    connection = await asyncpg.connect(POSTGRES_DSN)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def running_api(
    settings: ServiceSettings, issuer: FakeIssuer
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The real app (real AuthBridge verifying FakeIssuer tokens), lifespan included."""
    app = create_app(settings, bridge=AuthBridge(issuer.verifier()))
    # asgi-lifespan's default is 5 s; the start (migrations included) took longer than that once
    # in CI on a loaded 2-core machine. A start that hangs still fails, after a minute.
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tasks.test") as client:
            yield app, client


class ServerThread:
    """uvicorn serving an app on 127.0.0.1 in a background thread (a real socket)."""

    def __init__(self, app: ASGIApp) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
