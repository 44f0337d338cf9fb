"""The fast path, ``bridge.install(app, protect=(...))``: the middleware authenticates.

Each behaviour is checked against the dependency path it must equal: the same routes are
served by an app using ``CurrentUser`` (no ``protect``) and by one using ``protect=("/api/",)``,
and every good and bad request gets byte-identical answers (status, raw header list, body) and
identical audit events from both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse, Response
from test_cookies import (
    APP_ORIGIN,
    AUTH_URL,
    EVIL_ORIGIN,
    AuthDatabase,
    cookie,
    session_settings,
)
from test_fastapi_rfc6750 import (
    INVALID_REQUEST,
    INVALID_TOKEN,
    REALM_ONLY,
    failing_tokens,
)

from authbridge.fastapi import (
    AuthBridge,
    AuthHTTPException,
    CurrentUser,
    FailureThrottle,
    OptionalUser,
    WebSocketUser,
    principal_of,
    require_roles,
    require_scopes,
)
from authbridge.fastapi.audit import AuditLog
from authbridge.keys.remote import RemoteJWKS
from authbridge.principal import Principal
from authbridge.testing import FakeIssuer
from authbridge.verifier import TrustedIssuer, Verifier
from harness.better_auth_tables import sqlite_ddl

PROTECT = ("/api/",)
ReadWriteUser = Annotated[Principal, Depends(require_scopes("tasks:read", "tasks:write"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]

Request_ = tuple[str, str, dict[str, Any]]  # method, path, httpx keyword arguments


def build(bridge: AuthBridge, *, fast: bool) -> FastAPI:
    """The same routes either way; ``fast`` only changes how the bridge is installed."""
    app = FastAPI()
    if fast:
        bridge.install(app, protect=PROTECT)
    else:
        bridge.install(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/apix")
    async def apix() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/api/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"sub": user.sub}

    @app.post("/api/submit")
    async def submit(request: Request, user: CurrentUser) -> dict[str, Any]:
        # The form check read the body first: the endpoint must still get all of it.
        form = parse_qs((await request.body()).decode())
        return {"sub": user.sub, "note": form.get("note")}

    @app.get("/api/read-write")
    async def read_write(user: ReadWriteUser) -> dict[str, Any]:
        return {"sub": user.sub}

    @app.get("/api/admin")
    async def admin(user: Admin) -> dict[str, Any]:
        return {"sub": user.sub}

    @app.get("/api/maybe")
    async def maybe(user: OptionalUser) -> dict[str, Any]:
        return {"sub": user.sub if user else None}

    @app.get("/api/own-policy")
    async def own_policy(user: CurrentUser, vary: str = "Accept") -> Response:
        # The endpoint's Cache-Control is kept and its Vary extended, on both paths.
        headers = {"Cache-Control": "private, max-age=30", "Vary": vary}
        return PlainTextResponse(user.sub, headers=headers)

    if fast:  # dependency-free handlers: what the fast path is for

        @app.get("/api/plain")
        async def plain(request: Request) -> dict[str, Any]:
            return {"sub": principal_of(request).sub}

        @app.get("/api/places")
        async def places(request: Request) -> dict[str, Any]:
            return {
                "state": request.state.principal.sub,
                "user": request.user.sub,
                "helper": principal_of(request).sub,
            }

        @app.get("/open/who")
        async def who(request: Request) -> dict[str, Any]:
            return {"sub": principal_of(request).sub}

    return app


def make_bridge(issuer: FakeIssuer) -> AuthBridge:
    # No throttling: the two runs must log the same events whatever their timing.
    audit = AuditLog(throttle=FailureThrottle(per_key=10_000, overall=10_000))
    return AuthBridge(issuer.verifier(), audit=audit)


@asynccontextmanager
async def client_for(app: FastAPI, **transport: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        asgi = httpx.ASGITransport(app=manager.app, **transport)
        async with httpx.AsyncClient(transport=asgi, base_url="http://testserver") as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def request_table(issuer: FakeIssuer) -> list[Request_]:
    """Good and bad requests, in order (a good token is sent twice: miss, then cache hit)."""
    good = issuer.token(issuer.make_user(id="user-1"), scope="tasks:read")
    admin = issuer.token(issuer.make_user(id="admin-1"), role="admin")
    table: list[Request_] = [
        ("GET", "/api/me", {}),
        ("GET", "/api/me", {"headers": {"Authorization": "Basic dXNlcjpwYXNz"}}),
        ("GET", "/api/me", {"headers": bearer(good)}),
        ("GET", "/api/me", {"headers": bearer(good)}),
        ("GET", "/api/me", {"headers": [("authorization", "Bearer  " + good)]}),
        ("GET", "/api/me", {"headers": [("authorization", "Bearer " + good + " x")]}),
        ("GET", "/api/me", {"headers": [("authorization", "Bearer")]}),
        ("GET", "/api/me", {"headers": [("authorization", 'Bearer "a.b.c"')]}),
        # Not a b64token, never in the cache: the fast path verifies first, then must still
        # answer 400 as the full path does; a b64token that is no JWT is a 401.
        ("GET", "/api/me", {"headers": [("authorization", "Bearer " + good[:-1] + "%")]}),
        ("GET", "/api/me", {"headers": [("authorization", b"Bearer \xe9" + good[1:].encode())]}),
        ("GET", "/api/me", {"headers": [("authorization", "Bearer ====")]}),
        ("GET", "/api/me", {"headers": [("authorization", "Bearer " + good + "=")]}),
        ("GET", "/api/me", {"headers": [("authorization", "Bearer " + good[:-1] + "~")]}),
        ("GET", "/api/me", {"headers": [("authorization", "Bearer a/b+c")]}),
        ("GET", "/api/me", {"headers": [("Authorization", f"Bearer {good}")] * 2}),
        ("GET", "/api/me", {"headers": bearer(good), "params": {"access_token": "x"}}),
        ("GET", "/api/me", {"params": {"access_token": good}}),
        ("POST", "/api/submit", {"headers": bearer(good), "data": {"note": "hi"}}),
        ("POST", "/api/submit", {"headers": bearer(good), "data": {"access_token": good}}),
        ("POST", "/api/submit", {"data": {"access_token": good}}),
        ("POST", "/api/submit", {"headers": bearer(good), "json": {"access_token": "x"}}),
        ("GET", "/api/read-write", {"headers": bearer(good)}),
        ("GET", "/api/admin", {"headers": bearer(good)}),
        ("GET", "/api/admin", {"headers": bearer(admin)}),
        ("GET", "/api/maybe", {"headers": bearer(good)}),
        ("GET", "/api/own-policy", {"headers": bearer(good)}),
        ("GET", "/api/own-policy", {"headers": bearer(good), "params": {"vary": "*"}}),
        ("GET", "/api/own-policy", {"headers": bearer(good), "params": {"vary": "authorization"}}),
        ("GET", "/healthz", {"headers": bearer("not-even-a-jwt")}),
        ("GET", "/healthz", {}),
        ("GET", "/apix", {}),
    ]
    forged = FakeIssuer(issuer.base_url).token(scope="tasks:read tasks:write", role="admin")
    for path in ("/api/read-write", "/api/admin", "/api/me"):
        table.append(("GET", path, {"headers": bearer(forged)}))
    for token in failing_tokens(issuer).values():
        table.append(("GET", "/api/me", {"headers": bearer(token)}))
    return table


def with_request_id(kwargs: dict[str, Any], number: int) -> dict[str, Any]:
    """A fixed X-Request-ID, so audit events from the two runs can be compared whole."""
    headers = kwargs.get("headers", {})
    extra = ("X-Request-ID", f"req-{number}")
    headers = [*headers.items(), extra] if isinstance(headers, dict) else [*headers, extra]
    return {**kwargs, "headers": headers}


def snapshot(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return response.status_code, list(response.headers.raw), response.content


@pytest.fixture
def audit_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="httpx")  # it logs URLs, some with tokens
    caplog.set_level(logging.DEBUG, logger="authbridge.audit")  # last: sets the handler level
    return caplog


def audit_events(records: list[logging.LogRecord]) -> list[dict[str, Any]]:
    return [dict(getattr(r, "audit")) for r in records if r.name == "authbridge.audit"]  # noqa: B009


async def run(
    app: FastAPI, table: list[Request_], log: pytest.LogCaptureFixture
) -> tuple[list[Any], list[dict[str, Any]]]:
    start = len(log.records)
    answers = []
    async with client_for(app) as client:
        for number, (method, path, kwargs) in enumerate(table):
            response = await client.request(method, path, **with_request_id(kwargs, number))
            answers.append(snapshot(response))
    return answers, audit_events(log.records[start:])


# ---- equivalence with the dependency path ---------------------------------------------------


async def test_same_answers_and_audit_events_as_the_dependency_path(
    issuer: FakeIssuer, audit_log: pytest.LogCaptureFixture
) -> None:
    table = request_table(issuer)
    slow, slow_events = await run(build(make_bridge(issuer), fast=False), table, audit_log)
    fast, fast_events = await run(build(make_bridge(issuer), fast=True), table, audit_log)
    for (method, path, _), expected, got in zip(table, slow, fast, strict=True):
        assert got == expected, (method, path)
    assert fast_events == slow_events
    # The table really covers every kind of answer.
    statuses = {answer[0] for answer in fast}
    assert statuses == {200, 400, 401, 403}
    assert len(fast_events) >= len(table) - 3  # every /api/ request logged one event


async def test_dependency_free_handler_answers_like_current_user(issuer: FakeIssuer) -> None:
    token = issuer.token(issuer.make_user(id="user-1"))
    async with client_for(build(make_bridge(issuer), fast=False)) as slow:
        expected = [snapshot(await slow.get("/api/me", headers=bearer(t))) for t in (token, "x")]
    async with client_for(build(make_bridge(issuer), fast=True)) as fast:
        got = [snapshot(await fast.get("/api/plain", headers=bearer(t))) for t in (token, "x")]
    assert got == expected
    assert got[0][0] == 200
    assert got[1][0] == 401


# ---- the RFC 6750 table through the fast path ------------------------------------------------


@pytest.fixture
async def fast_client(issuer: FakeIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(build(make_bridge(issuer), fast=True)) as client:
        yield client


async def test_no_credentials_is_a_bare_challenge(fast_client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = await fast_client.get("/api/plain", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == REALM_ONLY
        assert response.json() == {"detail": "Authentication is required.", "code": "token_missing"}


async def test_every_token_failure_is_one_401(
    fast_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    answers = set()
    for reason, token in failing_tokens(issuer).items():
        response = await fast_client.get("/api/plain", headers=bearer(token))
        assert response.status_code == 401, reason
        assert response.headers["www-authenticate"] == INVALID_TOKEN
        assert response.headers["cache-control"] == "no-store"
        answers.add((response.headers["www-authenticate"], response.text))
    assert answers == {
        (
            INVALID_TOKEN,
            '{"detail":"The access token is invalid or has expired.","code":"invalid_token"}',
        )
    }


async def test_malformed_or_duplicate_credentials_are_400(
    fast_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = issuer.token()
    assert (await fast_client.get("/api/plain", headers=bearer(token))).status_code == 200
    cases: list[dict[str, Any]] = [  # the token is cached now: the checks must still run
        {"headers": [("Authorization", f"Bearer {token}")] * 2},
        {"headers": bearer(token), "params": {"access_token": "x"}},
        {"headers": [("authorization", f"Bearer  {token}")]},
        {"headers": [("authorization", f"Bearer {token} ")]},
        {"headers": [("authorization", "Bearer a.b.c extra")]},
    ]
    # A name percent-encoded in the URL (httpx would normalize it if passed as params).
    encoded = await fast_client.get("/api/plain?access%5Ftoken=x", headers=bearer(token))
    assert encoded.status_code == 400
    assert encoded.json()["code"] == "invalid_request"
    for kwargs in cases:
        response = await fast_client.get("/api/plain", **kwargs)
        assert response.status_code == 400
        assert response.headers["www-authenticate"] == INVALID_REQUEST
        assert response.json()["code"] == "invalid_request"
    form = await fast_client.post(
        "/api/submit", headers=bearer(token), data={"access_token": token}
    )
    assert form.status_code == 400


async def test_form_body_survives_the_form_check(
    fast_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await fast_client.post(
        "/api/submit", headers=bearer(issuer.token()), data={"note": "kept"}
    )
    assert response.status_code == 200
    assert response.json()["note"] == ["kept"]


async def test_keys_unavailable_is_503_with_retry_after() -> None:
    issuer = FakeIssuer(base_url=None)
    with issuer.serving() as jwks_url:
        assert issuer.server is not None
        issuer.server.status = 503
        verifier = Verifier(
            TrustedIssuer.create(
                RemoteJWKS(jwks_url, timeout=2.0), issuer=issuer.base_url, audience=issuer.base_url
            )
        )
        app = build(AuthBridge(verifier), fast=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.get("/api/plain", headers=bearer(issuer.token()))
        await verifier.aclose()
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["code"] == "keys_unavailable"


async def test_success_is_private_and_the_principal_is_everywhere(
    fast_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = issuer.token(issuer.make_user(id="user-7"))
    for _ in range(2):  # a miss, then a cache hit
        response = await fast_client.get("/api/places", headers=bearer(token))
        assert response.json() == {"state": "user-7", "user": "user-7", "helper": "user-7"}
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["vary"] == "Authorization"


@pytest.mark.parametrize(
    ("vary", "expected"),
    [("Accept", "Accept, Authorization"), ("*", "*"), ("authorization", "authorization")],
)
async def test_an_endpoint_cache_policy_is_kept_and_vary_extended(
    fast_client: httpx.AsyncClient, issuer: FakeIssuer, vary: str, expected: str
) -> None:
    token = issuer.token()
    for _ in range(2):  # a miss, then a cache hit
        response = await fast_client.get(
            "/api/own-policy", params={"vary": vary}, headers=bearer(token)
        )
        assert response.text == issuer.user["id"]
        assert response.headers["cache-control"] == "private, max-age=30"
        assert response.headers["vary"] == expected
        assert len(response.headers.get_list("vary")) == 1


# ---- what stays untouched --------------------------------------------------------------------


async def test_unprotected_paths_are_untouched(fast_client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/apix", "/docs", "/openapi.json"):
        response = await fast_client.get(path, headers=bearer("not-even-a-jwt"))
        assert response.status_code == 200, path
        assert "cache-control" not in response.headers, path
        assert "vary" not in response.headers, path


async def test_principal_of_outside_protection_is_a_wiring_error(
    fast_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    with pytest.raises(RuntimeError, match="not authenticated"):
        await fast_client.get("/open/who", headers=bearer(issuer.token()))


async def test_prefixes_are_matched_on_the_route_path_behind_a_root_path(
    issuer: FakeIssuer,
) -> None:
    app = build(make_bridge(issuer), fast=True)
    async with client_for(app, root_path="/svc") as client:
        assert (await client.get("/svc/api/plain")).status_code == 401
        ok = await client.get("/svc/api/plain", headers=bearer(issuer.token()))
        assert ok.status_code == 200
        assert (await client.get("/svc/healthz")).status_code == 200


async def test_cors_preflight_is_left_to_the_cors_middleware(issuer: FakeIssuer) -> None:
    app = build(make_bridge(issuer), fast=True)
    app.add_middleware(CORSMiddleware, allow_origins=[APP_ORIGIN], allow_methods=["GET"])
    preflight = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"}
    async with client_for(app) as client:
        response = await client.options("/api/plain", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == APP_ORIGIN
        # A plain OPTIONS (not a preflight) is still authenticated.
        assert (await client.options("/api/plain")).status_code == 401


def test_prefixes_are_checked_at_install(issuer: FakeIssuer) -> None:
    with pytest.raises(ValueError, match="start"):
        make_bridge(issuer).install(FastAPI(), protect=("api/",))
    app = FastAPI()
    make_bridge(issuer).install(app, protect="/api/")  # one prefix as a plain string
    assert app.user_middleware[0].kwargs["protect"] == ("/api/",)


# ---- guards and single verification ---------------------------------------------------------


async def test_guards_still_apply_and_verify_nothing_twice(
    fast_client: httpx.AsyncClient, issuer: FakeIssuer, audit_log: pytest.LogCaptureFixture
) -> None:
    reader = issuer.token(scope="tasks:read")
    both = issuer.token(scope="tasks:read tasks:write")
    start = len(audit_log.records)
    denied = await fast_client.get("/api/read-write", headers=bearer(reader))
    assert denied.status_code == 403
    assert 'scope="tasks:read tasks:write"' in denied.headers["www-authenticate"]
    assert (await fast_client.get("/api/read-write", headers=bearer(both))).status_code == 200
    assert (await fast_client.get("/api/admin", headers=bearer(both))).status_code == 403
    admin = issuer.token(role="admin")
    assert (await fast_client.get("/api/admin", headers=bearer(admin))).status_code == 200
    events = audit_events(audit_log.records[start:])
    # One verification per request (the guard reuses it), plus the two denials.
    assert [(e["outcome"], e.get("cached")) for e in events] == [
        ("success", False),
        ("denied", None),
        ("success", False),
        ("success", True),  # ``both`` again: a cache hit
        ("denied", None),
        ("success", False),
    ]


async def test_optional_user_under_protection_requires_credentials(
    fast_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    assert (await fast_client.get("/api/maybe")).status_code == 401
    response = await fast_client.get("/api/maybe", headers=bearer(issuer.token()))
    assert response.json()["sub"] == issuer.user["id"]


# ---- OpenAPI -----------------------------------------------------------------------------------


async def test_protected_routes_declare_the_bearer_requirement(
    fast_client: httpx.AsyncClient,
) -> None:
    schema = (await fast_client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert paths["/api/plain"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/places"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/read-write"]["get"]["security"] == [
        {"bearerAuth": ["tasks:read", "tasks:write"]}
    ]
    assert paths["/api/maybe"]["get"]["security"] == [{"bearerAuth": []}]  # no anonymous {}
    for open_path in ("/healthz", "/apix", "/open/who"):
        assert "security" not in paths[open_path]["get"], open_path
    scheme = schema["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


async def test_scheme_is_declared_even_without_any_dependency(issuer: FakeIssuer) -> None:
    app = FastAPI()
    make_bridge(issuer).install(app, protect=PROTECT)

    @app.get("/api/only")
    async def only(request: Request) -> dict[str, str]:
        return {"sub": principal_of(request).sub}

    schema = app.openapi()
    assert schema["paths"]["/api/only"]["get"]["security"] == [{"bearerAuth": []}]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


# ---- session cookies and CSRF: the same as the dependency path --------------------------------


@pytest.fixture
async def database(tmp_path: Path) -> AuthDatabase:
    db = AuthDatabase(tmp_path / "auth.db", "s" * 8 + str(time.time_ns()))
    for statement in sqlite_ddl():
        await db.execute(statement)
    return db


async def test_session_cookies_and_csrf_match_the_dependency_path(
    database: AuthDatabase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    jwt_issuer = FakeIssuer(base_url=AUTH_URL)
    settings = session_settings(database, jwt_issuer)
    session = await database.sign_in()
    forged = {"Cookie": "better-auth.session_token=forged.c2lnbmF0dXJl"}
    table: list[Request_] = [
        ("GET", "/api/me", {"headers": cookie(session)}),
        ("GET", "/api/me", {"headers": forged}),
        ("POST", "/api/submit", {"headers": {**cookie(session), "Origin": APP_ORIGIN}}),
        ("POST", "/api/submit", {"headers": {**cookie(session), "Origin": EVIL_ORIGIN}}),
        ("POST", "/api/submit", {"headers": cookie(session)}),
        ("POST", "/api/submit", {"headers": {**bearer(session.signed), "Origin": EVIL_ORIGIN}}),
        ("GET", "/api/me", {"headers": bearer(session.cookie_value)}),
        ("GET", "/api/me", {}),
        # Bearers in session mode: b64token plus "%" reach the session store, others do not.
        ("GET", "/api/me", {"headers": bearer("forged.c2lnbmF0dXJl%3D")}),
        ("GET", "/api/me", {"headers": bearer('forged.c2lnbmF0dXJl"')}),
        ("GET", "/api/me", {"headers": [("authorization", b"Bearer forged.\xe9")]}),
    ]
    answers = []
    for fast in (False, True):
        app = build(AuthBridge.from_settings(settings), fast=fast)
        async with client_for(app) as client:
            run_answers = []
            for method, path, kwargs in table:
                run_answers.append(snapshot(await client.request(method, path, **kwargs)))
            answers.append(run_answers)
    slow, quick = answers
    assert quick == slow
    assert [answer[0] for answer in quick] == [
        200,
        401,
        200,
        403,
        403,
        200,
        200,
        401,
        401,
        400,
        400,
    ]
    assert (b"vary", b"Authorization, Cookie") in quick[0][1]


# ---- what the fast path leaves to others ------------------------------------------------------


def test_websockets_under_a_prefix_keep_their_own_authentication(issuer: FakeIssuer) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    app = build(make_bridge(issuer), fast=True)

    @app.websocket("/api/ws")
    async def ws(websocket: WebSocket, user: WebSocketUser) -> None:
        await websocket.send_json({"sub": user.sub})
        await websocket.close()

    with (
        TestClient(app) as client,
        client.websocket_connect("/api/ws", subprotocols=["bearer", issuer.token()]) as socket,
    ):
        assert socket.receive_json() == {"sub": issuer.user["id"]}


async def test_the_apps_own_handler_for_auth_errors_is_used(issuer: FakeIssuer) -> None:
    app = build(make_bridge(issuer), fast=True)

    async def teapot(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthHTTPException)
        return PlainTextResponse(exc.code, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(AuthHTTPException, teapot)
    async with client_for(app) as client:
        response = await client.get("/api/plain", headers=bearer("nope"))
    assert response.status_code == 401
    assert response.text == "invalid_token"
    assert response.headers["www-authenticate"] == INVALID_TOKEN
