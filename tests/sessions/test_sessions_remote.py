"""Remote mode: GET {base}/api/auth/get-session.

The issuer's failure modes (5xx, junk bodies, refused connections) cannot be
provoked on demand from a real Better Auth server, so these use httpx's
MockTransport; test_real_better_auth.py covers the real server.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sessions_builders import iso, new_secret, new_token, sign, url_encode

from authbridge.errors import InvalidSignature, SessionEndpointUnavailable, SessionInvalid
from authbridge.sessions.config import SessionConfig
from authbridge.sessions.remote import get_session_url
from authbridge.sessions.verifier import SessionVerifier

BASE = "https://auth.example.com"


def _body(*, user_id: str = "u1", expires_in: timedelta = timedelta(days=7)) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "session": {
            "id": "s1",
            "token": "not-used",
            "userId": user_id,
            "expiresAt": iso(now + expires_in),
        },
        "user": {
            "id": user_id,
            "email": "r@example.com",
            "name": "Remote",
            "emailVerified": True,
            "image": None,
            "role": "admin",
        },
    }


class Recorder:
    def __init__(self, reply: Callable[[httpx.Request], httpx.Response]) -> None:
        self.reply = reply
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request)


def _verifier(recorder: Recorder, **overrides: Any) -> SessionVerifier:
    settings: dict[str, Any] = {"mode": "remote", "base_url": BASE}
    settings.update(overrides)
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return SessionVerifier(SessionConfig(**settings), http_client=client)


def test_get_session_url() -> None:
    assert get_session_url("https://a.example") == "https://a.example/api/auth/get-session"
    assert get_session_url("https://a.example/") == "https://a.example/api/auth/get-session"
    assert get_session_url("https://a.example/api/auth") == "https://a.example/api/auth/get-session"
    assert get_session_url("https://a.example/app") == "https://a.example/app/api/auth/get-session"


async def test_session_resolves_and_cookie_is_forwarded() -> None:
    secret, token = new_secret(), new_token()
    recorder = Recorder(lambda _: httpx.Response(200, json=_body()))
    verifier = _verifier(recorder, secrets=((0, secret),))
    principal = await verifier.verify(sign(token, secret))
    assert (principal.sub, principal.session_id, principal.roles) == ("u1", "s1", {"admin"})
    assert principal.issuer == BASE
    assert principal.email_verified is True
    request = recorder.requests[0]
    assert str(request.url) == f"{BASE}/api/auth/get-session"
    cookie = request.headers["cookie"]
    assert f"better-auth.session_token={url_encode(sign(token, secret))}" in cookie
    assert f"__Secure-better-auth.session_token={url_encode(sign(token, secret))}" in cookie
    assert "authorization" not in request.headers
    await verifier.aclose()


async def test_bearer_forwarding_and_raw_tokens() -> None:
    recorder = Recorder(lambda _: httpx.Response(200, json=_body()))
    verifier = _verifier(recorder, remote_credential="bearer", allow_unsigned=True)
    raw = new_token()
    await verifier.verify(raw)
    assert recorder.requests[-1].headers["authorization"] == f"Bearer {raw}"
    signed = sign(new_token(), new_secret())
    await verifier.verify(url_encode(signed))
    assert recorder.requests[-1].headers["authorization"] == f"Bearer {signed}"
    await verifier.aclose()


async def test_known_secret_rejects_forgeries_locally() -> None:
    recorder = Recorder(lambda _: httpx.Response(200, json=_body()))
    verifier = _verifier(recorder, secrets=((0, new_secret()),))
    with pytest.raises(InvalidSignature):
        await verifier.verify(sign(new_token(), new_secret()))
    assert recorder.requests == []
    await verifier.aclose()


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json=None),
        httpx.Response(200, content=b""),
        httpx.Response(401, json={"message": "Unauthorized"}),
        httpx.Response(200, json=_body(expires_in=timedelta(seconds=-1))),
    ],
)
async def test_no_session_is_session_invalid(response: httpx.Response) -> None:
    verifier = _verifier(Recorder(lambda _: response))
    with pytest.raises(SessionInvalid):
        await verifier.verify(sign(new_token(), new_secret()))
    await verifier.aclose()


@pytest.mark.parametrize(
    ("response", "retry_after"),
    [
        (httpx.Response(500, text="boom"), 5),
        (httpx.Response(503, headers={"retry-after": "17"}), 17),
        (httpx.Response(404, json={"error": "not found"}), 5),
        (httpx.Response(429), 5),
        (httpx.Response(302, headers={"location": "https://x"}), 5),
        (httpx.Response(200, text="<html>"), 5),
        (httpx.Response(200, json=[1, 2]), 5),
        (httpx.Response(200, json={"session": {}, "user": {}}), 5),
        (httpx.Response(200, content=b" " * (2 << 20)), 5),
        # Parsed strictly, as a token is: a duplicate member or a NaN is no answer.
        (httpx.Response(200, content=b'{"user": {}, ' + json.dumps(_body())[1:].encode()), 5),
        (httpx.Response(200, content=json.dumps({**_body(), "n": float("nan")}).encode()), 5),
    ],
)
async def test_issuer_trouble_is_503(response: httpx.Response, retry_after: int) -> None:
    verifier = _verifier(Recorder(lambda _: response))
    with pytest.raises(SessionEndpointUnavailable) as caught:
        await verifier.verify(sign(new_token(), new_secret()))
    assert caught.value.status == 503
    assert caught.value.code == "session_endpoint_unavailable"
    assert caught.value.retry_after == retry_after
    await verifier.aclose()


async def test_transport_errors_are_503() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    verifier = _verifier(Recorder(refuse))
    with pytest.raises(SessionEndpointUnavailable):
        await verifier.verify(sign(new_token(), new_secret()))
    await verifier.aclose()


async def test_issuer_down_without_mocks_is_503() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verifier = SessionVerifier(
        SessionConfig(mode="remote", base_url=f"http://127.0.0.1:{port}", timeout=2)
    )
    with pytest.raises(SessionEndpointUnavailable):
        await verifier.verify(sign(new_token(), new_secret()))
    await verifier.aclose()


async def test_answers_are_cached_briefly_per_credential() -> None:
    recorder = Recorder(lambda _: httpx.Response(200, json=_body()))
    verifier = _verifier(recorder)
    secret = new_secret()
    first, second = sign(new_token(), secret), sign(new_token(), secret)
    await verifier.verify(first)
    await verifier.verify(url_encode(first))
    assert len(recorder.requests) == 1
    await verifier.verify(second)
    assert len(recorder.requests) == 2
    # Same token, different signature: a cache miss, so the issuer judges it.
    forged = first.rpartition(".")[0] + "." + sign("x", secret).rpartition(".")[2]
    await verifier.verify(forged)
    assert len(recorder.requests) == 3
    await verifier.aclose()


async def test_session_exists_is_database_only() -> None:
    verifier = _verifier(Recorder(lambda _: httpx.Response(200, json=None)))
    assert not verifier.supports_session_exists
    with pytest.raises(RuntimeError):
        await verifier.session_exists("s1")
    await verifier.aclose()
