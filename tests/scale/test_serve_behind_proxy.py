"""``tasks-api serve`` behind a load balancer, configured only from the environment:
forwarded client addresses are trusted from the listed proxies only, and SIGTERM lets a
request in flight finish (graceful shutdown)."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from scale_helpers import Served, authbridge_serve, clean_env

from authbridge.testing import FakeIssuer


@contextlib.contextmanager
def serve(tmp_path: Path, **extra: str) -> Iterator[Served]:
    issuer = FakeIssuer("http://127.0.0.1:3000")
    env = clean_env(
        AUTHBRIDGE_JWKS=json.dumps(issuer.jwks()),
        AUTHBRIDGE_ISSUER=issuer.issuer,
        AUTHBRIDGE_AUDIENCE=issuer.issuer,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}",
        LOG_LEVEL="info",
        **extra,
    )
    with authbridge_serve(env, tmp_path, ready="/healthz") as served:
        yield served


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
