"""The WSGI examples under real threaded servers: many users at once, one JWKS fetch, and no
thread ever answers with another user's Principal.

Flask under werkzeug's threaded server in this process; Flask, Django and Django REST
framework under ``gunicorn --threads 8`` (one worker process, its threads sharing one
verifier), each in a process of its own.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from authbridge.testing import FakeIssuer

from .conftest import gunicorn, load_example

THREADS = 8
PER_THREAD = 50


def each_user_sees_their_own(issuer: FakeIssuer, url: str) -> None:
    """8 users × 50 requests at once, each with a fresh token of its own user."""
    users = [issuer.make_user() for _ in range(THREADS)]

    def run(index: int) -> list[str]:
        with httpx.Client(base_url=url) as client:
            return [
                client.get(
                    "/me", headers={"Authorization": f"Bearer {issuer.token(users[index])}"}
                ).json()["sub"]
                for _ in range(PER_THREAD)
            ]

    with ThreadPoolExecutor(THREADS) as pool:
        seen = list(pool.map(run, range(THREADS)))
    for index, subs in enumerate(seen):
        assert subs == [users[index]["id"]] * PER_THREAD
    assert issuer.server is not None
    assert issuer.server.requests == 1  # one JWKS fetch for all of them


def test_flask_under_werkzeugs_threaded_server(online_issuer: FakeIssuer) -> None:
    example: Any = load_example("flask")
    server = make_server("127.0.0.1", 0, example.create_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        each_user_sees_their_own(online_issuer, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("framework", "app"),
    [
        ("flask", "app:create_app()"),
        ("django", "app:application"),
        ("django_rest_framework", "app:application"),
    ],
)
def test_under_gunicorn_threads(online_issuer: FakeIssuer, framework: str, app: str) -> None:
    with gunicorn(framework, app, online_issuer.base_url, threads=THREADS) as url:
        each_user_sees_their_own(online_issuer, url)
