"""``require_scopes(..., credentials=(...))``: scopes checked only for some credential kinds
(an API key held to its permissions while signed-in users pass), checked at declaration, and
listed in OpenAPI only on the security schemes they apply to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from authbridge.fastapi import AuthBridge, CurrentUser, require_scopes
from authbridge.fastapi.openapi import declare_guard_scopes
from authbridge.principal import Principal
from authbridge.testing import FakeIssuer, override_user

key_write = require_scopes("tasks:write", credentials=("api_key",))
session_read = require_scopes("tasks:read", credentials=("session", "api_key"))
everyone_read = require_scopes("tasks:read")


def build(bridge: AuthBridge) -> FastAPI:
    app = FastAPI()
    bridge.install(app)

    @app.post("/tasks", dependencies=[Depends(key_write)])
    async def create(user: CurrentUser) -> dict[str, Any]:
        return {"sub": user.sub}

    @app.get("/tasks", dependencies=[Depends(session_read)])
    async def read(user: CurrentUser) -> dict[str, Any]:
        return {"sub": user.sub}

    @app.get("/everyone", dependencies=[Depends(everyone_read)])
    async def everyone(user: CurrentUser) -> dict[str, Any]:
        return {"sub": user.sub}

    return app


@pytest.fixture
async def setup() -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, FakeIssuer]]:
    issuer = FakeIssuer()
    app = build(AuthBridge(issuer.verifier()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield app, client, issuer


def key(*scopes: str, credential: str = "api_key") -> Principal:
    return Principal(
        sub="u1",
        issuer="better-auth-session",
        scopes=frozenset(scopes),
        credential=credential,  # type: ignore[arg-type]
    )


async def test_a_jwt_without_the_scope_passes_a_key_only_guard(
    setup: tuple[FastAPI, httpx.AsyncClient, FakeIssuer],
) -> None:
    _, client, issuer = setup
    token = issuer.token()  # no scope at all
    response = await client.post("/tasks", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.json()) == (200, {"sub": issuer.user["id"]})
    # A guard without credentials= still holds the JWT to its scopes.
    everyone = await client.get("/everyone", headers={"Authorization": f"Bearer {token}"})
    assert everyone.status_code == 403
    assert everyone.json()["code"] == "insufficient_scope"


async def test_a_bad_token_is_still_401_before_any_scope(
    setup: tuple[FastAPI, httpx.AsyncClient, FakeIssuer],
) -> None:
    _, client, issuer = setup
    forged = FakeIssuer(issuer.base_url).token()
    response = await client.post("/tasks", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("principal", "path", "method", "status"),
    [
        (key("tasks:read"), "/tasks", "POST", 403),  # a read-only key cannot write
        (key("tasks:read", "tasks:write"), "/tasks", "POST", 200),
        (key(), "/tasks", "GET", 403),  # a key with no permissions (unknown) reads nothing
        (key("tasks:read"), "/tasks", "GET", 200),
        (key(credential="session"), "/tasks", "POST", 200),  # the guard is the key's only
        (key(credential="session"), "/tasks", "GET", 403),  # this one names sessions too
        (key("tasks:read", credential="session"), "/tasks", "GET", 200),
        (key(credential="jwt"), "/tasks", "GET", 200),
    ],
)
async def test_scopes_apply_to_the_named_credential_kinds(
    setup: tuple[FastAPI, httpx.AsyncClient, FakeIssuer],
    principal: Principal,
    path: str,
    method: str,
    status: int,
) -> None:
    app, client, _ = setup
    with override_user(app, principal):
        response = await client.request(method, path)
    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "insufficient_scope"


def test_credential_kinds_are_checked_when_declared() -> None:
    with pytest.raises(ValueError, match="'apikey'"):
        require_scopes("tasks:read", credentials=("apikey",))
    with pytest.raises(ValueError, match="tuple"):
        require_scopes("tasks:read", credentials="api_key")
    with pytest.raises(ValueError, match="no credential kind"):
        require_scopes("tasks:read", credentials=())
    guard = require_scopes("tasks:read", credentials=["api_key", "jwt"])
    assert guard.credentials == frozenset({"api_key", "jwt"})
    assert "api_key, jwt" in repr(guard)


async def test_openapi_lists_the_scopes_on_the_schemes_they_apply_to(
    setup: tuple[FastAPI, httpx.AsyncClient, FakeIssuer],
) -> None:
    app, _, _ = setup
    # As AuthBridge.install does with API keys on: the apiKey scheme next to the bearer.
    app.openapi = FastAPI.openapi.__get__(app)  # type: ignore[method-assign]
    declare_guard_scopes(app, api_key_header="x-api-key")
    paths = app.openapi()["paths"]
    assert paths["/tasks"]["post"]["security"] == [
        {"bearerAuth": []},
        {"apiKeyAuth": ["tasks:write"]},
    ]
    assert paths["/tasks"]["get"]["security"] == [
        {"bearerAuth": ["tasks:read"]},  # a session token comes as a bearer too
        {"apiKeyAuth": ["tasks:read"]},
    ]
    assert paths["/everyone"]["get"]["security"] == [
        {"bearerAuth": ["tasks:read"]},
        {"apiKeyAuth": ["tasks:read"]},
    ]
