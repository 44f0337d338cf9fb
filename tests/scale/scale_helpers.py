"""Helpers for the scale-out tests: the local Redis URL, a private ``redis-server``, and
``tasks-api serve`` run as a real process."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from harness.processes import terminate

REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A throw-away ``redis-server`` on its own port, so a test can take it down."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, timeout=10)
            self.process = None


_PROJECT_PREFIXES = ("AUTHBRIDGE_", "BETTER_AUTH_", "DATABASE_", "TASKS_")
_SERVE_VARIABLES = (
    "PROXY_HEADERS",
    "FORWARDED_ALLOW_IPS",
    "WEB_CONCURRENCY",
    "HOST",
    "PORT",
    "REUSE_PORT",
)


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any project setting, plus ``settings``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_PROJECT_PREFIXES) and key not in _SERVE_VARIABLES
    }
    env.update(settings)
    return env


class Served:
    """An ``tasks-api serve`` process: its origin and its log."""

    def __init__(self, process: subprocess.Popen[bytes], origin: str, log: Path) -> None:
        self.process = process
        self.origin = origin
        self.log = log

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return self.text()[-3000:]


@contextlib.contextmanager
def authbridge_serve(
    env: dict[str, str],
    directory: Path,
    *args: str,
    ready: str = "/readyz",
    host: str = "127.0.0.1",
) -> Iterator[Served]:
    """Run ``tasks-api serve ARGS`` on ``host`` until ``ready`` answers 200; stop it (SIGTERM)
    after."""
    port = free_port()
    log = directory / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "tasks-api"), "serve", *args],
            env={**env, "HOST": host, "PORT": str(port)},
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        address = f"[{host}]" if ":" in host else host
        served = Served(process, f"http://{address}:{port}", log)
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(served.origin + ready, timeout=2).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start: " + served.tail())
                time.sleep(0.2)
            yield served
        finally:
            terminate(process, timeout=30)
