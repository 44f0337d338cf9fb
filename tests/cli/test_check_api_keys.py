"""``authbridge check`` with API keys on: it reports the mode and header, and probes the store
the mode uses (get-session taking keys, or the apikey table), against a real Better Auth."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cli_helpers import CLI

from harness.better_auth import ServerPool

pytestmark = pytest.mark.interop


def _api_keys(cli: CLI, env: dict[str, str]) -> tuple[int, dict[str, str]]:
    result = cli("check", "--json", env=env)
    (entry,) = [c for c in result.json()["checks"] if c["step"] == "api-keys"]
    return result.code, entry


def test_remote_mode_passes_when_better_auth_takes_keys(
    cli: CLI, better_auth_factory: ServerPool
) -> None:
    server = better_auth_factory(APIKEY=1)
    code, entry = _api_keys(cli, {"BETTER_AUTH_URL": server.url, "AUTHBRIDGE_API_KEYS": "remote"})
    assert entry["status"] == "pass", entry
    assert entry["detail"] == "AUTHBRIDGE_API_KEYS=remote, keys read from x-api-key"
    assert code == 0


def test_remote_mode_fails_without_the_plugin(cli: CLI, better_auth_factory: ServerPool) -> None:
    server = better_auth_factory()  # no apiKey plugin
    code, entry = _api_keys(cli, {"BETTER_AUTH_URL": server.url, "AUTHBRIDGE_API_KEYS": "remote"})
    assert entry["status"] == "fail"
    assert "does not take API keys" in entry["detail"]
    assert "enableSessionForAPIKeys" in entry["fix"]
    assert code == 1


def test_database_mode_probes_the_apikey_table(
    cli: CLI, better_auth_factory: ServerPool, tmp_path: Path
) -> None:
    server = better_auth_factory(APIKEY=1)
    env = {
        "BETTER_AUTH_URL": server.url,
        "AUTHBRIDGE_API_KEYS": "database",
        "AUTHBRIDGE_SESSION_DATABASE_URL": server.env["DB_PATH"],
    }
    code, entry = _api_keys(cli, env)
    assert entry["status"] == "pass", entry
    assert code == 0
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    code, entry = _api_keys(cli, {**env, "AUTHBRIDGE_SESSION_DATABASE_URL": str(empty)})
    assert entry["status"] == "fail"
    assert "apikey table cannot be read" in entry["detail"]
    assert code == 1


def test_api_keys_alone_are_a_verifier(cli: CLI, tmp_path: Path) -> None:
    database = tmp_path / "auth.db"
    sqlite3.connect(database).close()
    env = {"AUTHBRIDGE_API_KEYS": "database", "AUTHBRIDGE_SESSION_DATABASE_URL": str(database)}
    result = cli("check", "--json", "--offline", env=env)
    (verifier,) = [c for c in result.json()["checks"] if c["step"] == "verifier"]
    assert verifier == {
        "step": "verifier",
        "status": "pass",
        "detail": "API keys only (no JWTs)",
        "fix": None,
    }
