"""Remote mode's reading of get-session answers, with a scripted server (httpx.MockTransport):
every answer that is not a session or one of the plugin's refusals is an outage (503), never a
401 the caller cannot fix and never a crash; and the key itself is never kept."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from authbridge.apikeys.config import ApiKeyConfig
from authbridge.apikeys.verifier import ApiKeyVerifier
from authbridge.errors import (
    ApiKeyDisabled,
    ApiKeyEndpointUnavailable,
    ApiKeyExpired,
    ApiKeyRateLimited,
    ApiKeyUsageExceeded,
    InvalidApiKey,
)

KEY = "r" * 64
USER = {"id": "user-1", "email": "ada@example.com", "name": "Ada", "role": "user"}
SESSION = {"id": "key-1", "token": KEY, "userId": "user-1", "expiresAt": "2030-01-01T00:00:00Z"}


def verifier_for(handler: Callable[[httpx.Request], httpx.Response]) -> ApiKeyVerifier:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    config = ApiKeyConfig(mode="remote", base_url="http://ba.test", issuer="http://ba.test")
    return ApiKeyVerifier(config, http_client=client)


async def test_a_session_answer_is_the_keys_principal() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"user": USER, "session": SESSION})

    principal = await verifier_for(handler).verify(KEY, "x-api-key")
    assert (principal.sub, principal.session_id, principal.credential) == (
        "user-1",
        "key-1",
        "api_key",
    )
    assert principal.expires_at is not None
    assert KEY not in json.dumps(dict(principal.claims))  # session.token is never kept
    (request,) = seen
    assert str(request.url) == "http://ba.test/api/auth/get-session"
    assert request.headers["x-api-key"] == KEY
    assert "authorization" not in request.headers
    assert "cookie" not in request.headers


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, "INVALID_API_KEY", InvalidApiKey),
        (401, "KEY_DISABLED", ApiKeyDisabled),
        (401, "KEY_EXPIRED", ApiKeyExpired),
        (429, "USAGE_EXCEEDED", ApiKeyUsageExceeded),
        (429, "RATE_LIMITED", ApiKeyRateLimited),
        (403, "INVALID_API_KEY", InvalidApiKey),
        (401, None, InvalidApiKey),
    ],
)
async def test_the_plugins_refusals(status: int, code: str | None, error: type[Exception]) -> None:
    body = {"code": code, "message": "x"} if code else {}
    verifier = verifier_for(lambda _: httpx.Response(status, json=body))
    with pytest.raises(error) as caught:
        await verifier.verify(KEY)
    assert type(caught.value) is error


async def test_no_session_is_a_refusal() -> None:
    # A server that does not take keys on get-session answers null: Better Auth refuses it.
    with pytest.raises(InvalidApiKey):
        await verifier_for(lambda _: httpx.Response(200, json=None)).verify(KEY)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500),
        httpx.Response(404),
        httpx.Response(200, content=b"not json"),
        httpx.Response(200, json=[1]),
        httpx.Response(200, json={"user": USER}),
        httpx.Response(200, json={"user": {"id": 3}, "session": SESSION}),
        httpx.Response(200, json={"user": USER, "session": {**SESSION, "userId": "other"}}),
        httpx.Response(200, content=b"{" * (2 << 20)),
        # Parsed strictly, as a token is: a duplicate member or a NaN is no answer.
        httpx.Response(
            200,
            content=b'{"user": {}, ' + json.dumps({"user": USER, "session": SESSION})[1:].encode(),
        ),
        httpx.Response(
            200, content=json.dumps({"user": USER, "session": SESSION, "n": float("nan")}).encode()
        ),
    ],
)
async def test_anything_else_is_an_outage(answer: httpx.Response) -> None:
    with pytest.raises(ApiKeyEndpointUnavailable):
        await verifier_for(lambda _: answer).verify(KEY)


async def test_unreachable_is_an_outage_with_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ApiKeyEndpointUnavailable) as caught:
        await verifier_for(handler).verify(KEY)
    assert caught.value.retry_after == 5
    assert caught.value.code == "api_key_endpoint_unavailable"
