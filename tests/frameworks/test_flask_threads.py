"""The Flask layer under a real threaded WSGI server: many users at once, one JWKS fetch."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from werkzeug.serving import make_server

from authbridge.testing import FakeIssuer

from .conftest import load_example

example = load_example("flask")
THREADS = 8
PER_THREAD = 50


def test_threaded_server_answers_each_user_with_their_own_principal(
    online_issuer: FakeIssuer,
) -> None:
    server = make_server("127.0.0.1", 0, example.create_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    users = [online_issuer.make_user() for _ in range(THREADS)]

    def run(index: int) -> list[str]:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_port}") as client:
            return [
                client.get(
                    "/me",
                    headers={"Authorization": f"Bearer {online_issuer.token(users[index])}"},
                ).json()["sub"]
                for _ in range(PER_THREAD)
            ]

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            seen = list(pool.map(run, range(THREADS)))
    finally:
        server.shutdown()
        thread.join(timeout=5)
    for index, subs in enumerate(seen):
        assert subs == [users[index]["id"]] * PER_THREAD
    assert online_issuer.server is not None
    assert online_issuer.server.requests == 1
