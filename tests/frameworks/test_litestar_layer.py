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

from .conftest import bearer


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


def test_websockets_get_the_principal_and_refusals() -> None:
    """The middleware's websocket path: opt=required() and the guard, verified then cached."""
    issuer = FakeIssuer()
    app = Litestar(
        route_handlers=[chat_opt, chat_guard], plugins=[AuthBridgePlugin(issuer.verifier())]
    )
    scoped = bearer(issuer.token(scope="chat"))
    with TestClient(app) as client:
        for path in ("/ws-opt", "/ws-guard"):
            for _ in range(2):  # verified, then cached
                with client.websocket_connect(path, headers=scoped) as socket:
                    assert socket.receive_json() == {"sub": issuer.user["id"]}
            for refused in ({}, bearer(issuer.token()), bearer(issuer.token()[:-4] + "AAAA")):
                with (
                    pytest.raises(WebSocketDisconnect),
                    client.websocket_connect(path, headers=refused) as socket,
                ):
                    socket.receive_json()
