"""Fixtures for the CLI tests. Every test drives the installed ``authbridge`` entry point as a
subprocess, in a fresh directory (no ``.env``) with authbridge's variables removed."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import CLI, DevIssuer, StaticServer, start_dev_issuer, stop


@pytest.fixture(autouse=True)
def _quiet_http_client_logs() -> Iterator[None]:
    """The product runs in a subprocess here; in this process only the Better Auth harness's
    HTTP client logs, and httpcore's DEBUG records echo its request headers (the session
    token). Keep them from being created so the session log guard watches real leaks only."""
    loggers = [logging.getLogger(name) for name in ("httpcore", "httpx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    directory = tmp_path / "work"
    directory.mkdir()
    return directory


@pytest.fixture
def cli(workdir: Path) -> CLI:
    return CLI(workdir)


@pytest.fixture
def dev_issuer(workdir: Path) -> Iterator[DevIssuer]:
    """``authbridge dev-issuer`` on a free loopback port, with its own keys file."""
    issuer = start_dev_issuer(workdir, workdir / ".authbridge" / "dev-keys.json")
    yield issuer
    stop(issuer.process)


@pytest.fixture
def issuer_cli(cli: CLI, dev_issuer: DevIssuer) -> CLI:
    """The CLI configured like an API pointed at the dev issuer."""
    cli.env = {
        "BETTER_AUTH_URL": dev_issuer.issuer,
        "AUTHBRIDGE_DEV_KEYS_FILE": str(dev_issuer.keys_file),
    }
    return cli


@pytest.fixture
def static_server() -> Iterator[StaticServer]:
    server = StaticServer()
    yield server
    server.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def git_repo(workdir: Path) -> Path:
    git = shutil.which("git")
    if git is None:
        raise RuntimeError("git is required for these tests")
    subprocess.run([git, "init", "-q"], cwd=workdir, check=True)
    (workdir / "web").mkdir()
    return workdir
