"""examples/django_rest_framework under gunicorn --threads, against tokens from a real Better
Auth server (and FakeIssuer tokens for roles and organization roles, which that server's
tokens do not carry here).

The example configures Django's settings on import (one set per process, and
examples/django has its own), so each test serves it from a gunicorn process of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from authbridge.testing import FakeIssuer

from .conftest import RealIssuers, bearer, gunicorn

pytestmark = pytest.mark.interop

APP = "app:application"
BEARER_CHALLENGE = 'Bearer realm="authbridge"'


@pytest.fixture(scope="module")
def client(real_issuers: RealIssuers) -> Iterator[httpx.Client]:
    with (
        gunicorn("django_rest_framework", APP, real_issuers.main.base_url) as url,
        httpx.Client(base_url=url) as test_client,
    ):
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


def test_no_token_is_a_401_challenge_not_drfs_403(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"ok": True}
    for path in ("/me", "/tasks", "/admin", "/org/settings"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == BEARER_CHALLENGE
        assert response.headers["cache-control"] == "no-store"
        assert response.json() == {"detail": "Authentication is required.", "code": "token_missing"}


def test_a_missing_scope(client: httpx.Client, real_issuers: RealIssuers) -> None:
    response = client.post("/tasks/new", headers=bearer(real_issuers.token()))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "The access token lacks the required scope or role.",
        "code": "insufficient_scope",
    }
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="tasks:write"' in response.headers["www-authenticate"]


def test_a_forged_token(client: httpx.Client, real_issuers: RealIssuers) -> None:
    response = client.post("/tasks/new", headers=bearer(real_issuers.forged()))
    assert response.status_code == 401
    assert response.json() == {
        "detail": "The access token is invalid or has expired.",
        "code": "invalid_token",
    }
    assert response.headers["www-authenticate"] == (
        'Bearer realm="authbridge", error="invalid_token", '
        'error_description="The access token is invalid or has expired"'
    )
    assert response.headers["cache-control"] == "no-store"


def test_an_expired_token(real_issuers: RealIssuers) -> None:
    with (
        gunicorn("django_rest_framework", APP, real_issuers.short.base_url) as url,
        httpx.Client(base_url=url) as client,
    ):
        response = client.get("/me", headers=bearer(real_issuers.expired))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_malformed_header_and_a_query_token(
    client: httpx.Client, real_issuers: RealIssuers
) -> None:
    malformed = client.get("/me", headers={"Authorization": "Bearer a b"})
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "invalid_request"
    assert 'error="invalid_request"' in malformed.headers["www-authenticate"]
    both = client.get("/me?access_token=x", headers=bearer(real_issuers.token()))
    assert both.status_code == 400
    assert both.json()["code"] == "invalid_request"


def test_roles_and_organization_roles(online_issuer: FakeIssuer) -> None:
    user = online_issuer.make_user()
    with (
        gunicorn("django_rest_framework", APP, online_issuer.base_url) as url,
        httpx.Client(base_url=url) as client,
    ):

        def get(path: str, **claims: object) -> httpx.Response:
            return client.get(path, headers=bearer(online_issuer.token(user, **claims)))

        assert get("/admin", role="admin").json() == {"admin": user["id"]}
        assert get("/admin", role="user").status_code == 403
        owner = get("/org/settings", activeOrganizationId="org-1", organizationRole="owner")
        assert owner.json() == {"organization": "org-1"}
        member = get("/org/settings", activeOrganizationId="org-1", organizationRole="member")
        assert member.status_code == 403
        assert member.json()["code"] == "insufficient_scope"
        no_organization = get("/org/settings", organizationRole="owner")
        assert no_organization.status_code == 403
        assert no_organization.json()["code"] == "organization_required"
