"""Shared pieces of the API-key tests: verifiers pointed at a real Better Auth server, and one
outcome vocabulary for Better Auth's answers and authbridge's, so sequences compare directly."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from authbridge.apikeys.config import ApiKeyConfig
from authbridge.apikeys.rules import hash_key
from authbridge.apikeys.verifier import ApiKeyVerifier
from authbridge.errors import AuthError
from authbridge.fastapi import AuthBridge, CurrentUser, require_scopes
from authbridge.principal import Principal
from authbridge.sessions.config import SessionTables
from harness.better_auth import BetterAuthServer
from harness.better_auth_tables import sqlite_ddl

ReadUser = Annotated[Principal, Depends(require_scopes("tasks:read"))]
ReadWriteUser = Annotated[Principal, Depends(require_scopes("tasks:read", "tasks:write"))]
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

# authbridge's precise codes, in the plugin's error-code names.
BA_CODE = {
    "invalid_api_key": "INVALID_API_KEY",
    "api_key_disabled": "KEY_DISABLED",
    "api_key_expired": "KEY_EXPIRED",
    "api_key_usage_exceeded": "USAGE_EXCEEDED",
    "api_key_rate_limited": "RATE_LIMITED",
}


def database_url(server: BetterAuthServer) -> str:
    return server.env.get("DATABASE_URL") or server.env["DB_PATH"]


def config_for(server: BetterAuthServer, mode: str = "database", **overrides: Any) -> ApiKeyConfig:
    settings: dict[str, Any] = {
        "mode": mode,
        "base_url": server.url,
        "database_url": database_url(server) if mode == "database" else None,
        "user_tables": SessionTables(schema=server.env.get("DB_SCHEMA")),
        "issuer": server.origin,
        "cache_ttl": 0.0,
    }
    settings.update(overrides)
    return ApiKeyConfig(**settings)


async def open_verifier(
    server: BetterAuthServer, mode: str = "database", **overrides: Any
) -> ApiKeyVerifier:
    verifier = ApiKeyVerifier(config_for(server, mode, **overrides))
    await verifier.start()
    return verifier


def ba_outcome(server: BetterAuthServer, key: str) -> str:
    """Better Auth's own verdict on the key (its get-session hook): "ok" or the plugin's code."""
    response = server.get_session_with_api_key(key)
    if response.status_code == 200 and isinstance(response.json(), dict):
        return "ok"
    code: str = response.json().get("code", f"HTTP {response.status_code}")
    return code


async def ab_outcome(verifier: ApiKeyVerifier, key: str) -> str:
    """authbridge's verdict, in the same words."""
    try:
        await verifier.verify(key)
    except AuthError as error:
        return BA_CODE.get(error.code, error.code)
    return "ok"


def build_app(bridge: AuthBridge) -> FastAPI:
    """Routes for a key: who it is, and what its permissions (as scopes) allow."""
    app = FastAPI()
    bridge.install(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"sub": user.sub}

    @app.get("/read")
    async def read_only(user: ReadUser) -> dict[str, Any]:
        return {"sub": user.sub}

    @app.get("/read-write")
    async def read_and_write(user: ReadWriteUser) -> dict[str, Any]:
        return {"sub": user.sub}

    return app


T0 = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
KEY = "k" * 64
# Better Auth's apikey table on SQLite, as its migrations create it (1.7.5).
APIKEY_DDL = (
    'CREATE TABLE "apikey" ("id" text not null primary key, "configId" text not null, '
    '"name" text, "start" text, "referenceId" text not null, "prefix" text, "key" text not null, '
    '"refillInterval" integer, "refillAmount" integer, "lastRefillAt" date, "enabled" integer, '
    '"rateLimitEnabled" integer, "rateLimitTimeWindow" integer, "rateLimitMax" integer, '
    '"requestCount" integer, "remaining" integer, "lastRequest" date, "expiresAt" date, '
    '"createdAt" date not null, "updatedAt" date not null, "permissions" text, "metadata" text)'
)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Table:
    """A Better Auth SQLite file with one user and API keys written as the plugin writes them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with sqlite3.connect(path) as db:
            for statement in (*sqlite_ddl(role=True), APIKEY_DDL):
                db.execute(statement)
            db.execute('ALTER TABLE "user" ADD COLUMN "banned" integer')
            db.execute('ALTER TABLE "user" ADD COLUMN "banExpires" date')
            db.execute(
                'INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt",'
                " role, banned) VALUES (?, ?, ?, 1, ?, ?, ?, 0)",
                ("user-1", "Ada", "ada@example.com", iso(T0), iso(T0), "admin,user"),
            )

    def add(self, key: str = KEY, **columns: Any) -> None:
        values: dict[str, Any] = {
            "id": "key-1",
            "configId": "default",
            "referenceId": "user-1",
            "key": hash_key(key),
            "enabled": 1,
            "rateLimitEnabled": 1,
            "rateLimitTimeWindow": 1000,
            "rateLimitMax": 2,
            "requestCount": 0,
            "createdAt": iso(T0),
            "updatedAt": iso(T0),
            "permissions": '{"tasks":["read"]}',
        }
        values.update(columns)
        names = ", ".join(f'"{name}"' for name in values)
        marks = ", ".join("?" for _ in values)
        with sqlite3.connect(self.path) as db:
            db.execute(f"INSERT INTO apikey ({names}) VALUES ({marks})", tuple(values.values()))

    def get(self, key_id: str = "key-1") -> dict[str, Any] | None:
        with sqlite3.connect(self.path) as db:
            db.row_factory = sqlite3.Row
            found = db.execute("SELECT * FROM apikey WHERE id = ?", (key_id,)).fetchone()
        return dict(found) if found is not None else None

    def set_user(self, **columns: Any) -> None:
        assignments = ", ".join(f'"{name}" = ?' for name in columns)
        with sqlite3.connect(self.path) as db:
            db.execute(f'UPDATE "user" SET {assignments}', tuple(columns.values()))


async def aiosqlite_workers_finished(timeout: float = 10.0) -> None:
    """Wait, on the running loop, until no aiosqlite worker thread is left.

    aiosqlite 0.22 stops the thread of a connection that failed to open by queueing a close
    whose future nobody awaits. If the test's loop closes before the thread gets to it, the
    thread answers a closed loop: `RuntimeError: Event loop is closed`, reported by pytest as
    an unhandled thread exception in whichever test runs next. An application's loop outlives
    the thread, so only tests that end right after a failed open need this.
    """
    deadline = time.monotonic() + timeout
    while any("_connection_worker_thread" in t.name for t in threading.enumerate()):
        assert time.monotonic() < deadline, "an aiosqlite worker thread did not stop"
        await asyncio.sleep(0.01)
