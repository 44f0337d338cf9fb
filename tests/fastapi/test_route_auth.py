"""Routes that require a credential first are authenticated before FastAPI solves their
dependencies (``route_auth.py``). Each behaviour is checked against the plain dependency path
it must equal: the same app served with the header middleware alone (no route wrapping)
gives byte-identical answers and identical audit events; routes where anything could answer
first, optional credentials and overrides keep the dependency path.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Annotated, Any

import msgspec
import pytest
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Request, Security
from fastapi.security import SecurityScopes
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

from authbridge.fastapi import (
    ActiveOrganization,
    AuthBridge,
    CurrentUser,
    OptionalUser,
    current_user,
    get_principal,
    require_roles,
    require_scopes,
)
from authbridge.fastapi.dependencies import BearerPrincipal
from authbridge.fastapi.middleware import AuthStateMiddleware, slot_of
from authbridge.fastapi.route_auth import RouteAuthMiddleware, _contexts
from authbridge.principal import Principal
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


@pytest.mark.parametrize("fast", [False, True], ids=["route wrapper", "protect="])
async def test_a_new_lone_bearer_token_skips_the_full_path(
    issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    """A new bearer token that is the request's one credential goes straight to the verifier
    (``settle_token``), on the route wrapper as on the fast path: the full path
    (``Authenticator.resolve``, behind ``settle``) runs only for what needs its checks."""
    bridge = make_bridge(issuer)
    full_path: list[str] = []
    resolve = bridge.resolve

    async def counted(connection: Any) -> tuple[Principal, bool]:
        full_path.append(connection.url.path)
        return await resolve(connection)

    monkeypatch.setattr(bridge, "resolve", counted)
    app = build(bridge, fast=fast)
    good = issuer.token(issuer.make_user(id="user-1"))
    forged = FakeIssuer(issuer.base_url).token()
    async with client_for(app) as client:
        assert (await client.get("/api/me", headers=bearer(good))).json() == {"sub": "user-1"}
        assert (await client.get("/api/me", headers=bearer(forged))).status_code == 401
        assert full_path == []
        # Not one b64token: the full path gives the verdict (400), after the verifier's 401.
        odd = [("authorization", "Bearer " + forged[:-1] + "%")]
        assert (await client.get("/api/me", headers=odd)).status_code == 400
        assert full_path == ["/api/me"]
        # A second credential in the query: the full path refuses the pair.
        params = {"access_token": "x"}
        assert (await client.get("/api/me", headers=bearer(good), params=params)).status_code == 400
    assert full_path == ["/api/me", "/api/me"]
    assert fast or wrapped(app, "/api/me")


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


class Shape(msgspec.Struct):
    id: str
    favorite_color: str


Shaped = Annotated[Shape, current_user(Shape)]
ReadScope = Annotated[Principal, Security(get_principal, scopes=["tasks:read"])]


def shortcut_app(bridge: AuthBridge, protect: tuple[str, ...] = ()) -> FastAPI:
    """Routes whose first dependency FastAPI no longer solves (the wrapper admits the caller
    and hands the endpoint its value), next to routes that keep solving it."""
    app = FastAPI()
    if protect:
        bridge.install(app, protect=protect)
    else:
        bridge.install(app)

    @app.get("/scoped")
    async def scoped(user: ReadScope, page: int = 1) -> dict[str, Any]:
        return {"sub": user.sub, "page": page}

    # A route-level guard with FastAPI scopes of its own; a query parameter to validate.
    @app.get(
        "/route-level",
        dependencies=[Security(require_scopes("tasks:read"), scopes=["tasks:write"])],
    )
    async def route_level(page: int = 1) -> dict[str, Any]:
        return {"page": page}

    @app.get("/org")
    async def org(organization: ActiveOrganization) -> dict[str, str]:
        return {"organization": organization}

    @app.get("/shaped")
    async def shaped(user: Shaped) -> dict[str, str]:
        return {"id": user.id, "color": user.favorite_color}

    @app.get("/twice")
    async def twice(
        request: Request, user: CurrentUser, admin: AdminUser, sub: Annotated[str, Depends(nested)]
    ) -> dict[str, Any]:
        assert principal_of_slot(request) is user is admin
        return {"sub": user.sub, "nested": sub}

    @app.get("/sync")
    def sync(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    return app


AdminUser = Annotated[Principal, Depends(require_roles("admin"))]


def nested(user: CurrentUser) -> str:
    """A dependency of the app's own taking ``CurrentUser`` in turn."""
    return user.sub


def principal_of_slot(request: Request) -> object:
    return slot_of(request.scope).result


@pytest.mark.parametrize("protect", [(), ("/",)], ids=["dependency path", "protect="])
async def test_the_shortcut_answers_as_the_dependency_path(
    issuer: FakeIssuer,
    audit_events_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    protect: tuple[str, ...],
) -> None:
    """The wrapper admits the caller itself (scopes, roles, organization, typed users) and
    FastAPI does not solve that first dependency: same answers and audit events. Under
    ``protect=`` the middleware has authenticated first; the shortcut is the same."""
    reader = issuer.token(issuer.make_user(id="r-1", favoriteColor="teal"), scope="tasks:read")
    writer = issuer.token(issuer.make_user(id="w-1"), scope="tasks:read tasks:write")
    admin = issuer.token(issuer.make_user(id="a-1", favoriteColor="red"), role="admin")
    member = issuer.token(activeOrganizationId="org-1", organizationRole="member")
    table: list[tuple[str, str, dict[str, Any]]] = []
    for token in (reader, writer, admin, member):
        for path in ("/scoped", "/route-level", "/org", "/shaped", "/twice", "/sync"):
            table.append(("GET", path, {"headers": bearer(token)}))
            table.append(("GET", path, {"headers": bearer(token), "params": {"page": "x"}}))
    table.append(("GET", "/scoped", {}))
    calls: list[str] = []
    solved = BearerPrincipal.__call__

    async def counting(self: BearerPrincipal, *args: Any, **values: Any) -> Any:
        calls.append(type(self).__name__)
        return await solved(self, *args, **values)

    plain_bridge = make_bridge(issuer)
    plain_app = without_route_auth(shortcut_app(plain_bridge), plain_bridge)
    app = shortcut_app(make_bridge(issuer), protect)
    # After the routes are built: FastAPI reads the dependency's signature then.
    monkeypatch.setattr(BearerPrincipal, "__call__", counting)
    plain, plain_events = await run(plain_app, table, audit_events_log)
    plain_calls, calls[:] = len(calls), []
    routed, routed_events = await run(app, table, audit_events_log)
    for (method, path, kwargs), expected, got in zip(table, plain, routed, strict=True):
        assert got == expected, (method, path, kwargs)
    assert routed_events == plain_events
    statuses = {(path, answer[0]) for (_, path, _), answer in zip(table, routed, strict=True)}
    assert statuses == {
        ("/scoped", 200), ("/scoped", 422), ("/scoped", 403), ("/scoped", 401),
        ("/route-level", 200), ("/route-level", 422), ("/route-level", 403),
        ("/org", 200), ("/org", 403),
        ("/shaped", 200), ("/shaped", 401),
        ("/twice", 200), ("/twice", 403),
        ("/sync", 200),
    }  # fmt: skip
    # FastAPI solved each dependency on the plain path; with the shortcut, only those after
    # the first: /twice's guard on every request (2 per token), its nested CurrentUser when
    # the guard passes (the admin's 2), and /sync's (a sync endpoint keeps the dependency).
    assert Counter(calls) == {"RoleGuard": 8, "BearerPrincipal": 10}
    # The plain path: per token, /scoped, /route-level, /org and /sync 2 × 1, /twice 2 × 2
    # (its nested CurrentUser is FastAPI's cached first one), /shaped 0 (``TypedUser``
    # has its own ``__call__``, not counted here); then the anonymous request's 401.
    assert plain_calls == 4 * 12 + 1


class AppGuard(BearerPrincipal):
    """An app's own subclass: its ``__call__`` must still run."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        principal = await super().__call__(request, security_scopes)
        self.seen.append(principal.sub)
        return principal


APP_GUARD = AppGuard()
AppGuarded = Annotated[Principal, Depends(APP_GUARD)]


async def test_an_apps_own_subclass_keeps_its_call(issuer: FakeIssuer) -> None:
    guard = APP_GUARD
    guard.seen.clear()
    app = FastAPI()
    make_bridge(issuer).install(app)

    @app.get("/guarded")
    async def guarded(user: AppGuarded) -> dict[str, str]:
        return {"sub": user.sub}

    token = issuer.token(issuer.make_user(id="own-1"))
    async with client_for(app) as client:
        for _ in range(2):
            assert (await client.get("/guarded", headers=bearer(token))).json() == {"sub": "own-1"}
    assert wrapped(app, "/guarded")  # authenticated ahead, but FastAPI still calls the guard
    assert guard.seen == ["own-1", "own-1"]
