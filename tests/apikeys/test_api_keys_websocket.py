"""WebSocket routes do not read API keys (docs/fastapi.md, "WebSocket"): with API keys on, a
key header on the handshake is no credential, so it neither authenticates a socket nor counts
as a second credential next to a bearer. The key store is never asked (it points nowhere)."""

from __future__ import annotations

import warnings

import pytest
from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect

from authbridge.apikeys import ApiKeyConfig
from authbridge.apikeys.verifier import ApiKeyVerifier
from authbridge.fastapi import AuthBridge, WebSocketUser
from authbridge.testing import FakeIssuer
from authbridge.verifier import Verifier

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

KEY = "ak_" + "k" * 64


@pytest.fixture
def ws_app() -> tuple[TestClient, FakeIssuer]:
    issuer = FakeIssuer()
    keys = ApiKeyVerifier(ApiKeyConfig(mode="remote", base_url="http://127.0.0.1:9"))
    verifier = Verifier(issuer.trusted_issuer(), api_keys=keys)
    app = FastAPI()
    AuthBridge(verifier).install(app)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: WebSocketUser) -> None:
        await websocket.send_json({"sub": user.sub, "credential": user.credential})

    return TestClient(app), issuer


def test_a_key_header_is_ignored_next_to_a_bearer(ws_app: tuple[TestClient, FakeIssuer]) -> None:
    client, issuer = ws_app
    with client.websocket_connect(
        "/ws", headers={"x-api-key": KEY}, subprotocols=["bearer", issuer.token()]
    ) as socket:
        assert socket.receive_json() == {"sub": issuer.user["id"], "credential": "jwt"}


def test_a_key_header_alone_authenticates_nothing(ws_app: tuple[TestClient, FakeIssuer]) -> None:
    client, _ = ws_app
    with client.websocket_connect("/ws", headers={"x-api-key": KEY}) as socket:
        socket.send_json({"type": "hello"})  # not the auth message the server waits for
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 1008
