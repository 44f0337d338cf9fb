"""Routes that require a credential first are authenticated before FastAPI solves their
dependencies (``route_auth.py``). Each behaviour is checked against the plain dependency path
it must equal: the same app served with the header middleware alone (no route wrapping)
gives byte-identical answers and identical audit events; routes where anything could answer
first, optional credentials and overrides keep the dependency path.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException
from starlette.middleware import Middleware
from test_fast_path import (
    bearer,
    build,
    client_for,
    make_bridge,
    request_table,
    run,
    snapshot,
)

from authbridge.fastapi import AuthBridge, CurrentUser, OptionalUser
from authbridge.fastapi.middleware import AuthStateMiddleware
from authbridge.fastapi.route_auth import RouteAuthMiddleware, _contexts
from authbridge.testing import FakeIssuer, override_user

_APPROVED = "_authbridge_route_auth"


@pytest.fixture
def audit_events_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="httpx")  # it logs URLs, some with tokens
    caplog.set_level(logging.DEBUG, logger="authbridge.audit")  # last: sets the handler level
    return caplog


def without_route_auth(app: FastAPI, bridge: AuthBridge) -> FastAPI:
    """The app as the dependency path alone serves it: the header middleware only."""
    index = next(i for i, m in enumerate(app.user_middleware) if m.cls is RouteAuthMiddleware)
    app.user_middleware[index] = Middleware(AuthStateMiddleware, bridge=bridge)
    return app


def wrapped(app: FastAPI, path: str) -> bool:
    """Whether ``app`` authenticates ``path`` before its dependencies."""
    route = next(r for r, _ in _contexts(app) if r.path == path)  # included routers' too
    return app in getattr(route, _APPROVED, {})


async def test_same_answers_and_audit_events_as_the_plain_dependency_path(
    issuer: FakeIssuer, audit_events_log: pytest.LogCaptureFixture
) -> None:
    audit_log = audit_events_log
    table = request_table(issuer)
    plain_bridge = make_bridge(issuer)
    plain_app = without_route_auth(build(plain_bridge, fast=False), plain_bridge)
    plain, plain_events = await run(plain_app, table, audit_log)
    app = build(make_bridge(issuer), fast=False)
    routed, routed_events = await run(app, table, audit_log)
    for (method, path, _), expected, got in zip(table, plain, routed, strict=True):
        assert got == expected, (method, path)
    assert routed_events == plain_events
    assert {answer[0] for answer in routed} == {200, 400, 401, 403}
    # Required credentials first: wrapped. Optional ones and open routes: not.
    for path in ("/api/me", "/api/submit", "/api/read-write", "/api/admin"):
        assert wrapped(app, path), path
    for path in ("/api/maybe", "/healthz"):
        assert not wrapped(app, path), path
    assert not wrapped(plain_app, "/api/me")


def json_bearer(token: str) -> dict[str, str]:
    return {**bearer(token), "Content-Type": "application/json"}


def not_found() -> None:
    raise HTTPException(status_code=404, detail="no such thing")


def ordered_app(bridge: AuthBridge) -> FastAPI:
    """Routes where something other than the credential could answer first."""
    app = FastAPI()
    bridge.install(app)

    @app.get("/first-404", dependencies=[Depends(not_found)])
    async def first_404(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    @app.post("/body")
    async def body(user: CurrentUser, note: Annotated[str, Body(embed=True)]) -> dict[str, str]:
        return {"sub": user.sub, "note": note}

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    router = APIRouter()

    @router.get("/routed")
    async def routed(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    app.include_router(router)

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, Any]:
        return {"sub": user.sub if user else None}

    return app


async def test_whatever_answered_first_still_does(issuer: FakeIssuer) -> None:
    forged = FakeIssuer(issuer.base_url).token()
    bridge = make_bridge(issuer)
    app = ordered_app(bridge)
    plain_bridge = make_bridge(issuer)
    plain_app = without_route_auth(ordered_app(plain_bridge), plain_bridge)
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/first-404", {"headers": bearer(forged)}),  # the other dependency: 404
        # FastAPI parses a JSON body before any dependency: 422 first.
        ("POST", "/body", {"headers": json_bearer(forged), "content": b"{not json"}),
        ("POST", "/body", {"headers": bearer(forged), "json": {"note": "x"}}),  # 401
        ("POST", "/me", {}),  # 405 before any credential check
        ("GET", "/me", {"headers": bearer(forged)}),  # 401
        ("GET", "/maybe", {"headers": bearer(forged)}),  # 401
        ("GET", "/maybe", {}),  # anonymous
    ]
    answers = []
    for application in (plain_app, app):
        async with client_for(application) as client:
            answers.append([snapshot(await client.request(m, p, **kw)) for m, p, kw in requests])
    assert answers[1] == answers[0]
    assert [a[0] for a in answers[1]] == [404, 422, 401, 405, 401, 401, 200]
    assert wrapped(app, "/me")
    for path in ("/first-404", "/body", "/maybe"):
        assert not wrapped(app, path), path


async def test_overrides_are_honoured(issuer: FakeIssuer) -> None:
    app = ordered_app(make_bridge(issuer))
    async with client_for(app) as client:
        assert (await client.get("/me")).status_code == 401  # wraps the routes
        assert wrapped(app, "/me")
        assert wrapped(app, "/routed")
        for path in ("/me", "/routed"):  # an included router's route too
            with override_user(app, issuer.principal(issuer.make_user(id="stand-in"))):
                response = await client.get(path)
                assert response.status_code == 200
                assert response.json() == {"sub": "stand-in"}
            with override_user(app, None):
                assert (await client.get(path)).status_code == 401
            assert (await client.get(path)).status_code == 401


async def test_routes_added_after_the_first_request_are_wrapped(issuer: FakeIssuer) -> None:
    app = ordered_app(make_bridge(issuer))
    token = issuer.token(issuer.make_user(id="late-1"))
    async with client_for(app) as client:
        assert (await client.get("/me")).status_code == 401

        @app.get("/late")
        async def late(user: CurrentUser) -> dict[str, str]:
            return {"sub": user.sub}

        assert (await client.get("/late")).status_code == 401
        assert wrapped(app, "/late")
        response = await client.get("/late", headers=bearer(token))
        assert response.json() == {"sub": "late-1"}


async def test_a_router_shared_by_apps_is_judged_by_each(issuer: FakeIssuer) -> None:
    """One router included in three apps: each app authenticates with its own bridge, and an
    app whose inclusion puts another dependency first keeps the dependency path."""
    other = FakeIssuer("https://other.example.test")
    router = APIRouter()

    @router.get("/shared")
    async def shared(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    def app_for(bridge: AuthBridge, **include: Any) -> FastAPI:
        app = FastAPI()
        bridge.install(app)
        app.include_router(router, **include)
        return app

    first = app_for(make_bridge(issuer))
    second = app_for(make_bridge(other))
    guarded = app_for(make_bridge(issuer), dependencies=[Depends(not_found)])
    mine = bearer(issuer.token(issuer.make_user(id="mine")))
    theirs = bearer(other.token(other.make_user(id="theirs")))
    async with client_for(first) as a, client_for(second) as b, client_for(guarded) as c:
        assert (await a.get("/shared", headers=mine)).json() == {"sub": "mine"}
        assert (await a.get("/shared", headers=theirs)).status_code == 401
        assert (await b.get("/shared", headers=theirs)).json() == {"sub": "theirs"}
        assert (await b.get("/shared", headers=mine)).status_code == 401
        assert (await c.get("/shared", headers=theirs)).status_code == 404
        assert (await c.get("/shared", headers=mine)).status_code == 404
    assert wrapped(first, "/shared")
    assert wrapped(second, "/shared")
    assert not wrapped(guarded, "/shared")
