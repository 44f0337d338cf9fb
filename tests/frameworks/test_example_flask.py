"""examples/flask against tokens from a real Better Auth server."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from .conftest import RealIssuers, bearer, load_example, trust

pytestmark = pytest.mark.interop

example = load_example("flask")
BEARER_CHALLENGE = 'Bearer realm="authbridge"'


@pytest.fixture
def client(real_issuers: RealIssuers, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    trust(monkeypatch, real_issuers.main)
    return example.create_app().test_client()


def test_a_valid_token(client: FlaskClient, real_issuers: RealIssuers) -> None:
    response = client.get("/me", headers=bearer(real_issuers.token()))
    assert response.status_code == 200
    assert response.json == {
        "sub": real_issuers.user.id,
        "email": real_issuers.user.email,
        "scopes": ["tasks:read"],
    }
    tasks = client.get("/tasks", headers=bearer(real_issuers.token()))
    assert tasks.json == {"tasks": [], "owner": real_issuers.user.id}


def test_no_token_is_a_bare_challenge_on_protected_routes_only(client: FlaskClient) -> None:
    assert client.get("/health").json == {"ok": True}
    response = client.get("/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == BEARER_CHALLENGE
    assert response.json == {"detail": "Authentication is required.", "code": "token_missing"}


def test_a_missing_scope(client: FlaskClient, real_issuers: RealIssuers) -> None:
    response = client.post("/tasks", headers=bearer(real_issuers.token()))
    assert response.status_code == 403
    assert response.json is not None
    assert response.json["code"] == "insufficient_scope"
    assert 'scope="tasks:write"' in response.headers["WWW-Authenticate"]


def test_a_forged_token(client: FlaskClient, real_issuers: RealIssuers) -> None:
    response = client.post("/tasks", headers=bearer(real_issuers.forged()))
    assert response.status_code == 401
    assert response.json == {
        "detail": "The access token is invalid or has expired.",
        "code": "invalid_token",
    }
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.headers["Cache-Control"] == "no-store"


def test_an_expired_token(real_issuers: RealIssuers, monkeypatch: pytest.MonkeyPatch) -> None:
    trust(monkeypatch, real_issuers.short)
    client = example.create_app().test_client()
    response = client.get("/me", headers=bearer(real_issuers.expired))
    assert response.status_code == 401
    assert response.json is not None
    assert response.json["code"] == "invalid_token"


def test_a_malformed_header_and_a_query_token(
    client: FlaskClient, real_issuers: RealIssuers
) -> None:
    assert client.get("/me", headers={"Authorization": "Bearer a b"}).status_code == 400
    both = client.get("/me?access_token=x", headers=bearer(real_issuers.token()))
    assert both.status_code == 400
    assert both.json is not None
    assert both.json["code"] == "invalid_request"
