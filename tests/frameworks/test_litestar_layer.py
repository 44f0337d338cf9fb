"""authbridge.litestar beyond the example: opt=required(...) checked by the middleware, roles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient

from authbridge.litestar import AuthBridgePlugin, required, requires
from authbridge.testing import FakeIssuer

from .conftest import bearer, keys_outage


@get("/export", opt=required("reports:export"))
async def export(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"sub": request.user.sub}


@get("/admin", guards=[requires(roles=("admin", "owner"))])
async def admin() -> dict[str, bool]:
    return {"ok": True}


async def test_opt_required_and_role_guards() -> None:
    issuer = FakeIssuer()
    app = Litestar(route_handlers=[export, admin], plugins=[AuthBridgePlugin(issuer.verifier())])
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        scoped = issuer.token(scope="reports:export", role="owner")
        assert (await http.get("/export", headers=bearer(scoped))).json() == {
            "sub": issuer.user["id"]
        }
        unscoped = await http.get("/export", headers=bearer(issuer.token()))
        assert unscoped.status_code == 403
        assert 'scope="reports:export"' in unscoped.headers["www-authenticate"]
        anonymous = await http.get("/export")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="authbridge"'
        assert (await http.get("/admin", headers=bearer(scoped))).status_code == 200
        assert (await http.get("/admin", headers=bearer(issuer.token()))).status_code == 403


async def test_the_cached_path_answers_as_the_full_one() -> None:
    """A token the verifier has cached takes the middleware's hot path: the same checks."""
    issuer = FakeIssuer()
    app = Litestar(route_handlers=[export, admin], plugins=[AuthBridgePlugin(issuer.verifier())])
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        unscoped = bearer(issuer.token())
        for _ in range(2):  # verified, then cached
            refused = await http.get("/export", headers=unscoped)
            assert refused.status_code == 403
            assert 'scope="reports:export"' in refused.headers["www-authenticate"]
        # a query token next to a cached header token is still ambiguous
        ambiguous = await http.get("/export?access_token=x", headers=unscoped)
        assert ambiguous.status_code == 400
        assert ambiguous.json()["code"] == "invalid_request"
        forged = await http.get("/export", headers=bearer(issuer.token()[:-4] + "AAAA"))
        assert forged.status_code == 401
        assert forged.json()["code"] == "invalid_token"


@websocket("/ws-opt", opt=required("chat"))
async def chat_opt(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_json({"sub": socket.user.sub})
    await socket.close()


@websocket("/ws-guard", guards=[requires("chat")])
async def chat_guard(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_json({"sub": socket.user.sub})
    await socket.close()


def _closed(
    client: TestClient[Any],
    path: str,
    headers: dict[str, str],
    subprotocols: list[str] | None = None,
) -> tuple[int, str, str | None]:
    """(close code, reason, accepted subprotocol) of a socket the server accepts, then closes.

    Litestar's test session raises ``WebSocketDisconnect`` on entry if the server closes
    before accepting (the handshake refused: a browser would see 1006); entering proves the
    accept."""
    with client.websocket_connect(path, headers=headers, subprotocols=subprotocols) as socket:
        with pytest.raises(WebSocketDisconnect) as caught:
            socket.receive_json()
        return caught.value.code, caught.value.detail, socket.accepted_subprotocol


def test_websockets_get_the_principal_and_refusals() -> None:
    """The middleware's websocket path: opt=required() and the guard, verified then cached.
    A refusal is the FastAPI layer's: accepted, then closed 1008 with the public code."""
    issuer = FakeIssuer()
    app = Litestar(
        route_handlers=[chat_opt, chat_guard], plugins=[AuthBridgePlugin(issuer.verifier())]
    )
    scoped = bearer(issuer.token(scope="chat"))
    unscoped = bearer(issuer.token())
    forged = bearer(issuer.token()[:-4] + "AAAA")
    with TestClient(app) as client:
        for path in ("/ws-opt", "/ws-guard"):
            for _ in range(2):  # verified, then cached
                with client.websocket_connect(path, headers=scoped) as socket:
                    assert socket.receive_json() == {"sub": issuer.user["id"]}
                # the middleware (opt=required) or the guard refuses the missing scope
                assert _closed(client, path, unscoped) == (1008, "insufficient_scope", None)
            assert _closed(client, path, {}) == (1008, "token_missing", None)
            # the middleware refuses a forged token, whatever the route
            assert _closed(client, path, forged) == (1008, "invalid_token", None)
            # a browser that offered "bearer" gets it back, so its onclose sees the code
            offered = ["bearer", "chat"]
            assert _closed(client, path, forged, offered) == (1008, "invalid_token", "bearer")
            assert _closed(client, path, {}, offered) == (1008, "token_missing", "bearer")


def test_a_websocket_refused_for_an_outage_closes_1013() -> None:
    """The issuer's JWKS answers 503: keys_unavailable, 1013 (try again later), never 4500."""
    with keys_outage() as (issuer, verifier):
        app = Litestar(route_handlers=[chat_opt], plugins=[AuthBridgePlugin(verifier)])
        with TestClient(app) as client:
            token = bearer(issuer.token(scope="chat"))
            assert _closed(client, "/ws-opt", token) == (1013, "keys_unavailable", None)
