"""examples/starlette and examples/litestar against tokens from a real Better Auth server:
the same app, the same answers, each test once per framework."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import ModuleType

import httpx
import pytest

from .conftest import RealIssuers, bearer, load_example, trust

pytestmark = pytest.mark.interop

EXAMPLES = {framework: load_example(framework) for framework in ("starlette", "litestar")}
BEARER_CHALLENGE = 'Bearer realm="authbridge"'


def serve(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://example")  # type: ignore[arg-type]


@pytest.fixture(params=list(EXAMPLES))
def example(request: pytest.FixtureRequest) -> ModuleType:
    return EXAMPLES[request.param]


@pytest.fixture
async def client(
    example: ModuleType, real_issuers: RealIssuers, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    trust(monkeypatch, real_issuers.main)
    async with serve(example.create_app()) as test_client:
        yield test_client


async def test_a_valid_token(client: httpx.AsyncClient, real_issuers: RealIssuers) -> None:
    response = await client.get("/me", headers=bearer(real_issuers.token()))
    assert response.status_code == 200
    assert response.json()["sub"] == real_issuers.user.id
    assert response.json()["scopes"] == ["tasks:read"]
    tasks = await client.get("/tasks", headers=bearer(real_issuers.token()))
    assert tasks.json()["owner"] == real_issuers.user.id


async def test_no_token_is_a_bare_challenge_on_protected_routes_only(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/health")).json() == {"ok": True}
    response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BEARER_CHALLENGE
    assert response.json()["code"] == "token_missing"


async def test_a_missing_scope(client: httpx.AsyncClient, real_issuers: RealIssuers) -> None:
    response = await client.post("/tasks", headers=bearer(real_issuers.token()))
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="tasks:write"' in response.headers["www-authenticate"]


async def test_a_forged_token(client: httpx.AsyncClient, real_issuers: RealIssuers) -> None:
    response = await client.post("/tasks", headers=bearer(real_issuers.forged()))
    assert response.status_code == 401
    assert response.json() == {
        "detail": "The access token is invalid or has expired.",
        "code": "invalid_token",
    }
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.headers["cache-control"] == "no-store"


async def test_an_expired_token(
    example: ModuleType, real_issuers: RealIssuers, monkeypatch: pytest.MonkeyPatch
) -> None:
    trust(monkeypatch, real_issuers.short)
    async with serve(example.create_app()) as client:
        response = await client.get("/me", headers=bearer(real_issuers.expired))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_malformed_header_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"Authorization": "Bearer a b"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
