"""examples/django against tokens from a real Better Auth server.

The example configures Django's settings on import (one set per process), so the app is
served by a real WSGI server per test: each ``create_app()`` loads the middleware anew,
which builds its verifier from the environment of that test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from werkzeug.serving import make_server

from .conftest import RealIssuers, bearer, load_example, trust

pytestmark = pytest.mark.interop

example = load_example("django")
BEARER_CHALLENGE = 'Bearer realm="authbridge"'


@contextmanager
def serving() -> Iterator[httpx.Client]:
    server = make_server("127.0.0.1", 0, example.create_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_port}") as client:
            yield client
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def client(real_issuers: RealIssuers, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    trust(monkeypatch, real_issuers.main)
    with serving() as test_client:
        yield test_client


def test_a_valid_token(client: httpx.Client, real_issuers: RealIssuers) -> None:
    response = client.get("/me", headers=bearer(real_issuers.token()))
    assert response.status_code == 200
    assert response.json() == {
        "sub": real_issuers.user.id,
        "email": real_issuers.user.email,
        "scopes": ["tasks:read"],
    }
    tasks = client.get("/tasks", headers=bearer(real_issuers.token()))
    assert tasks.json() == {"tasks": [], "owner": real_issuers.user.id}


def test_no_token_is_a_bare_challenge_on_protected_routes_only(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"ok": True}
    response = client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BEARER_CHALLENGE
    assert response.json() == {"detail": "Authentication is required.", "code": "token_missing"}


def test_a_missing_scope(client: httpx.Client, real_issuers: RealIssuers) -> None:
    response = client.post("/tasks/new", headers=bearer(real_issuers.token()))
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert 'scope="tasks:write"' in response.headers["www-authenticate"]


def test_a_forged_token(client: httpx.Client, real_issuers: RealIssuers) -> None:
    response = client.post("/tasks/new", headers=bearer(real_issuers.forged()))
    assert response.status_code == 401
    assert response.json() == {
        "detail": "The access token is invalid or has expired.",
        "code": "invalid_token",
    }
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.headers["cache-control"] == "no-store"


def test_an_expired_token(real_issuers: RealIssuers, monkeypatch: pytest.MonkeyPatch) -> None:
    trust(monkeypatch, real_issuers.short)
    with serving() as client:
        response = client.get("/me", headers=bearer(real_issuers.expired))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_a_malformed_header_and_a_query_token(
    client: httpx.Client, real_issuers: RealIssuers
) -> None:
    assert client.get("/health", headers={"Authorization": "Bearer a b"}).status_code == 400
    both = client.get("/me?access_token=x", headers=bearer(real_issuers.token()))
    assert both.status_code == 400
    assert both.json()["code"] == "invalid_request"
