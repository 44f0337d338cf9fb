"""WebSocket authentication: subprotocol, header, first message; refusals close with 1008."""

from __future__ import annotations

import json
import logging
import warnings

import pytest
from fastapi import FastAPI
from starlette.websockets import WebSocketDisconnect

from authbridge.testing import FakeIssuer

# Starlette's TestClient drives WebSockets; its notice about httpx is not ours to act on.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient


@pytest.fixture
def ws_client(app: FastAPI) -> TestClient:
    return TestClient(app)


def test_subprotocol_token_is_accepted_and_only_bearer_is_echoed(
    ws_client: TestClient, issuer: FakeIssuer
) -> None:
    token = issuer.token()
    with ws_client.websocket_connect("/ws", subprotocols=["bearer", token]) as ws:
        assert ws.accepted_subprotocol == "bearer"
        assert ws.receive_json() == {"sub": issuer.user["id"]}


def test_subprotocol_token_among_other_protocols(ws_client: TestClient, issuer: FakeIssuer) -> None:
    token = issuer.token()
    with ws_client.websocket_connect("/ws", subprotocols=["chat.v1", "bearer", token]) as ws:
        assert ws.accepted_subprotocol == "bearer"
        assert ws.receive_json() == {"sub": issuer.user["id"]}


def test_authorization_header_works_for_non_browser_clients(
    ws_client: TestClient, issuer: FakeIssuer
) -> None:
    headers = {"Authorization": f"Bearer {issuer.token()}"}
    with ws_client.websocket_connect("/ws", headers=headers) as ws:
        assert ws.accepted_subprotocol is None
        assert ws.receive_json() == {"sub": issuer.user["id"]}


def test_first_message_auth(ws_client: TestClient, issuer: FakeIssuer) -> None:
    with ws_client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "auth", "token": issuer.token()}))
        assert ws.receive_json() == {"sub": issuer.user["id"]}


def _closed_with(ws_client: TestClient, path: str, **kwargs: object) -> int:
    with (
        pytest.raises(WebSocketDisconnect) as caught,
        ws_client.websocket_connect(path, **kwargs) as ws,  # type: ignore[arg-type]
    ):
        ws.receive_json()
    return caught.value.code


def test_bad_subprotocol_token_is_refused_with_1008(
    ws_client: TestClient, issuer: FakeIssuer
) -> None:
    forged = FakeIssuer(issuer.base_url).token()
    assert _closed_with(ws_client, "/ws", subprotocols=["bearer", forged]) == 1008


def test_bearer_subprotocol_without_token_is_refused(ws_client: TestClient) -> None:
    assert _closed_with(ws_client, "/ws", subprotocols=["bearer"]) == 1008


def test_two_credentials_are_refused(ws_client: TestClient, issuer: FakeIssuer) -> None:
    token = issuer.token()
    code = _closed_with(
        ws_client,
        "/ws",
        subprotocols=["bearer", token],
        headers={"Authorization": f"Bearer {token}"},
    )
    assert code == 1008


def test_query_token_is_never_used(ws_client: TestClient, issuer: FakeIssuer) -> None:
    # Without any other credential the server waits for an auth message: a non-auth
    # message is refused, so the query token clearly did not count.
    with (  # noqa: PT012
        pytest.raises(WebSocketDisconnect) as caught,
        ws_client.websocket_connect(f"/ws?access_token={issuer.token()}") as ws,
    ):
        ws.send_text(json.dumps({"type": "hello"}))
        ws.receive_json()
    assert caught.value.code == 1008


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        json.dumps({"type": "auth"}),
        json.dumps({"type": "other", "token": "a.b.c"}),
        json.dumps({"type": "auth", "token": 42}),
        json.dumps(["auth", "a.b.c"]),
        json.dumps({"type": "auth", "token": "a.b.c", "pad": "x" * 20000}),
    ],
)
def test_bad_first_messages_are_refused(ws_client: TestClient, message: str) -> None:
    with (  # noqa: PT012
        pytest.raises(WebSocketDisconnect) as caught,
        ws_client.websocket_connect("/ws") as ws,
    ):
        ws.send_text(message)
        ws.receive_json()
    assert caught.value.code == 1008


def test_first_message_with_a_forged_token_is_refused(
    ws_client: TestClient, issuer: FakeIssuer
) -> None:
    forged = FakeIssuer(issuer.base_url).token()
    with (  # noqa: PT012
        pytest.raises(WebSocketDisconnect) as caught,
        ws_client.websocket_connect("/ws") as ws,
    ):
        ws.send_text(json.dumps({"type": "auth", "token": forged}))
        ws.receive_json()
    assert caught.value.code == 1008
    assert caught.value.reason == "invalid_token"


def test_silence_times_out_with_1008(ws_client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as caught,
        ws_client.websocket_connect("/ws-quick") as ws,
    ):
        ws.receive_json()  # say nothing; the server gives up after 0.3 s
    assert caught.value.code == 1008
    assert caught.value.reason == "token_missing"


def test_websocket_outcomes_are_audited(
    ws_client: TestClient, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authbridge.audit")
    token = issuer.token()
    with ws_client.websocket_connect("/ws", subprotocols=["bearer", token]) as ws:
        ws.receive_json()
    forged = FakeIssuer(issuer.base_url).token()
    assert _closed_with(ws_client, "/ws", subprotocols=["bearer", forged]) == 1008
    events = [r.audit for r in caplog.records if r.name == "authbridge.audit"]  # type: ignore[attr-defined]
    assert [(e["transport"], e["outcome"], e["code"]) for e in events] == [
        ("websocket", "success", "ok"),
        ("websocket", "failure", "unknown_key"),
    ]
    assert events[0]["sub"] == issuer.user["id"]
    for secret in (token, forged, token.split(".")[2], forged.split(".")[2]):
        assert secret not in caplog.text


def test_refusals_reach_the_client_as_a_close_frame(
    ws_client: TestClient, issuer: FakeIssuer
) -> None:
    # The handshake completes (selecting "bearer" as the browser offered it), then the server
    # closes with 1008 and the public code, which a browser's onclose handler can read.
    forged = FakeIssuer(issuer.base_url).token()
    with ws_client.websocket_connect("/ws", subprotocols=["bearer", forged]) as ws:
        assert ws.accepted_subprotocol == "bearer"
        with pytest.raises(WebSocketDisconnect) as caught:
            ws.receive_json()
    assert (caught.value.code, caught.value.reason) == (1008, "invalid_token")
