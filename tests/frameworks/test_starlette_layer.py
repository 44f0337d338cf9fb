"""authbridge.starlette beyond the example: roles, the backend in Starlette's own middleware,
the token-cache fast path, a query token next to a cached one, and WebSocket refusals."""

from __future__ import annotations

import warnings

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from authbridge import Verifier
from authbridge.starlette import AuthBridgeBackend, authbridge_middleware, requires
from authbridge.testing import FakeIssuer

from .conftest import bearer, keys_outage

# Starlette's TestClient drives WebSockets; its notice about httpx is not ours to act on.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient


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


async def whoami(websocket: WebSocket) -> None:  # public: the middleware alone
    await websocket.accept()
    await websocket.send_json({"user": websocket.user.is_authenticated})
    await websocket.close()


@requires("chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.user.identity})
    await websocket.close()


SOCKETS = [WebSocketRoute("/ws", whoami), WebSocketRoute("/ws-chat", chat)]


def _closed(
    client: TestClient, path: str, headers: dict[str, str], subprotocols: list[str] | None = None
) -> tuple[int, str, str | None]:
    """(close code, reason, accepted subprotocol) of a socket the server accepts, then closes.

    The test session raises ``WebSocketDisconnect`` on entry if the server closes before
    accepting (the handshake refused: a browser would see 1006); entering proves the accept.
    The headers are copied: the test client adds its handshake headers to the dict it gets."""
    with client.websocket_connect(path, headers=dict(headers), subprotocols=subprotocols) as socket:
        with pytest.raises(WebSocketDisconnect) as caught:
            socket.receive_json()
        return caught.value.code, caught.value.reason, socket.accepted_subprotocol


def test_websockets_are_refused_as_the_fastapi_layer_refuses_them() -> None:
    """Accepted, then closed 1008 with the public code: by the middleware (a forged token),
    by ``requires`` (no token, no scope)."""
    issuer = FakeIssuer()
    app = Starlette(routes=SOCKETS, middleware=[authbridge_middleware(issuer.verifier())])
    scoped = bearer(issuer.token(scope="chat"))
    forged = bearer(issuer.token()[:-4] + "AAAA")
    with TestClient(app) as client:
        for _ in range(2):  # verified, then cached
            with client.websocket_connect("/ws-chat", headers=scoped) as socket:
                assert socket.receive_json() == {"sub": issuer.user["id"]}
            assert _closed(client, "/ws-chat", bearer(issuer.token())) == (
                1008,
                "insufficient_scope",
                None,
            )
        with client.websocket_connect("/ws") as socket:  # anonymous, on a public route
            assert socket.receive_json() == {"user": False}
        assert _closed(client, "/ws-chat", {}) == (1008, "token_missing", None)
        for path in ("/ws", "/ws-chat"):  # the middleware refuses a forged token anywhere
            assert _closed(client, path, forged) == (1008, "invalid_token", None)
            # a browser that offered "bearer" gets it back, so its onclose sees the code
            offered = ["bearer", "chat"]
            assert _closed(client, path, forged, offered) == (1008, "invalid_token", "bearer")
        assert _closed(client, "/ws-chat", {}, ["bearer"]) == (1008, "token_missing", "bearer")


def test_a_websocket_refused_for_an_outage_closes_1013() -> None:
    """The issuer's JWKS answers 503: keys_unavailable, 1013 (try again later)."""
    with keys_outage() as (issuer, verifier):
        app = Starlette(routes=SOCKETS, middleware=[authbridge_middleware(verifier)])
        with TestClient(app) as client:
            token = bearer(issuer.token(scope="chat"))
            assert _closed(client, "/ws", token) == (1013, "keys_unavailable", None)


def test_requires_on_a_sync_websocket_endpoint_is_a_type_error() -> None:
    def sync_socket(websocket: WebSocket) -> None:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="is not async"):
        requires("chat")(sync_socket)


@requires()
async def me(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.identity, "auth": request.auth.scopes})


@requires()
def me_sync(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.user.display_name})


async def test_requires_with_no_scope_verified_then_cached_and_anonymous() -> None:
    """``requires()`` with ``request`` as the only parameter (the guard's short path): the
    same answers for a token verified, then served from the cache, and none without one."""
    issuer = FakeIssuer()
    routes = [Route("/me", me), Route("/me-sync", me_sync)]
    app = Starlette(routes=routes, middleware=[authbridge_middleware(issuer.verifier())])
    token = issuer.token(scope="a b")
    async with client(app) as http:
        for _ in range(2):  # verified, then cached
            answer = await http.get("/me", headers=bearer(token))
            body = answer.json()
            assert body["sub"] == issuer.user["id"]
            assert body["auth"][0] == "authenticated"
            assert sorted(body["auth"][1:]) == ["a", "b"]  # the token's scopes, in any order
            synced = await http.get("/me-sync", headers=bearer(token))
            assert synced.json() == {"sub": issuer.user["name"]}
        for path in ("/me", "/me-sync"):
            missing = await http.get(path)
            assert missing.status_code == 401
            assert missing.headers["www-authenticate"] == 'Bearer realm="authbridge"'
            assert missing.json()["code"] == "token_missing"


async def test_requires_finds_request_anywhere_in_the_arguments() -> None:
    """An endpoint with more parameters than ``request`` (a method, a wrapper's extra
    argument): the guard finds it by position or by keyword."""
    issuer = FakeIssuer()
    verifier = issuer.verifier()
    principal = await verifier.verify(issuer.token(scope="chat"))
    from authbridge.starlette import PrincipalUser

    @requires("chat")
    async def endpoint(prefix: str, request: Request) -> str:
        return prefix + request.user.identity

    @requires("other")
    def refused(prefix: str, request: Request) -> str:
        raise AssertionError("never called")

    def request_for(user: object) -> Request:
        return Request({"type": "http", "headers": [], "user": user, "authbridge.realm": "r"})

    ok = request_for(PrincipalUser(principal))
    assert await endpoint("u:", ok) == "u:" + principal.sub
    assert await endpoint("u:", request=ok) == "u:" + principal.sub
    answer = refused("u:", request=ok)
    assert isinstance(answer, JSONResponse)
    assert answer.status_code == 403
    assert answer.headers["www-authenticate"].startswith('Bearer realm="r", error="insufficient')
    anonymous = await endpoint("u:", request_for(None))
    assert isinstance(anonymous, JSONResponse)
    assert anonymous.status_code == 401


async def test_a_cached_token_sent_twice_is_refused() -> None:
    """Two ``Authorization`` headers are two credentials, even when each is a cached token:
    the middleware's inlined fast path leaves them to the full path (400)."""
    issuer = FakeIssuer()
    verifier = issuer.verifier()
    token = issuer.token(role="admin")
    await verifier.verify(token)  # cached
    app = Starlette(routes=ROUTES, middleware=[authbridge_middleware(verifier)])
    twice = [("authorization", f"Bearer {token}"), ("authorization", f"Bearer {token}")]
    async with client(app) as http:
        assert (await http.get("/admin", headers=bearer(token))).status_code == 200
        answer = await http.get("/admin", headers=twice)
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_request"
