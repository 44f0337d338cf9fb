"""Better Auth session credentials under attack, against a real Better Auth server (Node).

The Tasks API is configured from the environment the way ``tasks-api serve`` is, with
session tokens (``Authorization: Bearer token.signature``) and the session cookie accepted
(database mode, the shared SQLite file). Forged, re-signed, truncated and re-encoded session
credentials, cookies from other origins, and Hypothesis-generated cookie and header values:
never a 5xx, nothing but a genuine credential accepted, and no session token in any log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from security_support import sqlite_settings

from harness.better_auth import BAUser, BetterAuthServer
from security.log_guard import watch_credential, watch_token
from tasks_api.app import create_app

pytestmark = pytest.mark.interop

WEB_ORIGIN = "http://localhost:3000"


def _sign(secret: str, token: str) -> str:
    mac = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    return f"{token}.{base64.b64encode(mac).decode()}"


@pytest.fixture
async def session_api(
    better_auth: BetterAuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    for name in list(os.environ):
        if name.startswith(("AUTHBRIDGE_", "BETTER_AUTH")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    env = {
        "BETTER_AUTH_URL": better_auth.base_url,
        "BETTER_AUTH_SECRET": better_auth.secret,
        "AUTHBRIDGE_JWKS_URL": better_auth.jwks_url,
        "AUTHBRIDGE_SESSION_MODE": "database",
        "AUTHBRIDGE_SESSION_DATABASE_URL": better_auth.env["DB_PATH"],
        "AUTHBRIDGE_SESSION_COOKIE": "on",
        "AUTHBRIDGE_TRUSTED_ORIGINS": WEB_ORIGIN,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app(sqlite_settings(tmp_path))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://tasks.test") as client:
            yield client


def _watch_user(user: BAUser) -> BAUser:
    for credential in (user.session_token, user.signed_token, user.cookie_value):
        watch_credential(credential)
    return user


async def test_forged_session_credentials_are_refused(
    better_auth: BetterAuthServer, session_api: httpx.AsyncClient
) -> None:
    alice = _watch_user(better_auth.sign_up(name="Alice Session"))
    bob = _watch_user(better_auth.sign_up(name="Bob Session"))
    genuine = await session_api.get("/api/me", headers=alice.bearer)
    assert genuine.status_code == 200, genuine.text
    assert genuine.json()["sub"] == alice.id
    token, _, signature = alice.signed_token.rpartition(".")
    wrong_secret = "x" * 48
    forgeries = {
        "raw token, unsigned": token,
        "signed with another secret": _sign(wrong_secret, token),
        "signed with Better Auth's public default": _sign(
            "better-auth-secret-12345678901234567890", token
        ),
        "alice's token, bob's signature": f"{token}.{bob.signed_token.rpartition('.')[2]}",
        "truncated signature": f"{token}.{signature[:-2]}=",
        "signature without padding": f"{token}.{signature.rstrip('=')}",
        "empty signature": f"{token}.",
        "token altered": f"{token[:-1]}{'A' if token[-1] != 'A' else 'B'}.{signature}",
        "made-up token, real secret unknown": _sign(wrong_secret, "A" * 32),
        "two dots": f"{token}.{signature}.{signature}",
        "percent-encoded twice": quote(quote(alice.signed_token, safe=""), safe=""),
    }
    # Better Auth's own decoder takes either base64 alphabet: the same MAC re-spelled is the
    # same credential (the same user), never someone else's.
    respelled = f"{token}.{signature.replace('+', '-').replace('/', '_')}"
    same = await session_api.get("/api/me", headers={"Authorization": f"Bearer {respelled}"})
    assert same.status_code in (200, 401)
    if same.status_code == 200:
        assert same.json()["sub"] == alice.id
    for name, value in forgeries.items():
        watch_credential(value)
        response = await session_api.get("/api/me", headers={"Authorization": f"Bearer {value}"})
        assert response.status_code in (400, 401), (name, response.status_code)
        cookie = {"Cookie": f"{alice.cookie_name}={quote(value, safe='')}"}
        response = await session_api.get("/api/me", headers=cookie)
        assert response.status_code == 401, (name, response.status_code)
        assert "www-authenticate" in response.headers


async def test_session_cookie_from_another_origin_cannot_write(
    better_auth: BetterAuthServer, session_api: httpx.AsyncClient
) -> None:
    alice = _watch_user(better_auth.sign_up(name="Alice Csrf"))
    cookie = {"Cookie": alice.cookie_header}
    for origin in (
        "https://evil.example",
        "null",
        WEB_ORIGIN + ".evil.example",
        "http://localhost",
    ):
        response = await session_api.post(
            "/api/tasks", json={"title": "csrf"}, headers={**cookie, "Origin": origin}
        )
        assert response.status_code == 403, (origin, response.status_code)
    ok = await session_api.post(
        "/api/tasks", json={"title": "mine"}, headers={**cookie, "Origin": WEB_ORIGIN}
    )
    assert ok.status_code == 201, ok.text
    listed = await session_api.get("/api/tasks", headers={**cookie, "Origin": WEB_ORIGIN})
    assert [t["title"] for t in listed.json()["items"]] == ["mine"]


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cookie=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";,"),
        max_size=120,
    ),
    bearer=st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=120
    ),
    origin=st.sampled_from([None, WEB_ORIGIN, "https://evil.example", "null", ""]),
    use=st.sampled_from(["cookie", "bearer", "both"]),
)
async def test_generated_session_credentials_never_5xx_or_pass(
    better_auth: BetterAuthServer,
    session_api: httpx.AsyncClient,
    cookie: str,
    bearer: str,
    origin: str | None,
    use: str,
) -> None:
    headers: dict[str, str] = {}
    if use in ("cookie", "both"):
        headers["Cookie"] = f"better-auth.session_token={cookie}"
    if use in ("bearer", "both"):
        headers["Authorization"] = f"Bearer {bearer}"
        if bearer.count(".") == 2:
            watch_token(bearer)
    if origin is not None:
        headers["Origin"] = origin
    for method, path in (("GET", "/api/me"), ("POST", "/api/tasks")):
        response = await session_api.request(
            method, path, headers=headers, json={"title": "x"} if method == "POST" else None
        )
        assert response.status_code < 500, response.text
        assert response.status_code not in (200, 201)
        if response.status_code == 401:
            assert "www-authenticate" in response.headers
