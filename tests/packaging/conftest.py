"""Session fixtures: the wheels are built once, and each fresh venv is made once per run."""

from __future__ import annotations

import pytest
from wheel_support import Dists, Venv, build, lowest_fastapi, new_venv


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    return build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def core_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """``pip install authbridge``: the core wheel alone, with its declared dependencies."""
    venv = new_venv(tmp_path_factory.mktemp("core") / "venv")
    venv.install(str(dists.core_wheel))
    return venv


@pytest.fixture(scope="session")
def nacl_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """``pip install 'authbridge[nacl]'``: EdDSA checked by libsodium."""
    venv = new_venv(tmp_path_factory.mktemp("nacl") / "venv")
    venv.install(f"authbridge[nacl] @ {dists.core_wheel.as_uri()}")
    return venv


@pytest.fixture(scope="session")
def fastapi_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """``pip install 'authbridge[fastapi]' uvicorn``: what a FastAPI developer installs."""
    venv = new_venv(tmp_path_factory.mktemp("fastapi") / "venv")
    venv.install(f"authbridge[fastapi] @ {dists.core_wheel.as_uri()}", "uvicorn>=0.34")
    return venv


@pytest.fixture(scope="session")
def fastapi_lowest_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """``authbridge[fastapi]`` with the oldest FastAPI (and so Starlette) it accepts."""
    venv = new_venv(tmp_path_factory.mktemp("fastapi-lowest") / "venv")
    venv.install(
        f"authbridge[fastapi] @ {dists.core_wheel.as_uri()}", lowest_fastapi(), "uvicorn>=0.34"
    )
    return venv


@pytest.fixture(scope="session")
def cli_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """``pip install 'authbridge[cli]'``: the command, without the other extras."""
    venv = new_venv(tmp_path_factory.mktemp("cli") / "venv")
    venv.install(f"authbridge[cli] @ {dists.core_wheel.as_uri()}")
    return venv
