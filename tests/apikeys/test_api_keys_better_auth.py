"""API keys end to end with a real Better Auth server running ``@better-auth/api-key``: remote
mode, database mode through FastAPI, outages, and what reaches the logs.

The apps are built from settings (``AuthBridge.from_settings``), as a deployment would be.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from apikeys_support import (
    PG_URL,
    ab_outcome,
    ba_outcome,
    build_app,
    config_for,
    database_url,
    open_verifier,
)

from authbridge.apikeys.verifier import ApiKeyVerifier
from authbridge.config import load_settings
from authbridge.errors import ApiKeyEndpointUnavailable, ApiKeyStoreUnavailable, UserBanned
from authbridge.fastapi import AuthBridge
from harness.better_auth import BetterAuthServer, ServerPool

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.interop

TASKS = {"tasks": ["read", "write"]}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, better_auth_module_factory: ServerPool
) -> BetterAuthServer:
    if request.param == "postgres":
        return better_auth_module_factory(DATABASE_URL=PG_URL, APIKEY=1, APIKEY_RATE_LIMIT=0)
    return better_auth_module_factory(APIKEY=1, APIKEY_RATE_LIMIT=0)


def settings_for(server: BetterAuthServer, mode: str, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "BETTER_AUTH_URL": server.url,
        "AUTHBRIDGE_JWKS_URL": server.jwks_url,
        "AUTHBRIDGE_API_KEYS": mode,
    }
    with_database = extra.pop("with_database", False)
    if mode == "database" or with_database:
        values["AUTHBRIDGE_SESSION_DATABASE_URL"] = database_url(server)
        if server.env.get("DB_SCHEMA"):
            values["AUTHBRIDGE_SESSION_TABLES"] = f'{{"schema": "{server.env["DB_SCHEMA"]}"}}'
    values.update(extra)
    return load_settings(None, **values)


def client(server: BetterAuthServer, mode: str, **extra: Any) -> TestClient:
    return TestClient(build_app(AuthBridge.from_settings(settings_for(server, mode, **extra))))


@pytest.fixture(params=["remote", "database"])
def api(request: pytest.FixtureRequest, server: BetterAuthServer) -> Iterator[TestClient]:
    # Remote mode with the database set reads the key's permissions from it.
    with client(server, request.param, with_database=True) as opened:
        yield opened


# ---- both modes through FastAPI -------------------------------------------------------------


def test_a_key_opens_the_routes_its_permissions_allow(
    api: TestClient, server: BetterAuthServer
) -> None:
    user = server.sign_up()
    key = server.create_api_key(user.id, permissions={"tasks": ["read"]})
    headers = {"x-api-key": key.key}
    assert api.get("/me", headers=headers).json() == {"sub": user.id}
    assert api.get("/read", headers=headers).json() == {"sub": user.id}
    refused = api.get("/read-write", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"


def test_refused_keys_get_invalid_api_key(api: TestClient, server: BetterAuthServer) -> None:
    user = server.sign_up()
    disabled = server.create_api_key(user.id)
    server.update_api_key(disabled, enabled=False)
    deleted = server.create_api_key(user.id)
    server.delete_api_key(deleted)
    used_up = server.create_api_key(user.id, remaining=1)
    assert api.get("/me", headers={"x-api-key": used_up.key}).status_code == 200
    for key in (disabled.key, deleted.key, used_up.key, "n" * 64, "short"):
        response = api.get("/me", headers={"x-api-key": key})
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_api_key"
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('ApiKey realm="authbridge"')
        assert 'error="invalid_api_key"' in challenge


def test_a_bearer_and_a_key_together_are_refused(api: TestClient, server: BetterAuthServer) -> None:
    user = server.sign_up()
    key = server.create_api_key(user.id)
    jwt = server.get_jwt(user)
    both = {"x-api-key": key.key, "Authorization": f"Bearer {jwt}"}
    response = api.get("/me", headers=both)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert api.get("/me", headers={"Authorization": f"Bearer {jwt}"}).status_code == 200
    twice = api.get("/me", headers=[("x-api-key", key.key), ("x-api-key", key.key)])
    assert twice.status_code == 400
    query = api.get("/me?access_token=x", headers={"x-api-key": key.key})
    assert query.status_code == 400


def test_answers_vary_with_the_key_header(api: TestClient, server: BetterAuthServer) -> None:
    key = server.create_api_key(server.sign_up().id)
    response = api.get("/me", headers={"x-api-key": key.key})
    assert response.status_code == 200
    assert response.headers["vary"] == "Authorization, x-api-key"
    assert response.headers["cache-control"] == "no-store"


def test_a_custom_header(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(APIKEY=1, APIKEY_HEADER="x-service-key")
    key = server.create_api_key(server.sign_up().id)
    for mode in ("remote", "database"):
        with client(server, mode, AUTHBRIDGE_API_KEY_HEADER="X-Service-Key") as api:
            assert api.get("/me", headers={"x-service-key": key.key}).status_code == 200
            other = api.get("/me", headers={"x-api-key": key.key})
            assert (other.status_code, other.json()["code"]) == (401, "token_missing")


def test_openapi_declares_the_key_header(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    scheme = schema["components"]["securitySchemes"]["apiKeyAuth"]
    assert scheme == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": scheme["description"],
    }
    security = schema["paths"]["/read"]["get"]["security"]
    assert {"apiKeyAuth": ["tasks:read"]} in security
    assert {"bearerAuth": ["tasks:read"]} in security


def test_a_banned_users_key_is_refused(api: TestClient, server: BetterAuthServer) -> None:
    admin, user = server.sign_up(), server.sign_up()
    server.admin_set_role(admin.id, "admin")
    admin = server.sign_in(admin.email)
    # A counted key (never cached): the ban is seen on the next request.
    key = server.create_api_key(user.id, remaining=100)
    assert api.get("/me", headers={"x-api-key": key.key}).status_code == 200
    server.ban_user(admin, user.id)
    response = api.get("/me", headers={"x-api-key": key.key})
    assert response.status_code == 401
    assert response.json()["code"] == "user_banned"


def test_refusals_are_audited_with_a_code_and_never_the_key(
    api: TestClient, server: BetterAuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    user = server.sign_up()
    key = server.create_api_key(user.id)
    server.update_api_key(key, enabled=False)
    with caplog.at_level(logging.DEBUG):
        assert api.get("/me", headers={"x-api-key": key.key}).status_code == 401
    events = [r.audit for r in caplog.records if r.name == "authbridge.audit"]  # type: ignore[attr-defined]
    assert [e["code"] for e in events if e.get("outcome") == "failure"] == ["api_key_disabled"]
    assert key.key not in caplog.text
    assert key.key[:16] not in caplog.text


async def test_the_cache_bound_for_unlimited_keys(server: BetterAuthServer) -> None:
    """Database mode caches a key whose uses nothing counts, for AUTHBRIDGE_API_KEY_CACHE_TTL:
    disabling it takes effect within that bound, and a counted key is never cached."""
    user = server.sign_up()
    unlimited = server.create_api_key(user.id)  # the server's rate limit is off
    counted = server.create_api_key(user.id, remaining=50)
    with client(server, "database", AUTHBRIDGE_API_KEY_CACHE_TTL="1") as api:
        for key in (unlimited, counted):
            assert api.get("/me", headers={"x-api-key": key.key}).status_code == 200
            server.update_api_key(key, enabled=False)
        assert api.get("/me", headers={"x-api-key": unlimited.key}).status_code == 200  # cached
        assert api.get("/me", headers={"x-api-key": counted.key}).status_code == 401
        await asyncio.sleep(1.05)
        assert api.get("/me", headers={"x-api-key": unlimited.key}).status_code == 401


# ---- remote mode -----------------------------------------------------------------------------


async def test_remote_mode_principal_and_one_call_per_request(server: BetterAuthServer) -> None:
    user = server.sign_up()
    key = server.create_api_key(user.id, permissions=TASKS, remaining=10)
    verifier = await open_verifier(server, "remote")
    try:
        principal = await verifier.verify(key.key)
        assert (principal.credential, principal.sub, principal.session_id) == (
            "api_key",
            user.id,
            key.id,
        )
        assert principal.email == user.email
        assert principal.scopes == frozenset()  # get-session carries no permissions
        assert "token" not in principal.claims  # the user only, never session.token
        await verifier.verify(key.key)
    finally:
        await verifier.aclose()
    row = server.api_key_row(key)
    assert row is not None
    assert row["remaining"] == 8  # two verifications, two uses: one call each, no cache


async def test_remote_mode_with_the_database_reads_scopes(server: BetterAuthServer) -> None:
    user = server.sign_up()
    key = server.create_api_key(user.id, permissions=TASKS)
    verifier = await open_verifier(
        server, "remote", database_url=database_url(server), cache_ttl=5.0
    )
    try:
        assert (await verifier.verify(key.key)).scopes == {"tasks:read", "tasks:write"}
    finally:
        await verifier.aclose()


async def test_remote_mode_reports_better_auths_reason(server: BetterAuthServer) -> None:
    user = server.sign_up()
    key = server.create_api_key(user.id, remaining=1)
    twin = server.create_api_key(user.id, remaining=1)
    verifier = await open_verifier(server, "remote")
    try:
        mine = [await ab_outcome(verifier, key.key) for _ in range(3)]
    finally:
        await verifier.aclose()
    theirs = [ba_outcome(server, twin.key) for _ in range(3)]
    assert mine == theirs == ["ok", "USAGE_EXCEEDED", "INVALID_API_KEY"]


# ---- outages -----------------------------------------------------------------------------------


async def test_better_auth_down_is_a_503_in_remote_mode(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(APIKEY=1)
    key = server.create_api_key(server.sign_up().id)
    settings = settings_for(server, "remote")
    server.stop()
    with TestClient(build_app(AuthBridge.from_settings(settings))) as api:
        response = api.get("/me", headers={"x-api-key": key.key})
    assert response.status_code == 503
    assert response.json()["code"] == "api_key_endpoint_unavailable"
    assert "retry-after" in response.headers
    verifier = await open_verifier(server, "remote")
    try:
        with pytest.raises(ApiKeyEndpointUnavailable):
            await verifier.verify(key.key)
    finally:
        await verifier.aclose()


@pytest.mark.postgres
async def test_database_down_is_a_503_in_database_mode(server: BetterAuthServer) -> None:
    settings = load_settings(
        None,
        BETTER_AUTH_URL=server.url,
        AUTHBRIDGE_API_KEYS="database",
        AUTHBRIDGE_SESSION_DATABASE_URL="postgresql://postgres@127.0.0.1:1/none",
        AUTHBRIDGE_SESSION_TIMEOUT="1",
    )
    with TestClient(build_app(AuthBridge.from_settings(settings))) as api:
        response = api.get("/me", headers={"x-api-key": "k" * 64})
    assert response.status_code == 503
    assert response.json()["code"] == "api_key_store_unavailable"


async def test_ban_in_remote_mode(server: BetterAuthServer) -> None:
    admin, user = server.sign_up(), server.sign_up()
    server.admin_set_role(admin.id, "admin")
    admin = server.sign_in(admin.email)
    key = server.create_api_key(user.id)
    server.ban_user(admin, user.id)
    # Better Auth's get-session still answers for a banned user's key; authbridge refuses it.
    assert ba_outcome(server, key.key) == "ok"
    verifier = await open_verifier(server, "remote")
    try:
        with pytest.raises(UserBanned):
            await verifier.verify(key.key)
    finally:
        await verifier.aclose()


async def test_a_store_error_never_shows_the_key(server: BetterAuthServer) -> None:
    verifier = ApiKeyVerifier(
        config_for(server, "database", database_url="postgresql://x@127.0.0.1:1/y")
    )
    try:
        with pytest.raises(ApiKeyStoreUnavailable) as caught:
            await asyncio.wait_for(verifier.verify("s" * 64), 10)
        assert "s" * 16 not in repr(caught.value) + str(caught.value.__cause__)
    finally:
        await verifier.aclose()
