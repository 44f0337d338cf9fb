"""Each outage has its own code: in the 503 answer, in ``Retry-After`` and in the audit log.

A PostgreSQL session store, a Redis revocation list and Better Auth's ``get-session`` endpoint
are three different services; an operator reading the log must see which one is down, and a
client must see a 503 it may retry, never a 401 that would sign the user out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from authbridge import errors
from authbridge.errors import (
    KeysUnavailable,
    RevocationUnavailable,
    ServiceUnavailable,
    SessionEndpointUnavailable,
    SessionStoreUnavailable,
)
from authbridge.fastapi import AuthBridge, CurrentUser
from authbridge.fastapi.responses import http_error_for, public_code
from authbridge.revocation import RevocationList
from authbridge.sessions import SessionConfig, SessionVerifier
from authbridge.testing import FakeIssuer
from authbridge.verifier import Verifier

AUDIT = "authbridge.audit"
DETAIL = "Authentication is temporarily unavailable. Retry later."


def _closed_port() -> int:
    """A local port nobody listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _signed_session_token(secret: str) -> str:
    """Better Auth's signed session token, built with the standard library (independently)."""
    token = secrets.token_urlsafe(24)
    mac = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    return f"{token}.{base64.b64encode(mac).decode()}"


@asynccontextmanager
async def _client(verifier: Verifier) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    AuthBridge(verifier).install(app)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await verifier.aclose()


def _audit_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.audit for r in caplog.records if r.name == AUDIT]  # type: ignore[attr-defined]


async def _assert_outage(
    verifier: Verifier,
    credential: str,
    code: str,
    caplog: pytest.LogCaptureFixture,
    *,
    before: Callable[[], Awaitable[None]] | None = None,
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT)
    async with _client(verifier) as client:
        if before is not None:
            await before()
        response = await client.get("/me", headers={"Authorization": f"Bearer {credential}"})
    assert response.status_code == 503, response.text
    assert response.json() == {"detail": DETAIL, "code": code}
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["cache-control"] == "no-store"
    assert "www-authenticate" not in response.headers  # not a credential problem
    (event,) = _audit_events(caplog)
    assert event["outcome"] == "failure"
    assert event["code"] == code
    assert event["status"] == 503
    assert credential not in caplog.text


@pytest.mark.parametrize(
    ("where", "code"),
    [
        # PostgreSQL unreachable: the asyncpg driver's connection is refused.
        (
            {"mode": "database", "database_url": "postgresql://postgres@127.0.0.1:{port}/test"},
            "session_store_unavailable",
        ),
        # Better Auth's get-session unreachable.
        ({"mode": "remote", "base_url": "http://127.0.0.1:{port}"}, "session_endpoint_unavailable"),
    ],
    ids=["postgresql session store", "get-session endpoint"],
)
async def test_a_session_service_outage_has_its_own_code(
    where: dict[str, str], code: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = secrets.token_urlsafe(32)
    port = _closed_port()
    settings = {name: value.format(port=port) for name, value in where.items()}
    config = SessionConfig(secrets=((0, secret),), timeout=2, **settings)  # type: ignore[arg-type]
    verifier = FakeIssuer().verifier(sessions=SessionVerifier(config))
    await _assert_outage(verifier, _signed_session_token(secret), code, caplog)


async def test_a_redis_revocation_outage_is_revocation_unavailable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    issuer = FakeIssuer()
    revocations = RevocationList(
        f"redis://127.0.0.1:{_closed_port()}/0", failure="closed", timeout=0.2
    )
    verifier = issuer.verifier(revocations=revocations)

    async def start() -> None:
        await revocations.start()  # Redis is down: the list never becomes current

    await _assert_outage(verifier, issuer.token(), "revocation_unavailable", caplog, before=start)


def test_every_outage_is_a_service_unavailable_with_its_own_code() -> None:
    outages = (
        KeysUnavailable,
        SessionStoreUnavailable,
        SessionEndpointUnavailable,
        RevocationUnavailable,
    )
    assert len({outage.code for outage in outages}) == len(outages)
    for outage in outages:
        assert issubclass(outage, ServiceUnavailable)
        assert outage.status == 503
        assert outage.public_code == outage.code
        assert outage().retry_after >= 1
    # Keys and sessions are not mistaken for each other any more.
    assert not issubclass(SessionStoreUnavailable, KeysUnavailable)
    assert not issubclass(RevocationUnavailable, KeysUnavailable)


# ---- one place decides the answer: the error class ----------------------------------------


def _every_auth_error() -> list[type[errors.AuthError]]:
    found = []
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, errors.AuthError):
            found.append(value)
    return found


@pytest.mark.parametrize("error_class", _every_auth_error(), ids=lambda cls: cls.__name__)
def test_the_answer_is_the_classs_status_and_public_code(
    error_class: type[errors.AuthError],
) -> None:
    answer = http_error_for(error_class(), "authbridge")
    assert answer.status_code == error_class.status
    assert answer.code == error_class.public_code == public_code(error_class())
    assert answer.headers is not None
    assert answer.headers["Cache-Control"] == "no-store"
    assert ("Retry-After" in answer.headers) == (error_class.status == 503)
    if issubclass(error_class, errors.InvalidApiKey):
        # Every API-key refusal: one challenge under the key's own scheme, one public code.
        assert answer.headers["WWW-Authenticate"].startswith('ApiKey realm="authbridge"')
        assert 'error="invalid_api_key"' in answer.headers["WWW-Authenticate"]
        assert answer.code == "invalid_api_key"
    elif error_class.status == 401 and error_class is not errors.TokenMissing:
        # Every token failure has the same challenge (V53); it looks the same to the client
        # but for a ban, whose code is public: the user must learn why they are signed out.
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
        banned = error_class is errors.UserBanned
        assert answer.code == ("user_banned" if banned else "invalid_token")


def test_an_outage_keeps_its_retry_after() -> None:
    answer = http_error_for(SessionStoreUnavailable(retry_after=7), "authbridge")
    assert answer.headers is not None
    assert answer.headers["Retry-After"] == "7"
    assert http_error_for(KeysUnavailable(retry_after=0), "r").headers == {
        "Cache-Control": "no-store",
        "Retry-After": "1",
    }


def test_a_new_outage_class_needs_no_change_to_the_responses() -> None:
    class SearchIndexUnavailable(ServiceUnavailable):
        code = "search_index_unavailable"

    answer = http_error_for(SearchIndexUnavailable(retry_after=3), "authbridge")
    assert (answer.status_code, answer.code, answer.detail) == (
        503,
        "search_index_unavailable",
        DETAIL,
    )
    assert isinstance(SearchIndexUnavailable(), ServiceUnavailable)


def test_an_application_error_with_its_own_status_gets_the_coarse_public_code() -> None:
    class NotOnTheVpn(errors.AuthError):
        code = "not_on_the_vpn"  # precise: for the audit log only
        status = 403

    assert NotOnTheVpn.public_code == "forbidden"
    answer = http_error_for(NotOnTheVpn(), "authbridge")
    assert (answer.status_code, answer.code) == (403, "forbidden")
    assert answer.headers is not None
    assert "WWW-Authenticate" not in answer.headers
