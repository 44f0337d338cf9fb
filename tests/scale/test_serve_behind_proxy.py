"""``authbridge serve`` behind a load balancer, configured only from the environment:
forwarded client addresses are trusted from the listed proxies only, and SIGTERM lets a
request in flight finish (graceful shutdown)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from scale_helpers import free_port

from authbridge.testing import FakeIssuer


class Served:
    def __init__(self, process: subprocess.Popen[bytes], origin: str, log: Path) -> None:
        self.process = process
        self.origin = origin
        self.log = log

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def serve(tmp_path: Path, **extra: str) -> Iterator[Served]:
    issuer = FakeIssuer("http://127.0.0.1:3000")
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AUTHBRIDGE_", "BETTER_AUTH_", "DATABASE_", "TASKS_"))
        and key not in ("PROXY_HEADERS", "FORWARDED_ALLOW_IPS", "WEB_CONCURRENCY", "PORT")
    }
    env.update(
        AUTHBRIDGE_JWKS=json.dumps(issuer.jwks()),
        AUTHBRIDGE_ISSUER=issuer.issuer,
        AUTHBRIDGE_AUDIENCE=issuer.issuer,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}",
        PORT=str(port),
        LOG_LEVEL="info",
        **extra,
    )
    log = tmp_path / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "authbridge"), "serve"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        served = Served(process, f"http://127.0.0.1:{port}", log)
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(served.origin + "/healthz", timeout=2).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(served.text()[-3000:])
                time.sleep(0.2)
            yield served
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def test_forwarded_addresses_are_trusted_only_from_listed_proxies(tmp_path: Path) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    with serve(tmp_path, PROXY_HEADERS="true", FORWARDED_ALLOW_IPS="127.0.0.1") as trusted:
        assert httpx.get(trusted.origin + "/healthz", headers=forwarded).status_code == 200
        time.sleep(0.3)
        assert "203.0.113.7" in trusted.text()  # the access log shows the real client
    with serve(tmp_path, PROXY_HEADERS="true", FORWARDED_ALLOW_IPS="10.0.0.1") as untrusted:
        assert httpx.get(untrusted.origin + "/healthz", headers=forwarded).status_code == 200
        time.sleep(0.3)
        assert "203.0.113.7" not in untrusted.text()  # a client cannot claim another address


def test_sigterm_lets_a_request_in_flight_finish(tmp_path: Path) -> None:
    """A slow upload is in flight when SIGTERM arrives: it still gets its answer."""
    with serve(tmp_path, GRACEFUL_SHUTDOWN_SECONDS="20") as served:
        result: dict[str, object] = {}

        def slow_body() -> Iterator[bytes]:
            yield b'{"title": "'
            time.sleep(1.5)  # SIGTERM is sent meanwhile
            yield b'slow"}'

        def send() -> None:
            try:
                answer = httpx.post(
                    served.origin + "/api/tasks",
                    content=slow_body(),
                    headers={"Content-Type": "application/json"},
                    timeout=30,
                )
                result["status"] = answer.status_code
            except httpx.HTTPError as exc:
                result["error"] = type(exc).__name__

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.5)
        served.process.send_signal(signal.SIGTERM)
        sender.join(timeout=30)
        # No credentials: a clean 401 after the whole body arrived, not a dropped connection.
        assert result == {"status": 401}
        # uvicorn re-raises the signal once shut down: exit "by SIGTERM", after a clean stop.
        assert served.process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in served.text()
