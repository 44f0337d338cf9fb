"""Helpers for the Tasks API tests: callers with real FakeIssuer tokens, an app over ASGI."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer
from tasks_api.app import create_app
from tasks_api.settings import ServiceSettings

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
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tasks.test") as client:
            yield app, client


class ServerThread:
    """uvicorn serving an app on 127.0.0.1 in a background thread (a real socket)."""

    def __init__(self, app: FastAPI) -> None:
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
