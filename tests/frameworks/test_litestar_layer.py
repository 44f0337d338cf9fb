"""authbridge.litestar beyond the example: opt=required(...) checked by the middleware, roles,
WebSocket refusals (the middleware's, the guard's and the handler's own)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import WebsocketRouteHandler
from litestar.testing import TestClient

from authbridge import Verifier
from authbridge.guards import requirement
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


# --- an AuthError raised by the WebSocket handler itself --------------------------------------

CHAT = requirement("chat")


@websocket("/ws-check-after")
async def check_after(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_json({"sub": CHAT.check(socket.user).sub})
    await socket.close()


@websocket("/ws-check-before")
async def check_before(socket: WebSocket[Any, Any, Any]) -> None:
    principal = CHAT.check(socket.user)  # before accept(): nothing sent yet
    await socket.accept()
    await socket.send_json({"sub": principal.sub})
    await socket.close()


@websocket("/ws-check-connected")
async def check_connected(socket: WebSocket[Any, Any, Any]) -> None:
    assert (await socket.receive())["type"] == "websocket.connect"  # read, not yet accepted
    principal = CHAT.check(socket.user)
    # accept() sends nothing once websocket.connect was read (Litestar 2.25): in raw ASGI
    await socket.send({"type": "websocket.accept", "subprotocol": None, "headers": []})
    await socket.send_json({"sub": principal.sub})
    await socket.close()


@websocket("/ws-broken-after")
async def broken_after(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    raise ValueError("not an AuthError")


@websocket("/ws-broken-before")
async def broken_before(socket: WebSocket[Any, Any, Any]) -> None:
    raise ValueError("not an AuthError")


def message_auth(verifier: Verifier) -> WebsocketRouteHandler:
    """A handler that authenticates its first message's token itself (the socket is public)."""

    @websocket("/ws-message")
    async def handler(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        message = await socket.receive_json()
        principal = CHAT.check(await verifier.verify(message["token"]))
        await socket.send_json({"sub": principal.sub})
        await socket.close()

    return handler


def _closed_after_message(client: TestClient[Any], token: str) -> tuple[int, str]:
    """(close code, reason) of /ws-message once it was sent ``token``."""
    with client.websocket_connect("/ws-message") as socket:
        socket.send_json({"type": "auth", "token": token})
        with pytest.raises(WebSocketDisconnect) as caught:
            socket.receive_json()
        return caught.value.code, caught.value.detail


def test_a_handlers_auth_error_is_refused_as_the_middleware_refuses() -> None:
    """``Requirement.check`` raised by the handler, after or before ``accept()``: accepted (by
    the handler, or for it), then closed 1008 with the code, not Litestar's 4500."""
    issuer = FakeIssuer()
    app = Litestar(
        route_handlers=[check_after, check_before, check_connected],
        plugins=[AuthBridgePlugin(issuer.verifier())],
    )
    scoped = bearer(issuer.token(scope="chat"))
    unscoped = bearer(issuer.token())
    with TestClient(app) as client:
        for path in ("/ws-check-after", "/ws-check-before", "/ws-check-connected"):
            with client.websocket_connect(path, headers=scoped) as socket:
                assert socket.receive_json() == {"sub": issuer.user["id"]}
            assert _closed(client, path, unscoped) == (1008, "insufficient_scope", None)
            assert _closed(client, path, {}) == (1008, "token_missing", None)
            with client.websocket_connect(path, headers=scoped) as socket:  # nothing left over
                assert socket.receive_json() == {"sub": issuer.user["id"]}
        # accepted for the handler: "bearer" if offered (a browser's onclose sees the code)
        for path in ("/ws-check-before", "/ws-check-connected"):
            offered = ["bearer", "chat"]
            assert _closed(client, path, unscoped, offered) == (
                1008,
                "insufficient_scope",
                "bearer",
            )
            assert _closed(client, path, unscoped, ["chat"]) == (1008, "insufficient_scope", None)
        # the handler accepted without "bearer": its own choice stands
        assert _closed(client, "/ws-check-after", unscoped, ["bearer", "chat"]) == (
            1008,
            "insufficient_scope",
            None,
        )


def test_a_handler_verifying_a_message_token_is_refused_with_its_code() -> None:
    """``verifier.verify`` on a token from a message: the verifier's own refusals, 1008."""
    issuer = FakeIssuer()
    verifier = issuer.verifier()
    app = Litestar(route_handlers=[message_auth(verifier)], plugins=[AuthBridgePlugin(verifier)])
    with TestClient(app) as client:
        with client.websocket_connect("/ws-message") as socket:
            socket.send_json({"type": "auth", "token": issuer.token(scope="chat")})
            assert socket.receive_json() == {"sub": issuer.user["id"]}
        assert _closed_after_message(client, issuer.token()) == (1008, "insufficient_scope")
        forged = issuer.token(scope="chat")[:-4] + "AAAA"
        assert _closed_after_message(client, forged) == (1008, "invalid_token")


def test_a_handlers_keys_outage_closes_1013() -> None:
    """The issuer's JWKS answers 503 while the handler verifies: keys_unavailable, 1013."""
    with keys_outage() as (issuer, verifier):
        app = Litestar(
            route_handlers=[message_auth(verifier)], plugins=[AuthBridgePlugin(verifier)]
        )
        with TestClient(app) as client:
            token = issuer.token(scope="chat")
            assert _closed_after_message(client, token) == (1013, "keys_unavailable")


def test_other_exceptions_keep_litestars_close_and_http_its_answer() -> None:
    """Only an AuthError is answered: any other exception is still Litestar's 4500 (before
    accept, a refused handshake), and an HTTP refusal is still the exception handler's."""
    issuer = FakeIssuer()
    app = Litestar(
        route_handlers=[broken_after, broken_before, check_before, export],
        plugins=[AuthBridgePlugin(issuer.verifier())],
    )
    scoped = bearer(issuer.token(scope="chat reports:export"))
    with TestClient(app) as client:
        assert _closed(client, "/ws-broken-after", scoped) == (4500, "Internal Server Error", None)
        never_accepted = client.websocket_connect("/ws-broken-before", headers=scoped)
        with pytest.raises(WebSocketDisconnect) as caught, never_accepted:
            pass
        assert (caught.value.code, caught.value.detail) == (4500, "Internal Server Error")
        # an AuthError before a non-auth one on another socket changes nothing for it
        unscoped = bearer(issuer.token())
        assert _closed(client, "/ws-check-before", unscoped) == (1008, "insufficient_scope", None)
        assert _closed(client, "/ws-broken-after", scoped) == (4500, "Internal Server Error", None)
        refused = client.get("/export", headers=unscoped)
        assert refused.status_code == 403
        assert refused.json()["code"] == "insufficient_scope"
        assert client.get("/export", headers=scoped).json() == {"sub": issuer.user["id"]}
