"""authbridge.starlette beyond the example: roles, the backend in Starlette's own middleware,
the token-cache fast path and a query token next to a cached one."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from authbridge import Verifier
from authbridge.starlette import AuthBridgeBackend, authbridge_middleware, requires
from authbridge.testing import FakeIssuer

from .conftest import bearer


@requires(roles=("admin", "owner"))
async def admin(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity, "auth": request.auth.scopes})


@requires("reports:export")
def export(request: Request) -> JSONResponse:  # a sync endpoint
    return JSONResponse({"ok": True})


ROUTES = [Route("/admin", admin), Route("/export", export)]


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")


async def test_roles_and_sync_endpoints() -> None:
    issuer = FakeIssuer()
    app = Starlette(routes=ROUTES, middleware=[authbridge_middleware(issuer.verifier())])
    async with client(app) as http:
        admin_token = issuer.token(role="admin", scope="reports:export")
        answer = await http.get("/admin", headers=bearer(admin_token))
        assert answer.json() == {
            "sub": issuer.user["id"],
            "auth": ["authenticated", "reports:export"],
        }
        user = await http.get("/admin", headers=bearer(issuer.token(role="user")))
        assert user.status_code == 403
        assert user.headers["www-authenticate"] == (
            'Bearer realm="authbridge", error="insufficient_scope", '
            'error_description="The access token lacks the required scope or role"'
        )  # role names are not advertised as scopes
        assert (await http.get("/export", headers=bearer(admin_token))).json() == {"ok": True}
        assert (await http.get("/export", headers=bearer(issuer.token()))).status_code == 403


async def test_a_cached_token_next_to_a_query_token_is_still_ambiguous() -> None:
    issuer = FakeIssuer()
    verifier = issuer.verifier()
    token = issuer.token(role="admin")
    await verifier.verify(token)  # cached
    app = Starlette(routes=ROUTES, middleware=[authbridge_middleware(verifier)])
    async with client(app) as http:
        answer = await http.get("/admin?access_token=x", headers=bearer(token))
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_request"


async def test_the_backend_in_starlettes_own_middleware(online_issuer: FakeIssuer) -> None:
    backend = AuthBridgeBackend(Verifier.from_env(), realm="tasks")
    middleware = [Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)]
    app = Starlette(routes=ROUTES, middleware=middleware)
    async with client(app) as http:
        ok = await http.get("/admin", headers=bearer(online_issuer.token(role="owner")))
        assert ok.status_code == 200
        forged = online_issuer.token(role="owner")[:-4] + "AAAA"
        refused = await http.get("/admin", headers=bearer(forged))
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith(
            'Bearer realm="tasks", error="invalid_token"'
        )
        missing = await http.get("/admin")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="tasks"'
