"""``pip install 'authbridge[fastapi]' uvicorn`` into a fresh venv runs a protected app.

The app is what docs/fastapi.md shows (``AuthBridge.from_env``, ``CurrentUser``,
``require_scopes``), served by uvicorn as a real process and called over HTTP, once with the
newest FastAPI and once with the lowest the extra allows (conftest.py ``lowest_fastapi``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from packaging.version import Version
from wheel_support import Venv, clean_env, lowest_fastapi

from authbridge.testing import FakeIssuer

APP = """
from typing import Annotated

from fastapi import Depends, FastAPI

from authbridge import Principal
from authbridge.fastapi import AuthBridge, CurrentUser, require_scopes

bridge = AuthBridge.from_env()
app = FastAPI()
bridge.install(app)


@app.get("/me")
async def me(user: CurrentUser) -> dict[str, str]:
    return {"sub": user.sub}


@app.get("/tasks")
async def tasks(
    user: Annotated[Principal, Depends(require_scopes("tasks:read"))],
) -> dict[str, str]:
    return {"sub": user.sub}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def issuer() -> Iterator[FakeIssuer]:
    issuer = FakeIssuer(base_url=None, alg="EdDSA")
    with issuer.serving():
        yield issuer


@pytest.fixture(scope="module", params=["newest", "lowest"])
def served_venv(request: pytest.FixtureRequest) -> Venv:
    venv: Venv = request.getfixturevalue(
        "fastapi_venv" if request.param == "newest" else "fastapi_lowest_venv"
    )
    return venv


@pytest.fixture(scope="module")
def app_url(
    served_venv: Venv, issuer: FakeIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    fastapi_venv = served_venv
    directory = tmp_path_factory.mktemp("app")
    (directory / "protected_app.py").write_text(APP)
    port = _free_port()
    log = (directory / "uvicorn.log").open("w")
    process = subprocess.Popen(
        [
            *(str(fastapi_venv.python), "-I", "-m", "uvicorn", "--app-dir", str(directory)),
            *("--port", str(port), "protected_app:app"),
        ],
        cwd=directory,
        env={**clean_env(), "BETTER_AUTH_URL": issuer.issuer},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (directory / "uvicorn.log").read_text()
            try:
                httpx.get(f"{url}/me", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (directory / "uvicorn.log").read_text()
                time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone already if it failed to start
            os.killpg(process.pid, signal.SIGTERM)  # our own process group only
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def test_each_venv_holds_the_fastapi_it_names(
    served_venv: Venv, request: pytest.FixtureRequest
) -> None:
    floor = Version(lowest_fastapi().removeprefix("fastapi=="))
    installed = Version(served_venv.packages()["fastapi"])
    if request.node.callspec.params["served_venv"] == "lowest":
        assert installed == floor
    else:
        assert installed > floor


def test_the_extra_installs_fastapi_and_not_the_rest(served_venv: Venv) -> None:
    installed = served_venv.packages()
    assert {"authbridge", "fastapi", "starlette", "uvicorn"} <= installed.keys()
    for other in ("sqlalchemy", "redis", "typer", "rich", "alembic", "tasks-api"):
        assert other not in installed, sorted(installed)


def test_a_good_token_is_200(app_url: str, issuer: FakeIssuer) -> None:
    token = issuer.token(scope="tasks:read")
    for path in ("/me", "/tasks"):
        answer = httpx.get(app_url + path, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"sub": issuer.user["id"]}


def test_a_missing_scope_is_403(app_url: str, issuer: FakeIssuer) -> None:
    token = issuer.token(scope="tasks:write")
    answer = httpx.get(app_url + "/tasks", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403, answer.text
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]


def test_no_token_is_401_with_a_challenge(app_url: str) -> None:
    answer = httpx.get(app_url + "/me")
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
