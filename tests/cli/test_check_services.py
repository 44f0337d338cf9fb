"""``authbridge check`` on what the settings connect to: Redis, the session database and the
Tasks API's CORS_ORIGINS, against real services (Redis at 127.0.0.1:6379, PostgreSQL's ``test``
database, SQLite files) that are up, down, or missing Better Auth's tables."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cli_helpers import CLI, Result, clean_environment
from sqlalchemy.ext.asyncio import create_async_engine

from harness.better_auth_tables import PG_DDL, ROLE_COLUMN, sqlite_ddl

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "hunter2-never-shown"
SESSION_SECRET = "check-services-secret-0123456789-abcdefghijklmnop"


def _checks(result: Result, step: str) -> list[dict[str, str]]:
    return [c for c in result.json()["checks"] if c["step"] == step]


def _only(result: Result, step: str) -> dict[str, str]:
    (entry,) = _checks(result, step)
    return entry


# --- Redis ----------------------------------------------------------------------------------


def test_redis_up_passes(issuer_cli: CLI) -> None:
    result = issuer_cli("check", "--json", env={"AUTHBRIDGE_REDIS_URL": REDIS_URL})
    assert result.code == 0, result.output
    assert _only(result, "redis") == {
        "step": "redis",
        "status": "pass",
        "detail": f"{REDIS_URL} answers PING",
        "fix": None,
    }


def test_redis_down_fails_with_the_variable_and_the_fix(issuer_cli: CLI, closed_port: int) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{closed_port}/0"
    result = issuer_cli("check", "--json", env={"AUTHBRIDGE_REDIS_URL": url})
    assert result.code == 1, result.output
    assert result.json()["ok"] is False
    redis = _only(result, "redis")
    assert redis["status"] == "fail"
    assert redis["detail"].startswith(
        f"AUTHBRIDGE_REDIS_URL redis://:••••••@127.0.0.1:{closed_port}/0 does not answer PING: "
    )
    assert "Connection" in redis["detail"]
    assert "Start Redis, or correct AUTHBRIDGE_REDIS_URL" in redis["fix"]
    human = issuer_cli("check", env={"AUTHBRIDGE_REDIS_URL": url})
    assert human.code == 1
    assert "✘ redis" in human.stdout
    for output in (result.stdout, human.stdout):
        assert PASSWORD not in output


def test_a_url_that_is_not_redis_fails_cleanly(issuer_cli: CLI) -> None:
    url = f"http://user:{PASSWORD}@127.0.0.1:6379/0"
    result = issuer_cli("check", "--json", env={"AUTHBRIDGE_REDIS_URL": url})
    assert result.code == 1, result.output
    redis = _only(result, "redis")
    assert redis["status"] == "fail"
    assert "does not answer PING: not a Redis URL: " in redis["detail"]
    assert PASSWORD not in result.stdout


def test_offline_connects_to_nothing(issuer_cli: CLI, closed_port: int) -> None:
    env = {"AUTHBRIDGE_REDIS_URL": f"redis://127.0.0.1:{closed_port}/0"}
    result = issuer_cli("check", "--json", "--offline", env=env)
    assert result.code == 0, result.output
    assert _checks(result, "redis") == []


# --- the session database -------------------------------------------------------------------


async def _pg(statements: list[str]) -> None:
    engine = create_async_engine(PG_URL.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(params=["with tables", "empty"])
def pg_schema(request: pytest.FixtureRequest) -> Iterator[tuple[str, bool]]:
    """A fresh PostgreSQL schema, with Better Auth's tables or without; dropped afterwards."""
    schema = f"ab_check_{uuid.uuid4().hex[:12]}"
    tables = request.param == "with tables"
    ddl = [d.format(schema=schema, role=ROLE_COLUMN) for d in PG_DDL] if tables else []
    asyncio.run(_pg([f'CREATE SCHEMA "{schema}"', *ddl]))
    yield schema, tables
    asyncio.run(_pg([f'DROP SCHEMA "{schema}" CASCADE']))


def _session_env(url: str, schema: str | None = None) -> dict[str, str]:
    env = {
        "AUTHBRIDGE_SESSION_MODE": "database",
        "AUTHBRIDGE_SESSION_DATABASE_URL": url,
        "BETTER_AUTH_SECRET": SESSION_SECRET,
    }
    if schema is not None:
        env["AUTHBRIDGE_SESSION_TABLES"] = json.dumps({"schema": schema})
    return env


def test_postgres_with_and_without_better_auths_tables(
    issuer_cli: CLI, pg_schema: tuple[str, bool]
) -> None:
    schema, has_tables = pg_schema
    url = PG_URL.replace("postgres@", f"postgres:{PASSWORD}@")  # trust auth ignores it
    result = issuer_cli("check", "--json", env=_session_env(url, schema))
    entry = _only(result, "sessions")
    shown = "postgresql://postgres:••••••@127.0.0.1:5432/test"
    if has_tables:
        assert result.code == 0, result.output
        assert entry["status"] == "pass"
        assert entry["detail"] == f"{shown} answers and has Better Auth's session and user tables"
    else:
        assert result.code == 1, result.output
        assert entry["status"] == "fail"
        assert entry["detail"] == (
            f"AUTHBRIDGE_SESSION_DATABASE_URL {shown}: the session lookup fails: "
            f'ProgrammingError: relation "{schema}.session" does not exist'
        )
        assert "AUTHBRIDGE_SESSION_DATABASE_URL" in entry["fix"]
    assert PASSWORD not in result.stdout


def test_postgres_down(issuer_cli: CLI, closed_port: int) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{closed_port}/test"
    result = issuer_cli("check", "--json", env=_session_env(url))
    assert result.code == 1, result.output
    entry = _only(result, "sessions")
    assert entry["status"] == "fail"
    assert (
        f"postgres:••••••@127.0.0.1:{closed_port}/test: the session lookup fails"
        in (entry["detail"])
    )
    assert "Connect call failed" in entry["detail"] or "refused" in entry["detail"], entry
    assert PASSWORD not in result.stdout


def test_sqlite_with_and_without_better_auths_tables(issuer_cli: CLI, workdir: Path) -> None:
    migrated, empty, missing = (workdir / name for name in ("auth.db", "empty.db", "none.db"))
    with sqlite3.connect(migrated) as connection:
        for statement in sqlite_ddl():
            connection.execute(statement)
    sqlite3.connect(empty).close()

    good = issuer_cli("check", "--json", env=_session_env(str(migrated)))
    assert good.code == 0, good.output
    assert _only(good, "sessions")["detail"] == (
        f"{migrated} answers and has Better Auth's session and user tables"
    )

    bare = issuer_cli("check", "--json", env=_session_env(f"sqlite:///{empty}"))
    assert bare.code == 1
    assert _only(bare, "sessions")["detail"].endswith(
        "the session lookup fails: OperationalError: no such table: session"
    )

    absent = issuer_cli("check", "--json", env=_session_env(str(missing)))
    assert absent.code == 1
    assert f"the SQLite file {missing} does not exist" in _only(absent, "sessions")["detail"]
    assert not missing.exists()  # the check did not create it


def test_a_database_url_without_database_mode_is_noted(issuer_cli: CLI, workdir: Path) -> None:
    env = {"AUTHBRIDGE_SESSION_DATABASE_URL": str(workdir / "auth.db")}
    result = issuer_cli("check", "--json", env=env)
    assert result.code == 0, result.output
    entry = _only(result, "sessions")
    assert entry["status"] == "info"
    assert "AUTHBRIDGE_SESSION_MODE is off" in entry["detail"]


# --- CORS_ORIGINS ---------------------------------------------------------------------------

BAD_ORIGINS = {
    "http://localhost:3000/": "no trailing slash",
    "https://app.example.com/app": "no path",
    "localhost:3000": "is not an origin",
    "https://*.example.com": "has a wildcard",
    "http://LOCALHOST:3000": "browsers send this origin as 'http://localhost:3000'",
    "https://app.example.com:443": "browsers send this origin as 'https://app.example.com'",
}


@pytest.mark.parametrize("value", list(BAD_ORIGINS))
def test_malformed_cors_origins_fail_as_serve_refuses_them(
    issuer_cli: CLI, closed_port: int, value: str
) -> None:
    env = {"CORS_ORIGINS": f"https://ok.example.com,{value}"}
    result = issuer_cli("check", "--json", "--offline", env=env)
    assert result.code == 1, result.output
    cors = _only(result, "cors")
    assert cors["status"] == "fail"
    assert cors["detail"].startswith(f"CORS_ORIGINS: {value!r}")
    assert BAD_ORIGINS[value] in cors["detail"]
    assert "Origin header" in cors["fix"]
    # The Tasks API refuses the same value at startup: the two share one parser.
    serve = subprocess.run(
        [str(Path(sys.executable).with_name("tasks-api")), "serve", "--port", str(closed_port)],
        env={**clean_environment(), **issuer_cli.env, **env},
        cwd=issuer_cli.cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert serve.returncode == 2
    assert "CORS_ORIGINS" in serve.stderr
    assert value in serve.stderr


def test_good_cors_origins_pass(issuer_cli: CLI) -> None:
    origins = "http://localhost:3000, https://app.example.com, http://[::1]:8080"
    result = issuer_cli("check", "--json", "--offline", env={"CORS_ORIGINS": origins})
    assert result.code == 0, result.output
    cors = _checks(result, "cors")
    assert cors[0] == {
        "step": "cors",
        "status": "pass",
        "detail": "CORS_ORIGINS allows http://localhost:3000, https://app.example.com, "
        "http://[::1]:8080",
        "fix": None,
    }


def test_cors_origins_from_dotenv(issuer_cli: CLI, workdir: Path) -> None:
    (workdir / ".env").write_text("CORS_ORIGINS=https://app.example.com/\n")
    result = issuer_cli("check", "--json", "--offline")
    assert result.code == 1
    assert "'https://app.example.com/' is not an origin" in _only(result, "cors")["detail"]


def test_cors_wildcard_is_a_warning(issuer_cli: CLI) -> None:
    result = issuer_cli("check", "--json", "--offline", env={"CORS_ORIGINS": "*"})
    assert result.code == 0, result.output
    cors = _only(result, "cors")
    assert cors["status"] == "warn"
    assert "credentials (cookies) are off" in cors["detail"]


def test_frontend_origin_missing_from_cors_origins(issuer_cli: CLI) -> None:
    # Better Auth runs in the web app: BETTER_AUTH_URL (the dev issuer here) is its origin.
    result = issuer_cli("check", "--json", "--offline", env={"CORS_ORIGINS": "http://x.test"})
    assert result.code == 0, result.output
    allowed, missing = _checks(result, "cors")
    assert allowed["status"] == "pass"
    assert missing["status"] == "warn"
    better_auth_url = issuer_cli.env["BETTER_AUTH_URL"]
    assert f"CORS_ORIGINS does not list {better_auth_url}" in missing["detail"]
    assert f"CORS_ORIGINS=http://x.test,{better_auth_url}" in missing["fix"]


def test_no_cors_origins_no_cors_check(issuer_cli: CLI) -> None:
    result = issuer_cli("check", "--json", "--offline")
    assert _checks(result, "cors") == []
