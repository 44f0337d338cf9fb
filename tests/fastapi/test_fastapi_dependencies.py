"""Optional users, scopes (all/any), roles, Security scopes, OpenAPI and verify-once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from starlette.requests import HTTPConnection

from authbridge.errors import SessionInvalid
from authbridge.fastapi import (
    SCHEME_NAME,
    AuthBridge,
    CurrentUser,
    OptionalUser,
    require_roles,
    require_scopes,
)
from authbridge.principal import Principal
from authbridge.testing import FakeIssuer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- optional users --------------------------------------------------------------------------


async def test_optional_user_is_none_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/maybe")
    assert response.status_code == 200
    assert response.json() == {"sub": None}
    assert "cache-control" not in response.headers  # nobody was authenticated...
    assert response.headers["vary"] == "Authorization"  # ...but the answer depends on it


async def test_optional_user_with_a_good_token(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await client.get("/maybe", headers=bearer(issuer.token()))
    assert response.json() == {"sub": issuer.user["id"]}
    assert response.headers["cache-control"] == "no-store"


async def test_optional_user_still_refuses_a_bad_token(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await client.get("/maybe", headers=bearer(FakeIssuer(issuer.base_url).token()))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_optional_user_still_refuses_a_malformed_header(client: httpx.AsyncClient) -> None:
    response = await client.get("/maybe", headers={"Authorization": "Bearer "})
    assert response.status_code == 400


async def test_optional_user_ignores_other_schemes(client: httpx.AsyncClient) -> None:
    response = await client.get("/maybe", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.json() == {"sub": None}


# --- scopes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "scope", "status"),
    [
        ("/read", "tasks:read", 200),
        ("/read", "tasks:write", 403),
        ("/read", "", 403),
        ("/read-write", "tasks:read tasks:write", 200),
        ("/read-write", "tasks:write tasks:read other", 200),
        ("/read-write", "tasks:read", 403),
        ("/read-or-write", "tasks:write", 200),
        ("/read-or-write", "tasks:read", 200),
        ("/read-or-write", "other", 403),
        ("/write-security", "tasks:write", 200),
        ("/write-security", "tasks:read", 403),
    ],
)
async def test_scope_semantics(
    client: httpx.AsyncClient, issuer: FakeIssuer, path: str, scope: str, status: int
) -> None:
    response = await client.get(path, headers=bearer(issuer.token(scope=scope)))
    assert response.status_code == status
    if status == 200:
        assert response.json() == {"sub": issuer.user["id"]}


async def test_scopes_may_come_as_a_list_claim(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = issuer.token(scopes=["tasks:read", "tasks:write"])
    assert (await client.get("/read-write", headers=bearer(token))).status_code == 200


def test_scope_names_are_checked_when_declared() -> None:
    for bad in ("", "two words", 'quote"d', "back\\slash"):
        with pytest.raises(ValueError, match="scope"):
            require_scopes(bad)
    with pytest.raises(ValueError, match="at least one"):
        require_scopes()
    with pytest.raises(ValueError, match="role"):
        require_roles("a b")


# --- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [
        ("/admin", "admin", 200),
        ("/admin", "user,admin", 200),  # Better Auth's admin plugin joins roles with commas
        ("/admin", "user", 403),
        ("/admin-auditor", "admin,auditor", 200),
        ("/admin-auditor", "admin", 403),
    ],
)
async def test_role_semantics(
    client: httpx.AsyncClient, issuer: FakeIssuer, path: str, role: str, status: int
) -> None:
    response = await client.get(path, headers=bearer(issuer.token(role=role)))
    assert response.status_code == status


async def test_a_route_with_role_and_scope_needs_both(
    client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    both = issuer.token(role="admin", scope="tasks:read")
    assert (await client.get("/admin-reader", headers=bearer(both))).status_code == 200
    role_only = issuer.token(role="admin")
    assert (await client.get("/admin-reader", headers=bearer(role_only))).status_code == 403
    scope_only = issuer.token(scope="tasks:read")
    assert (await client.get("/admin-reader", headers=bearer(scope_only))).status_code == 403


async def test_no_credentials_on_guarded_routes_is_401(client: httpx.AsyncClient) -> None:
    for path in ("/read", "/admin", "/admin-reader", "/write-security"):
        response = await client.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="authbridge"'


# --- verify once per request ---------------------------------------------------------------


async def test_a_request_is_verified_once_even_with_several_dependencies(
    issuer: FakeIssuer,
) -> None:
    bridge = AuthBridge(issuer.verifier())
    calls: list[str] = []
    real_verify = bridge.verifier.verify

    async def counting_verify(token: str) -> Any:
        calls.append(token)
        return await real_verify(token)

    bridge.verifier.verify = counting_verify  # type: ignore[method-assign]
    bridge.verifier.verify_cached = lambda token: None  # type: ignore[method-assign]
    app = FastAPI()
    bridge.install(app)

    @app.get("/many", dependencies=[Depends(require_roles("admin"))])
    async def many(
        user: CurrentUser,
        maybe: OptionalUser,
        reader: Any = Depends(require_scopes("tasks:read")),  # noqa: B008
    ) -> dict[str, bool]:
        return {"same": user is maybe is reader}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        token = issuer.token(role="admin", scope="tasks:read")
        response = await client.get("/many", headers=bearer(token))
        assert response.json() == {"same": True}
        assert len(calls) == 1
        bad = FakeIssuer(issuer.base_url).token()
        assert (await client.get("/many", headers=bearer(bad))).status_code == 401
        assert len(calls) == 2


async def test_the_cache_fast_path_skips_full_verification(issuer: FakeIssuer) -> None:
    bridge = AuthBridge(issuer.verifier())
    calls: list[str] = []
    real_verify = bridge.verifier.verify

    async def counting_verify(token: str) -> Any:
        calls.append(token)
        return await real_verify(token)

    bridge.verifier.verify = counting_verify  # type: ignore[method-assign]
    app = FastAPI()
    bridge.install(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return user.sub

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        token = issuer.token()
        for _ in range(5):
            assert (await client.get("/me", headers=bearer(token))).json() == issuer.user["id"]
    assert calls == [token]


# --- OpenAPI -------------------------------------------------------------------------------


def test_openapi_declares_the_bearer_scheme_and_scopes(app: FastAPI) -> None:
    schema = app.openapi()
    assert schema["components"]["securitySchemes"] == {
        SCHEME_NAME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": schema["components"]["securitySchemes"][SCHEME_NAME]["description"],
        }
    }
    paths = schema["paths"]
    assert "security" not in paths["/public"]["get"]
    assert paths["/me"]["get"]["security"] == [{SCHEME_NAME: []}]
    assert paths["/read"]["get"]["security"] == [{SCHEME_NAME: ["tasks:read"]}]
    assert paths["/read-write"]["get"]["security"] == [{SCHEME_NAME: ["tasks:read", "tasks:write"]}]
    assert paths["/write-security"]["get"]["security"] == [{SCHEME_NAME: ["tasks:write"]}]
    assert paths["/admin"]["get"]["security"] == [{SCHEME_NAME: []}]
    assert paths["/admin-reader"]["get"]["security"] == [{SCHEME_NAME: ["tasks:read"]}]
    assert paths["/maybe"]["get"]["security"] == [{SCHEME_NAME: []}, {}]  # anonymous allowed


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert SCHEME_NAME in response.json()["components"]["securitySchemes"]


# --- without install ----------------------------------------------------------------------


async def test_lifespan_only_still_answers_with_rfc6750_status_and_headers(
    issuer: FakeIssuer,
) -> None:
    bridge = AuthBridge(issuer.verifier())
    app = FastAPI(lifespan=bridge.lifespan)

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return user.sub

    transport = httpx.ASGITransport(app=app)
    async with (
        bridge.lifespan(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        response = await client.get("/me")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="authbridge"'
        assert response.json() == {"detail": "Authentication is required."}
        ok = await client.get("/me", headers=bearer(issuer.token()))
        assert ok.json() == issuer.user["id"]


async def test_a_missing_bridge_is_a_clear_configuration_error() -> None:
    app = FastAPI()

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return user.sub

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(RuntimeError, match="install"):
            await client.get("/me", headers=bearer("a.b.c"))


def test_realm_is_checked(issuer: FakeIssuer) -> None:
    with pytest.raises(ValueError, match="realm"):
        AuthBridge(issuer.verifier(), realm='bad"realm')
    bridge = AuthBridge(issuer.verifier(), realm="tasks api")
    assert bridge.realm == "tasks api"


# --- the session-cookie hook ---------------------------------------------------------------


class CookieSessions:
    """A stand-in for the later session-cookie authenticator: a fixed cookie value."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.calls = 0

    async def authenticate(self, connection: HTTPConnection) -> Principal | None:
        self.calls += 1
        value = connection.cookies.get("session")
        if value is None:
            return None
        if value != "good":
            raise SessionInvalid()
        return self.principal


async def test_the_sessions_hook_is_used_only_without_a_header(issuer: FakeIssuer) -> None:
    cookie_user = Principal(sub="cookie-user", issuer="https://x", credential="session")
    sessions = CookieSessions(cookie_user)
    bridge = AuthBridge(issuer.verifier(), sessions=sessions)
    app = FastAPI()
    bridge.install(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return user.sub

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        client.cookies.set("session", "good")
        assert (await client.get("/me")).json() == "cookie-user"
        client.cookies.set("session", "forged")
        bad = await client.get("/me")
        assert bad.status_code == 401
        assert 'error="invalid_token"' in bad.headers["www-authenticate"]
        client.cookies.clear()
        assert (await client.get("/me")).status_code == 401
        client.cookies.set("session", "good")
        calls = sessions.calls
        response = await client.get("/me", headers=bearer(issuer.token()))
        assert response.json() == issuer.user["id"]  # the header wins; cookie not consulted
        assert sessions.calls == calls


async def test_router_level_guards(issuer: FakeIssuer) -> None:
    bridge = AuthBridge(issuer.verifier())
    app = FastAPI()
    router = APIRouter(prefix="/reports", dependencies=[Depends(require_scopes("reports:read"))])

    @router.get("/daily")
    async def daily(user: CurrentUser) -> str:
        return user.sub

    app.include_router(router)
    bridge.install(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        allowed = issuer.token(scope="reports:read")
        assert (await client.get("/reports/daily", headers=bearer(allowed))).status_code == 200
        other = issuer.token(scope="tasks:read")
        assert (await client.get("/reports/daily", headers=bearer(other))).status_code == 403
        assert (await client.get("/reports/daily")).status_code == 401
    security = app.openapi()["paths"]["/reports/daily"]["get"]["security"]
    assert security == [{SCHEME_NAME: ["reports:read"]}]
