"""What ``tasks-api serve`` prints: the audit log and key-fetch faults, as text or JSON lines,
and never a credential, at any level (trace included).

Each test runs the real command in its own process and reads what the process wrote. Before
the fix, ``serve`` printed neither audit events nor JWKS failures (the CLI's ``NullHandler``
silenced the ``authbridge`` logger), and ``LOG_LEVEL=trace`` printed tokens sent in a URL.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tasks_support import clean_env, serve_once, serving

from authbridge.testing import FakeIssuer

JSON_BASE_FIELDS = {"timestamp", "level", "logger", "message", "pid"}


def _env(issuer: FakeIssuer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_env(
        AUTHBRIDGE_JWKS_URL=issuer.jwks_url,
        AUTHBRIDGE_ISSUER=issuer.issuer,
        AUTHBRIDGE_AUDIENCE=issuer.issuer,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/data/tasks.db",
        **extra,
    )


def _read_log(tmp_path: Path, expected: str, timeout: float = 10) -> str:
    """The process's output once it holds ``expected`` (lines are written after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        text = (tmp_path / "serve.log").read_text()
        if expected in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def _drive(issuer: FakeIssuer, url: str) -> dict[str, Any]:
    """A good token, a garbage one, then the JWKS taken down and a token with a new kid."""
    user = issuer.make_user()
    good = httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {issuer.token(user)}"})
    garbage = httpx.get(f"{url}/api/me", headers={"Authorization": "Bearer not.a.token"})
    issuer.stop_server()
    issuer.rotate()  # a key the (now unreachable) JWKS never published
    unknown = httpx.get(f"{url}/api/me", headers={"Authorization": f"Bearer {issuer.token(user)}"})
    assert (good.status_code, garbage.status_code, unknown.status_code) == (200, 401, 401)
    return user


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_prints_the_audit_log_and_jwks_failures_as_text(tmp_path: Path, workers: str) -> None:
    issuer = FakeIssuer(base_url=None)
    issuer.start_server()
    try:
        with serving(["--workers", workers], _env(issuer, tmp_path), tmp_path) as url:
            user = _drive(issuer, url)
            text = _read_log(tmp_path, "JWKS fetch from")
    finally:
        issuer.stop_server()
    lines = text.splitlines()
    success = [line for line in lines if "outcome=success" in line]
    assert any(f"sub={user['id']}" in line and line.startswith("INFO:") for line in success), text
    failures = [line for line in lines if "outcome=failure" in line]
    assert any(
        line.startswith("WARNING:")
        and "[authbridge.audit]" in line
        and "code=token_malformed status=401" in line
        for line in failures
    ), text
    assert any("code=unknown_key status=401" in line for line in failures), text
    fetch = [line for line in lines if "JWKS fetch from" in line and "failed" in line]
    assert fetch, text
    assert fetch[0].startswith("WARNING:")
    assert "[authbridge.keys]" in fetch[0]
    assert any('"GET /api/me HTTP/1.1" 401' in line for line in lines), text  # access log


def test_serve_log_format_json_writes_one_object_per_line(tmp_path: Path) -> None:
    issuer = FakeIssuer(base_url=None)
    issuer.start_server()
    env = _env(issuer, tmp_path, LOG_FORMAT="json")
    try:
        with serving(["--workers", "2"], env, tmp_path) as url:
            user = _drive(issuer, url)
            text = _read_log(tmp_path, "JWKS fetch from")
    finally:
        issuer.stop_server()
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert records, text
    assert all(record.keys() >= JSON_BASE_FIELDS for record in records), text
    assert all(record["timestamp"].endswith("Z") for record in records)
    audit = [r for r in records if r["logger"] == "authbridge.audit"]
    success = next(r for r in audit if r.get("outcome") == "success")
    assert (success["level"], success["sub"], success["code"]) == ("info", user["id"], "ok")
    failure = next(r for r in audit if r.get("code") == "token_malformed")
    assert failure["level"] == "warning"
    assert (failure["status"], failure["path"], failure["method"]) == (401, "/api/me", "GET")
    assert failure["request_id"]
    assert failure["client_ip"] == "127.0.0.1"
    assert any(r.get("code") == "unknown_key" for r in audit)
    fetch = next(r for r in records if "JWKS fetch from" in r["message"])
    assert (fetch["level"], fetch["logger"]) == ("warning", "authbridge.keys")
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any(r["path"] == "/api/me" and r["status"] == 401 for r in access), access
    started = [r for r in records if r["logger"] == "uvicorn.error"]
    assert started
    assert all("color_message" not in r for r in started)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_trace_level_never_prints_a_credential(tmp_path: Path, log_format: str) -> None:
    """Tokens in the query (``access_token``, encoded, ``token``), in the path, in headers
    and cookies, at ``LOG_LEVEL=trace``: the trace lines are there, the tokens are not."""
    issuer = FakeIssuer(base_url=None)
    session = (
        "edIda55cDWMSK41DH5zG9ea1wmojrLkn.aiP24XcSDqz0%2B3z%2Bb%2FBR084HfjFXgsewPsPg3p%2B3G1E%3D"
    )
    issuer.start_server()
    env = _env(issuer, tmp_path, LOG_LEVEL="trace", LOG_FORMAT=log_format)
    secrets: list[str] = []
    try:
        with serving([], env, tmp_path) as url:
            token = issuer.token()
            bearer = {"Authorization": f"Bearer {token}"}
            secrets += [token, *token.split(".")[1:], "edIda55cDWMSK41DH5zG9ea1wmojrLkn"]
            with httpx.Client(base_url=url) as client:
                client.get(f"/api/tasks?access_token={token}")
                client.get(f"/api/tasks?access%5Ftoken={token}", headers=bearer)
                client.get("/api/tasks?token=edIda55cDWMSK41DH5zG9ea1wmojrLkn")
                client.get(f"/api/{token}")
                client.get(f"/api/tasks/{session}", headers=bearer)
                client.get(
                    "/api/me", headers={**bearer, "Cookie": f"better-auth.session_token={session}"}
                )
                client.get("/api/me", headers={"X-Api-Key": "edIda55cDWMSK41DH5zG9ea1wmojrLkn"})
            text = _read_log(tmp_path, "/api/me")
            time.sleep(0.5)
            text = (tmp_path / "serve.log").read_text()
    finally:
        issuer.stop_server()
    assert "Started scope=" in text  # uvicorn's trace lines were written
    assert "[redacted]" in text
    for secret in secrets:
        assert secret not in text, f"{secret[:12]}... reached the log"


@pytest.mark.parametrize(("variable", "value"), [("LOG_LEVEL", "verbose"), ("LOG_FORMAT", "xml")])
def test_a_bad_log_setting_exits_2_naming_it(tmp_path: Path, variable: str, value: str) -> None:
    result = serve_once(clean_env(AUTHBRIDGE_JWT_SECRET="s" * 40, **{variable: value}), tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{variable}: {value!r} is not a log" in result.stderr
    assert "Fix:" in result.stderr
