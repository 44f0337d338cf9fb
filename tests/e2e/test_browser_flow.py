"""The whole system in a real browser: Next.js + Better Auth in front, the Tasks API behind.

Starts the Tasks API (``tasks-api serve``) and the built web app (``next start``) on free
ports with fresh databases, then runs two flows in Debian's chromium:

* ``web/e2e/flow.mjs``: sign-up, task CRUD, filters, reload persistence, per-user isolation
  and server-side session revocation.
* ``web/e2e/org-flow.mjs``: two users and one organization (team tasks: an owner who deletes,
  a member who gets 403), switching organizations, the organization claims of the JWT, and an
  API key created in the page, used by plain HTTP requests, then revoked (401).

A missing prerequisite fails the test; nothing is skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_stack import (
    REPO_ROOT,
    WEB_DIR,
    Service,
    StackError,
    ensure_chromium,
    ensure_web_built,
    free_port,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

SCREENSHOT_DIR = REPO_ROOT / "test-output"
SCREENSHOT = SCREENSHOT_DIR / "tasks-page.png"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _uv() -> str:
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(uv).exists():
        raise StackError("`uv` is not installed; it runs the Tasks API (`tasks-api serve`).")
    return uv


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise StackError("`node` is not on PATH; the web app and the browser flow need it.")
    return node


class Stack:
    """URLs and paths of one running web app + Tasks API pair."""

    def __init__(self, web_url: str, api_url: str, auth_db: Path, services: list[Service]):
        self.web_url = web_url
        self.api_url = api_url
        self.auth_db = auth_db
        self.services = services

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} log ---\n{s.log_tail()}" for s in self.services)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ensure_chromium()
    ensure_web_built()

    workdir = tmp_path_factory.mktemp("e2e-stack")
    web_port, api_port = free_port(), free_port()
    web_url = f"http://localhost:{web_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    auth_db = workdir / "auth.db"
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AUTHBRIDGE_", "BETTER_AUTH"))
    }

    api_env = {
        **base_env,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'tasks.db'}",
        "CORS_ORIGINS": web_url,
        "BETTER_AUTH_URL": web_url,
        "AUTHBRIDGE_JWKS_URL": f"{web_url}/api/auth/jwks",
        "AUTHBRIDGE_ISSUER": web_url,
        "AUTHBRIDGE_AUDIENCE": web_url,
        # API keys: the web app's Better Auth validates them on get-session (BETTER_AUTH_URL);
        # their permissions, which get-session does not answer, are read from its database.
        "AUTHBRIDGE_API_KEYS": "remote",
        "AUTHBRIDGE_API_KEY_HEADER": "x-api-key",
        "AUTHBRIDGE_SESSION_DATABASE_URL": f"sqlite+aiosqlite:///{auth_db}",
    }
    web_env = {
        **base_env,
        "BETTER_AUTH_URL": web_url,
        "BETTER_AUTH_SECRET": secrets.token_urlsafe(48),
        "TRUSTED_ORIGINS": web_url,
        "AUTH_DB_PATH": str(auth_db),
        "NEXT_PUBLIC_API_URL": api_url,
        "NEXT_TELEMETRY_DISABLED": "1",
    }
    web = Service(
        "web",
        [_node(), "node_modules/next/dist/bin/next", "start", "-p", str(web_port)],
        cwd=WEB_DIR,
        env=web_env,
        ready_url=f"{web_url}/api/auth/jwks",
        log_dir=workdir,
    )
    # The API runs from the temp dir, so a developer's ./.env and ./data are never touched.
    api = Service(
        "tasks-api",
        [
            _uv(),
            "run",
            "--project",
            str(REPO_ROOT),
            "--frozen",
            "tasks-api",
            "serve",
            "--port",
            str(api_port),
        ],
        cwd=workdir,
        env=api_env,
        ready_url=f"{api_url}/api/me",
        log_dir=workdir,
    )
    with web, api:
        yield Stack(web_url, api_url, auth_db, [web, api])


def _run_flow(stack: Stack, script: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Runs one flow script against the stack; returns its result and a report for failures."""
    result = subprocess.run(
        [_node(), str(WEB_DIR / "e2e" / script)],
        cwd=WEB_DIR,
        env={
            **os.environ,
            "WEB_URL": stack.web_url,
            "API_URL": stack.api_url,
            "AUTH_DB_PATH": str(stack.auth_db),
            "SCREENSHOT_DIR": str(SCREENSHOT_DIR),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return result, f"{result.stdout}\n{result.stderr}\n{stack.logs()}"


def test_browser_flow(stack: Stack) -> None:
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)

    result, report = _run_flow(stack, "flow.mjs")
    assert result.returncode == 0, f"browser flow failed:\n{report}"
    assert "E2E FLOW PASSED" in result.stdout, report
    for milestone in (
        "A added three tasks",
        "A completed",
        "A deleted",
        "after a reload A sees the same state",
        "B signed up, sees no tasks, and gets 404 for A's task",
        "A's next action landed on /sign-in?next=%2Ftasks",
        "after a second revocation, reloading /tasks landed on /sign-in?next=%2Ftasks",
        "A signed out while a token request was in flight, and landed on /sign-in once",
    ):
        assert milestone in result.stdout, f"missing step {milestone!r}:\n{report}"
    assert SCREENSHOT.read_bytes().startswith(PNG_MAGIC)
    assert SCREENSHOT.stat().st_size > 10_000, "the screenshot looks blank"


def test_organization_and_api_key_flow(stack: Stack) -> None:
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    (SCREENSHOT_DIR / "org-page.png").unlink(missing_ok=True)

    result, report = _run_flow(stack, "org-flow.mjs")
    assert result.returncode == 0, f"organization flow failed:\n{report}"
    assert "ORG FLOW PASSED" in result.stdout, report
    for milestone in (
        "A created an organization; A's JWT carries activeOrganizationId and organizationRole"
        "=owner",
        "A added B as a member",
        "B switched to the organization and sees the team task (JWT role: member)",
        "B edited the team task",
        "B's delete was refused with 403 and a permission message; B is still signed in",
        "A (owner) deleted the team task",
        "back in Personal, A and B see their personal tasks only",
        "A created an API key; it was shown once",
        "a script with the key listed and created A's personal tasks",
        "a read-only key reads but cannot create (403 insufficient_scope)",
        "after A revoked the key in the page, its next request was 401",
    ):
        assert milestone in result.stdout, f"missing step {milestone!r}:\n{report}"
    assert (SCREENSHOT_DIR / "org-page.png").read_bytes().startswith(PNG_MAGIC)
