"""Session credentials through the FastAPI layer, over HTTP: bearer forms, cookies, CSRF.

The bridge is built only from settings (``AuthBridge.from_settings``), as an app would build
it. Sessions live in a SQLite file with Better Auth's own schema, written the way Better Auth
writes rows; tokens are signed here with HMAC-SHA256 exactly as Better Auth signs them, so
the code under test is not checked against itself. The real Better Auth server is used by
``tests/tasks_api/test_session_credentials.py`` and ``tests/sessions/test_integration_*.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, WebSocket
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.websockets import WebSocketDisconnect

from authbridge import Principal
from authbridge.config import Settings, load_settings
from authbridge.errors import ConfigError
from authbridge.fastapi import (
    AuthBridge,
    CurrentUser,
    OptionalUser,
    SessionCookieAuthenticator,
    WebSocketUser,
)
from authbridge.testing import FakeIssuer
from harness.better_auth_tables import sqlite_ddl

# Starlette's TestClient drives WebSockets; its notice about httpx is not ours to act on.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

AUTH_URL = "https://auth.example.test"
APP_ORIGIN = "https://app.example.test"
EVIL_ORIGIN = "https://evil.example"


def js_iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def hmac_sign(token: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    return f"{token}.{base64.b64encode(mac).decode()}"


@dataclass(frozen=True)
class Session:
    user_id: str
    session_id: str
    token: str  # raw
    signed: str  # token.signature, as Better Auth's set-auth-token header

    @property
    def cookie_value(self) -> str:
        """The Set-Cookie value: encodeURIComponent of the signed token."""
        return quote(self.signed, safe="-_.!~*'()")


@dataclass
class AuthDatabase:
    path: Path
    secret: str

    async def execute(self, statement: str, params: dict[str, Any] | None = None) -> None:
        engine = create_async_engine(f"sqlite+aiosqlite:///{self.path}")
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(statement), params or {})
        finally:
            await engine.dispose()

    async def sign_in(self, *, role: str | None = None) -> Session:
        """A user with one live session, as Better Auth's sign-up writes them."""
        user_id, session_id = uuid.uuid4().hex, uuid.uuid4().hex
        token = secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")[:32]
        now = datetime.now(UTC)
        await self.execute(
            'INSERT INTO "user" VALUES (:id, :name, :email, 0, NULL, :now, :now, :role)',
            {
                "id": user_id,
                "name": "Cookie User",
                "email": f"{user_id}@example.com",
                "now": js_iso(now),
                "role": role,
            },
        )
        await self.execute(
            'INSERT INTO "session" ("id", "expiresAt", "token", "createdAt", "updatedAt", '
            '"userId") VALUES (:id, :expires, :token, :now, :now, :user)',
            {
                "id": session_id,
                "expires": js_iso(now + timedelta(days=7)),
                "token": token,
                "now": js_iso(now),
                "user": user_id,
            },
        )
        return Session(user_id, session_id, token, hmac_sign(token, self.secret))

    async def sign_out(self, session: Session) -> None:
        await self.execute('DELETE FROM "session" WHERE "token" = :t', {"t": session.token})


@pytest.fixture
async def database(tmp_path: Path) -> AuthDatabase:
    db = AuthDatabase(tmp_path / "auth.db", secrets.token_urlsafe(32))
    for statement in sqlite_ddl():
        await db.execute(statement)
    return db


@pytest.fixture
def jwt_issuer() -> FakeIssuer:
    return FakeIssuer(base_url=AUTH_URL)


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test passes counts: no caller variables, no ``.env`` in the cwd."""
    import os

    for name in list(os.environ):
        if name.startswith(("AUTHBRIDGE_", "BETTER_AUTH")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def session_settings(db: AuthDatabase, issuer: FakeIssuer, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "BETTER_AUTH_URL": AUTH_URL,
        "BETTER_AUTH_SECRET": db.secret,
        "AUTHBRIDGE_JWKS": json.dumps(issuer.jwks()),
        "AUTHBRIDGE_SESSION_MODE": "database",
        "AUTHBRIDGE_SESSION_DATABASE_URL": f"sqlite+aiosqlite:///{db.path}",
        "AUTHBRIDGE_SESSION_COOKIE": "on",
        "AUTHBRIDGE_TRUSTED_ORIGINS": APP_ORIGIN,
    }
    values.update(extra)
    return load_settings(env_file=None, **values)


def build_app(bridge: AuthBridge) -> FastAPI:
    app = FastAPI()
    bridge.install(app)

    def describe(user: Principal) -> dict[str, Any]:
        return {
            "sub": user.sub,
            "credential": user.credential,
            "session_id": user.session_id,
            "issuer": user.issuer,
            "email": user.email,
        }

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return describe(user)

    @app.post("/items")
    async def create(user: CurrentUser) -> dict[str, Any]:
        return describe(user)

    @app.delete("/items")
    async def remove(user: CurrentUser) -> dict[str, Any]:
        return describe(user)

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, Any] | None:
        return None if user is None else describe(user)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: WebSocketUser) -> None:
        await websocket.send_json(describe(user))
        await websocket.close()

    return app


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(AuthBridge.from_settings(settings))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=AUTH_URL) as client:
            yield client


@pytest.fixture
async def client(
    database: AuthDatabase, jwt_issuer: FakeIssuer
) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(session_settings(database, jwt_issuer)) as http:
        yield http


def cookie(session: Session, name: str = "better-auth.session_token") -> dict[str, str]:
    return {"Cookie": f"{name}={session.cookie_value}"}


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


# ---- one Principal whichever credential arrived -------------------------------------------------


async def test_every_credential_form_gives_the_same_user(
    client: httpx.AsyncClient, database: AuthDatabase, jwt_issuer: FakeIssuer
) -> None:
    session = await database.sign_in()
    jwt = jwt_issuer.token(jwt_issuer.make_user(id=session.user_id))
    forms = {
        "jwt": bearer(jwt),
        "signed bearer": bearer(session.signed),
        "url-encoded bearer": bearer(session.cookie_value),
        "cookie": cookie(session),
        "__Secure- cookie": cookie(session, "__Secure-better-auth.session_token"),
    }
    assert "%" in session.cookie_value  # the encoded form really differs
    for form, headers in forms.items():
        response = await client.get("/me", headers=headers)
        assert response.status_code == 200, form
        body = response.json()
        assert body["sub"] == session.user_id, form
        assert body["issuer"] == AUTH_URL, form
        if form == "jwt":
            assert body["credential"] == "jwt"
        else:
            assert body["credential"] == "session", form
            assert body["session_id"] == session.session_id, form
            assert body["email"] == f"{session.user_id}@example.com", form


async def test_raw_session_token_needs_allow_unsigned(
    database: AuthDatabase, jwt_issuer: FakeIssuer
) -> None:
    session = await database.sign_in()
    async with serve(session_settings(database, jwt_issuer)) as strict:
        refused = await strict.get("/me", headers=bearer(session.token))
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_token"
    lenient_settings = session_settings(
        database, jwt_issuer, AUTHBRIDGE_SESSION_ALLOW_UNSIGNED="true"
    )
    async with serve(lenient_settings) as lenient:
        accepted = await lenient.get("/me", headers=bearer(session.token))
        assert accepted.status_code == 200
        assert accepted.json()["session_id"] == session.session_id
        # A raw token is never accepted from a cookie: Better Auth always signs cookies.
        raw_cookie = await lenient.get(
            "/me", headers={"Cookie": f"better-auth.session_token={session.token}"}
        )
        assert raw_cookie.status_code == 401


async def test_custom_cookie_prefix_and_name(
    database: AuthDatabase, jwt_issuer: FakeIssuer
) -> None:
    session = await database.sign_in()
    prefixed = session_settings(database, jwt_issuer, AUTHBRIDGE_SESSION_COOKIE_PREFIX="myapp")
    async with serve(prefixed) as client:
        for name in ("myapp.session_token", "__Secure-myapp.session_token"):
            response = await client.get("/me", headers=cookie(session, name))
            assert response.json()["sub"] == session.user_id, name
        default = await client.get("/me", headers=cookie(session))
        assert default.status_code == 401
        assert default.json()["code"] == "token_missing"
    named = session_settings(database, jwt_issuer, AUTHBRIDGE_SESSION_COOKIE_NAME="sid")
    async with serve(named) as client:
        assert (await client.get("/me", headers=cookie(session, "sid"))).status_code == 200


async def test_sign_out_rejects_every_session_form_at_once(
    client: httpx.AsyncClient, database: AuthDatabase
) -> None:
    session = await database.sign_in()
    assert (await client.get("/me", headers=cookie(session))).status_code == 200
    assert (await client.get("/me", headers=bearer(session.signed))).status_code == 200
    await database.sign_out(session)
    for headers in (cookie(session), bearer(session.signed)):
        response = await client.get("/me", headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "detail": "The access token is invalid or has expired.",
            "code": "invalid_token",
        }
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_forged_cookie_is_401(client: httpx.AsyncClient, database: AuthDatabase) -> None:
    session = await database.sign_in()
    forged = Session(
        session.user_id, session.session_id, session.token, hmac_sign(session.token, "not-it")
    )
    response = await client.get("/me", headers=cookie(forged))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


# ---- precedence: the Authorization header wins ------------------------------------------------


async def test_header_wins_over_cookie(
    client: httpx.AsyncClient, database: AuthDatabase, jwt_issuer: FakeIssuer
) -> None:
    cookie_user, header_user = await database.sign_in(), await database.sign_in()
    both = {**cookie(cookie_user), **bearer(header_user.signed)}
    answered = await client.get("/me", headers=both)
    assert answered.json()["sub"] == header_user.user_id
    jwt = jwt_issuer.token()
    with_jwt = await client.get("/me", headers={**cookie(cookie_user), **bearer(jwt)})
    assert with_jwt.json()["sub"] == jwt_issuer.user["id"]
    # A bad header is final: the good cookie next to it is not a fallback.
    bad_header = await client.get("/me", headers={**cookie(cookie_user), **bearer("x.y.z")})
    assert bad_header.status_code == 401
    # And with a header the cookie's CSRF rule does not apply (headers are never ambient).
    posted = await client.post(
        "/items", headers={**cookie(cookie_user), **bearer(header_user.signed)}
    )
    assert posted.json()["sub"] == header_user.user_id


async def test_malformed_bearer_is_still_400_in_session_mode(client: httpx.AsyncClient) -> None:
    for value in ("a b", "tok%en\u00e9", "ab,cd"):
        response = await client.get("/me", headers={"Authorization": f"Bearer {value}".encode()})
        assert response.status_code == 400, value
        assert response.json()["code"] == "invalid_request"


# ---- CSRF --------------------------------------------------------------------------------


def csrf_body() -> dict[str, str]:
    return {"detail": "The request's origin is not trusted.", "code": "csrf_rejected"}


async def test_cross_site_post_with_cookie_is_403(
    client: httpx.AsyncClient, database: AuthDatabase
) -> None:
    session = await database.sign_in()
    for method in ("POST", "DELETE"):
        response = await client.request(
            method, "/items", headers={**cookie(session), "Origin": EVIL_ORIGIN}
        )
        assert response.status_code == 403, method
        assert response.json() == csrf_body()
        assert response.headers["cache-control"] == "no-store"
        assert "www-authenticate" not in response.headers


async def test_trusted_origins_may_post(client: httpx.AsyncClient, database: AuthDatabase) -> None:
    session = await database.sign_in()
    # AUTHBRIDGE_TRUSTED_ORIGINS, and BETTER_AUTH_URL's origin, which Better Auth trusts too.
    for origin in (APP_ORIGIN, AUTH_URL, "https://APP.example.test:443"):
        response = await client.post("/items", headers={**cookie(session), "Origin": origin})
        assert response.status_code == 200, origin
        assert response.json()["session_id"] == session.session_id


async def test_referer_counts_when_origin_is_absent(
    client: httpx.AsyncClient, database: AuthDatabase
) -> None:
    session = await database.sign_in()
    same = await client.post(
        "/items", headers={**cookie(session), "Referer": f"{APP_ORIGIN}/board?x=1"}
    )
    assert same.status_code == 200
    foreign = await client.post(
        "/items", headers={**cookie(session), "Referer": f"{EVIL_ORIGIN}/attack"}
    )
    assert foreign.status_code == 403
    # Origin, when present, decides: a trusted Referer cannot rescue a foreign Origin.
    mixed = await client.post(
        "/items",
        headers={**cookie(session), "Origin": EVIL_ORIGIN, "Referer": f"{APP_ORIGIN}/"},
    )
    assert mixed.status_code == 403


async def test_post_without_origin_or_referer_is_403(
    client: httpx.AsyncClient, database: AuthDatabase
) -> None:
    session = await database.sign_in()
    response = await client.post("/items", headers=cookie(session))
    assert response.status_code == 403
    assert response.json() == csrf_body()
    for odd in ("null", "not a url", "file:///etc/passwd", f"{APP_ORIGIN}.evil.example"):
        rejected = await client.post("/items", headers={**cookie(session), "Origin": odd})
        assert rejected.status_code == 403, odd


async def test_safe_methods_skip_the_origin_check(
    client: httpx.AsyncClient, database: AuthDatabase
) -> None:
    session = await database.sign_in()
    for origin in ({"Origin": EVIL_ORIGIN}, {"Referer": f"{EVIL_ORIGIN}/x"}, {}):
        response = await client.get("/me", headers={**cookie(session), **origin})
        assert response.status_code == 200, origin
        assert response.json()["sub"] == session.user_id


async def test_csrf_comes_before_the_session_lookup(
    client: httpx.AsyncClient, database: AuthDatabase
) -> None:
    """A cross-site POST learns nothing about the cookie: signed out or not, it is a 403."""
    session = await database.sign_in()
    await database.sign_out(session)
    response = await client.post("/items", headers={**cookie(session), "Origin": EVIL_ORIGIN})
    assert response.status_code == 403


async def test_bearer_post_needs_no_origin(
    client: httpx.AsyncClient, database: AuthDatabase
) -> None:
    session = await database.sign_in()
    response = await client.post(
        "/items", headers={**bearer(session.signed), "Origin": EVIL_ORIGIN}
    )
    assert response.status_code == 200


# ---- cookie mode off, optional users, response headers, settings --------------------------------


async def test_cookie_mode_off_ignores_cookies(
    database: AuthDatabase, jwt_issuer: FakeIssuer
) -> None:
    session = await database.sign_in()
    settings = session_settings(database, jwt_issuer, AUTHBRIDGE_SESSION_COOKIE="off")
    bridge = AuthBridge.from_settings(settings)
    assert bridge.sessions is None  # nothing added to the request path
    async with serve(settings) as client:
        ignored = await client.get("/me", headers=cookie(session))
        assert ignored.status_code == 401
        assert ignored.json()["code"] == "token_missing"
        assert (await client.get("/me", headers=bearer(session.signed))).status_code == 200
        vary = (await client.get("/me", headers=bearer(session.signed))).headers["vary"]
        assert vary == "Authorization"


async def test_from_settings_builds_the_cookie_path(
    database: AuthDatabase, jwt_issuer: FakeIssuer
) -> None:
    bridge = AuthBridge.from_settings(session_settings(database, jwt_issuer))
    assert isinstance(bridge.sessions, SessionCookieAuthenticator)
    assert bridge.sessions.sessions is bridge.verifier.sessions
    custom = AuthBridge.from_settings(session_settings(database, jwt_issuer), sessions=None)
    assert custom.sessions is None


def test_cookie_mode_needs_a_session_mode(jwt_issuer: FakeIssuer) -> None:
    settings = load_settings(
        env_file=None,
        BETTER_AUTH_URL=AUTH_URL,
        AUTHBRIDGE_JWKS=json.dumps(jwt_issuer.jwks()),
        AUTHBRIDGE_SESSION_COOKIE="on",
    )
    with pytest.raises(ConfigError) as caught:
        AuthBridge.from_settings(settings)
    assert caught.value.variable == "AUTHBRIDGE_SESSION_MODE"


async def test_optional_user_and_vary_cookie(
    client: httpx.AsyncClient, database: AuthDatabase
) -> None:
    session = await database.sign_in()
    anonymous = await client.get("/maybe")
    assert anonymous.json() is None
    assert anonymous.headers["vary"] == "Authorization, Cookie"
    signed_in = await client.get("/maybe", headers=cookie(session))
    assert signed_in.json()["sub"] == session.user_id
    assert signed_in.headers["vary"] == "Authorization, Cookie"
    assert signed_in.headers["cache-control"] == "no-store"
    # Other cookies alone are no credential.
    other = await client.get("/maybe", headers={"Cookie": "theme=dark; lang=en"})
    assert other.json() is None


async def test_cookie_never_reaches_the_audit_log(
    client: httpx.AsyncClient, database: AuthDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    session = await database.sign_in()
    with caplog.at_level(logging.DEBUG, logger="authbridge"):
        await client.get("/me", headers=cookie(session))
        await client.post("/items", headers={**cookie(session), "Origin": EVIL_ORIGIN})
        await database.sign_out(session)
        await client.get("/me", headers=cookie(session))
        await client.get("/me", headers=bearer(session.signed))
    records = [record for record in caplog.records if record.name.startswith("authbridge")]
    codes = [getattr(record, "audit", {}).get("code") for record in records]
    assert codes.count("ok") == 1
    assert "csrf_rejected" in codes
    assert codes.count("session_invalid") == 2
    signature = session.signed.rpartition(".")[2]
    for record in records:
        text = record.getMessage() + json.dumps(getattr(record, "audit", {}))
        assert session.token not in text
        assert signature not in text
        assert quote(signature, safe="") not in text


# ---- WebSocket ---------------------------------------------------------------------------------


@pytest.fixture
def ws_client(database: AuthDatabase, jwt_issuer: FakeIssuer) -> Iterator[TestClient]:
    app = build_app(AuthBridge.from_settings(session_settings(database, jwt_issuer)))
    with TestClient(app, base_url=AUTH_URL) as test_client:
        yield test_client


def _ws_session(client: TestClient, database: AuthDatabase) -> Session:
    result: list[Session] = []

    async def make() -> None:
        result.append(await database.sign_in())

    client.portal.call(make)  # type: ignore[union-attr]
    return result[0]


def test_websocket_cookie_needs_a_trusted_origin(
    ws_client: TestClient, database: AuthDatabase
) -> None:
    session = _ws_session(ws_client, database)
    headers = {**cookie(session), "Origin": APP_ORIGIN}
    with ws_client.websocket_connect("/ws", headers=headers) as socket:
        assert socket.receive_json()["session_id"] == session.session_id
    for origin in ({"Origin": EVIL_ORIGIN}, {}):
        with (
            ws_client.websocket_connect("/ws", headers={**cookie(session), **origin}) as socket,
            pytest.raises(WebSocketDisconnect) as closed,
        ):
            socket.receive_json()
        assert closed.value.code == 1008
        assert closed.value.reason == "csrf_rejected"


# ---- robustness: any cookie or origin bytes get a clean answer ----------------------------------

COOKIE_NAME = b"better-auth.session_token"
REFUSALS = {401: {"token_missing", "invalid_token"}, 403: {"csrf_rejected"}}


async def raw_call(app: Any, method: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, Any]:
    """One request straight into the ASGI app, below any HTTP client's header checks."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": "/items" if method != "GET" else "/me",
        "raw_path": b"/items",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"api.test"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 443),
    }
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        messages.append(dict(message))

    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return messages[0]["status"], json.loads(body)


@pytest.fixture
async def live_app(database: AuthDatabase, jwt_issuer: FakeIssuer) -> AsyncIterator[Any]:
    app = build_app(AuthBridge.from_settings(session_settings(database, jwt_issuer)))
    async with LifespanManager(app) as manager:
        yield manager.app


@pytest.fixture
async def live_session(database: AuthDatabase) -> Session:
    return await database.sign_in()


junk = st.binary(max_size=200)
cookie_values = st.one_of(
    junk,
    st.builds(lambda v: COOKIE_NAME + b"=" + v, junk),
    st.builds(lambda v: b"a=1; " + COOKIE_NAME + b"=" + v + b"; b=2", junk),
)
origins = st.one_of(
    junk,
    st.sampled_from([APP_ORIGIN, AUTH_URL, EVIL_ORIGIN, "null", ""]).map(str.encode),
)


@hypothesis_settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    cookie_value=cookie_values,
    origin=st.one_of(st.none(), origins),
    referer=st.one_of(st.none(), origins),
)
async def test_any_cookie_and_origin_is_answered_cleanly(
    live_app: Any,
    method: str,
    cookie_value: bytes,
    origin: bytes | None,
    referer: bytes | None,
) -> None:
    headers = [(b"cookie", cookie_value)]
    if origin is not None:
        headers.append((b"origin", origin))
    if referer is not None:
        headers.append((b"referer", referer))
    status, body = await raw_call(live_app, method, headers)
    assert status in REFUSALS, body  # no valid session cookie among these bytes
    assert body["code"] in REFUSALS[status]


@hypothesis_settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(method=st.sampled_from(["GET", "POST", "DELETE"]), origin=origins, referer=origins)
async def test_a_valid_cookie_passes_exactly_when_the_origin_is_trusted(
    live_app: Any, live_session: Session, method: str, origin: bytes, referer: bytes
) -> None:
    cookie_header = COOKIE_NAME + b"=" + live_session.cookie_value.encode()
    headers = [(b"cookie", cookie_header), (b"origin", origin), (b"referer", referer)]
    status, body = await raw_call(live_app, method, headers)
    trusted = origin in (APP_ORIGIN.encode(), AUTH_URL.encode())
    if method == "GET" or trusted:
        assert status == 200, body
        assert body["sub"] == live_session.user_id
    else:
        assert (status, body["code"]) == (403, "csrf_rejected")
