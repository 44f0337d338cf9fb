"""The dependency path at the fast path's cost: authenticate a route's request before FastAPI
solves its dependencies.

A route whose first dependency (in the order FastAPI solves them) is a required authbridge
credential (``CurrentUser``, ``current_user(...)``, a ``require_*`` guard, ...) would verify
the credential first anyway. So ``RouteAuthMiddleware`` has each app approve such routes
(on its first request, and again when ``app.routes`` grows or shrinks) and wraps their
``handle``; for an app that approved the route, the wrapper runs ``authenticate.py`` (the
token cache, then the full path, with the request's own bridge) before FastAPI's request
handler. A route added later inside an already included router is not seen: it keeps the
plain dependency path, which answers the same, only slower.

A refusal is answered at once, through the handler the app's exception middleware would
have picked for it, with the same audit event: no exception unwinds through FastAPI's
dependency solving and Starlette's exception handling (about a third of a refusal's cost).
A Principal is left in the request's ``AuthSlot``, where the dependency finds it with
``settled``.

When that first dependency is one of the route's own (not nested in another dependency),
FastAPI does not solve it at all: the wrapper admits the caller with the dependency's own
checks (``admit``: scopes, roles, organization, typed user; 403 or 401 answered as above)
and runs a handler built from a copy of the route's ``Dependant`` without it, whose endpoint
gets the admitted value as its argument. FastAPI's cost for one dependency is about twice all
of authbridge's work on a cached token. The route keeps its own ``Dependant`` (OpenAPI, the
plain path when overridden). Not for sync or streaming endpoints, routes with a body limit,
or the routes of an included router that FastAPI serves through a route context (recent
FastAPI versions): those keep FastAPI's solving after the wrapper.

A route keeps the plain dependency path when anything could answer differently:
* its first dependency is something else (it might answer first, or have side effects);
* it declares a request body (FastAPI parses it, and may answer 422, before any dependency);
* its credential is optional, or it is a WebSocket or a mounted app (not an ``APIRoute``);
* the request's method is not the route's (405 comes first);
* the app overrides any dependency of the route (``dependency_overrides``, ``override_user``).
"""

from __future__ import annotations

import dataclasses
import inspect
import weakref
from collections.abc import Iterator
from typing import Any, Final

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, request_response
from starlette.requests import HTTPConnection, Request
from starlette.types import Receive, Scope, Send

from ..principal import Principal
from .authenticate import Authenticator, from_cache_or_token, settle_token
from .dependencies import BearerPrincipal
from .middleware import SLOT_KEY, AuthSlot, AuthStateMiddleware
from .protect import ProtectingMiddleware, settle_or_answer
from .responses import AuthHTTPException, auth_exception_handler

__all__ = ["RouteAuthMiddleware", "RouteAuthProtectingMiddleware", "authenticate_routes"]

_APPROVED: Final = "_authbridge_route_auth"


def _solve_order(dependant: Dependant) -> Iterator[Dependant]:
    """The route's dependencies in the order FastAPI calls them (sub-dependencies first)."""
    for sub in dependant.dependencies:
        yield from _solve_order(sub)
        yield sub


def _needs_credential(dependant: Dependant) -> bool:
    """True when the first dependency FastAPI calls is a required authbridge credential."""
    first = next(_solve_order(dependant), None)
    call = first.call if first is not None else None
    return isinstance(call, BearerPrincipal) and not call.optional


def _contexts(app: Any) -> Iterator[tuple[APIRoute, Any]]:
    """(route, the effective route FastAPI runs for it): included routers' routes too."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # older FastAPI: included routes are flattened into app.routes
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route, route
        return
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            yield route, getattr(context, "_effective_route", route)


# Where the wrapper leaves the admitted dependency's value for the shortcut's endpoint.
_ADMITTED: Final = "authbridge.admitted"
_REQUEST_PARAM: Final = "_authbridge_request"


class _Shortcut:
    """A route whose first dependency is an authbridge credential, with a handler that does
    not solve that dependency: the wrapper admits the caller itself (the dependency's
    ``admit``, with the scopes FastAPI would pass it) and hands the value to the endpoint.
    FastAPI's cost for one dependency is about twice all of authbridge's own work on a
    cached token. The route's ``dependant`` (its OpenAPI, its overrides) stays as it was."""

    __slots__ = ("app", "dependency", "scopes")

    def __init__(self, dependency: BearerPrincipal, scopes: list[str], app: Any) -> None:
        self.dependency = dependency
        self.scopes = scopes
        self.app = app


def _shortcut(route: APIRoute) -> _Shortcut | None:
    """The route's shortcut, or None where it could answer differently than the route."""
    dependant = route.dependant
    first = dependant.dependencies[0] if dependant.dependencies else None
    dependency = first.call if first is not None else None
    endpoint = dependant.call
    if (
        first is None
        or not isinstance(dependency, BearerPrincipal)
        # Ours only: an app's own subclass may do more in its __call__ than admit does.
        or type(dependency).__module__ != BearerPrincipal.__module__
        or dependency.optional
        or first.dependencies  # solved before it: not ours to skip
        or endpoint is None
        or dependant.body_params
        or getattr(route, "max_body_size", None) is not None
        or getattr(route, "is_sse_stream", False)
        or getattr(route, "is_json_stream", False)
        or getattr(route, "stream_item_field", None) is not None
    ):
        return None
    name = first.name
    if name is not None and not inspect.iscoroutinefunction(endpoint):
        return None  # a sync or generator endpoint: FastAPI calls it its own way
    # FastAPI's scopes for the dependency: its parents', then its own (no duplicates).
    scopes = list(first.parent_oauth_scopes or [])
    scopes += [s for s in first.own_oauth_scopes or [] if s not in scopes]
    rest = dependant.dependencies[1:]
    if name is None:  # a route-level dependency: nothing to hand the endpoint
        shadow = dataclasses.replace(dependant, dependencies=rest)
    else:
        shadow = dataclasses.replace(
            dependant,
            dependencies=rest,
            call=_injecting(endpoint, name, dependant.request_param_name),
            request_param_name=dependant.request_param_name or _REQUEST_PARAM,
        )
    saved = route.dependant
    route.dependant = shadow  # get_route_handler builds FastAPI's handler from it
    try:
        handler = route.get_route_handler()
    finally:
        route.dependant = saved
    return _Shortcut(dependency, scopes, request_response(handler))


def _injecting(endpoint: Any, name: str, request_name: str | None) -> Any:
    """The endpoint, given the admitted value as its ``name`` argument."""
    if request_name is None:

        async def injecting(**values: Any) -> Any:
            values[name] = values.pop(_REQUEST_PARAM).scope[_ADMITTED]
            return await endpoint(**values)

    else:

        async def injecting(**values: Any) -> Any:
            values[name] = values[request_name].scope[_ADMITTED]
            return await endpoint(**values)

    try:  # FastAPI's error context (file, line, function) names the endpoint, not this
        from fastapi.routing import (  # type: ignore[attr-defined,unused-ignore]
            _endpoint_context_cache,
            _extract_endpoint_context,
        )

        _endpoint_context_cache[id(injecting)] = _extract_endpoint_context(endpoint)
    except ImportError:
        pass
    return injecting


def authenticate_routes(app: Any) -> None:
    """Approve, for ``app``, every route of it that requires a credential first; wrap each
    such route once. A route may serve several apps (a router included in each): each app
    approves it or not, and the wrapper steps aside for the others."""
    # Keyed by id: routes compare by value, and are unhashable.
    routes: dict[int, APIRoute] = {}
    eligible: dict[int, bool] = {}
    direct: dict[int, bool] = {}  # every inclusion is the route itself: no router context
    calls: dict[int, list[Any]] = {}
    for route, effective in _contexts(app):
        dependant = getattr(effective, "dependant", route.dependant)
        fits = (
            _needs_credential(dependant)
            and getattr(effective, "body_field", route.body_field) is None
        )
        key = id(route)
        routes[key] = route
        # A route included twice is wrapped only if every inclusion fits.
        eligible[key] = eligible.get(key, True) and fits
        direct[key] = direct.get(key, True) and effective is route
        calls.setdefault(key, []).extend(d.call for d in _solve_order(dependant))
    for key, fits in eligible.items():
        route = routes[key]
        approved: Approvals | None = getattr(route, _APPROVED, None)
        try:
            called = frozenset(calls[key]) if fits else None
        except TypeError:  # an unhashable dependency: overrides could not be checked
            called = None
        if called is None:
            if approved is not None:
                approved.pop(app, None)
            continue
        if approved is None:
            approved = weakref.WeakKeyDictionary()
            _wrap(route, approved)
        approved[app] = Approval(called, direct[key])


class Approval:
    """One app's approval of a route: every dependency the route calls there, and whether
    the app serves the route itself (not through an included router's context), so the
    shortcut's handler is the one FastAPI would run."""

    __slots__ = ("calls", "direct")

    def __init__(self, calls: frozenset[Any], direct: bool) -> None:
        self.calls = calls
        self.direct = direct


# Per route: the apps that approved it.
Approvals = weakref.WeakKeyDictionary[Any, Approval]


def _wrap(route: APIRoute, approved: Approvals) -> None:
    handle = route.handle
    methods = route.methods or set()
    provider = route.dependency_overrides_provider
    shortcut = _shortcut(route)

    async def authenticating_handle(scope: Scope, receive: Receive, send: Send) -> None:
        slot: AuthSlot | None = scope.get(SLOT_KEY)
        app = scope.get("app")
        approval = approved.get(app) if app is not None else None
        # An included router's routes have no provider of their own: the app is theirs.
        overrides = getattr(provider or app, "dependency_overrides", None)
        if (
            approval is None  # not approved by this app
            or slot is None
            or slot.bridge is None
            or scope["type"] != "http"
            or scope["method"] not in methods
            or (overrides and not approval.calls.isdisjoint(overrides))
        ):
            await handle(scope, receive, send)
            return
        principal = slot.result
        if principal is None:
            bridge: Authenticator = slot.bridge  # this app's, as the dependency would use
            found = from_cache_or_token(bridge, slot, scope)
            if isinstance(found, str):  # a bearer token alone, not in the cache: verify it
                # Awaited here, as in ``ProtectingMiddleware``, not through a helper: one
                # coroutine fewer per new token.
                outcome = await settle_token(bridge, slot, scope, found)
                if isinstance(outcome, AuthHTTPException):  # logged, and kept in the slot
                    await _answer(Request(scope, receive), outcome, send)
                    return
                found = outcome  # None if the header needs the full path's verdict
            if found is None:
                settled = await settle_or_answer(bridge, slot, scope, receive, send, _answer)
                if settled is None:  # refused (answered) or the client left
                    return
                principal, receive = settled
            else:
                principal = found
        elif not isinstance(principal, Principal):  # a refusal kept: the dependency re-raises
            await handle(scope, receive, send)
            return
        # else settled before routing (protect=): the credential is not checked again
        if shortcut is None or not approval.direct:
            await handle(scope, receive, send)
            return
        try:  # the dependency's own checks (403), before FastAPI validates anything
            connection = HTTPConnection(scope)
            scope[_ADMITTED] = shortcut.dependency.admit(connection, principal, shortcut.scopes)
        except AuthHTTPException as error:
            await _answer(Request(scope, receive), error, send)
            return
        await shortcut.app(scope, receive, send)

    setattr(route, "handle", authenticating_handle)  # noqa: B010 - an instance override
    setattr(route, _APPROVED, approved)


async def _answer(request: Request, error: AuthHTTPException, send: Send) -> None:
    """Answer as Starlette's exception handling would have: a handler for the status code
    first, then one for the exception's class or a base class."""
    handlers = request.scope.get("starlette.exception_handlers")
    exception_handlers, status_handlers = handlers if handlers is not None else ({}, {})
    handler = status_handlers.get(error.status_code)
    if handler is None:
        for cls in type(error).__mro__:
            if cls in exception_handlers:
                handler = exception_handlers[cls]
                break
    response = (handler or auth_exception_handler)(request, error)
    if inspect.isawaitable(response):
        response = await response
    await response(request.scope, request.receive, send)


class _RoutesSeen:
    """Wraps the app's routes on its first request, and again whenever their number changes
    (routes added later); a length check per request otherwise."""

    _routes_seen = -1

    def prepare(self, scope: Scope) -> None:
        application = scope.get("app")
        routes = getattr(application, "routes", None)
        if routes is not None and len(routes) != self._routes_seen:
            self._routes_seen = len(routes)
            authenticate_routes(application)


class RouteAuthMiddleware(_RoutesSeen, AuthStateMiddleware):
    """``AuthStateMiddleware`` that wraps the routes requiring a credential first."""


class RouteAuthProtectingMiddleware(_RoutesSeen, ProtectingMiddleware):
    """``ProtectingMiddleware`` (``protect=``) that also wraps the routes outside its
    prefixes that require a credential first."""
