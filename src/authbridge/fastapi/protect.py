"""The fast path: authenticate requests under protected path prefixes in the ASGI middleware.

``bridge.install(app, protect=("/api/",))`` swaps the header middleware for
``ProtectingMiddleware``, which verifies every HTTP request whose route path starts with a
listed prefix *before* routing, with no FastAPI dependency (each dependency costs a fixed
amount of framework work per request, about as much as authbridge's own work on a cache hit).
It authenticates through ``authenticate.py``, the same code the dependencies run: the
verifier's synchronous token cache first (``from_cache_or_token``); a new bearer token that is
the request's one credential straight to the verifier (``settle_token``: the outcome
``settle`` would give, without building a ``Request``); anything else through ``settle``
(duplicate credentials, ``?access_token=``, form bodies, session cookies and their CSRF
check). Failures get the same RFC 6750 answer, through the app's handler for
``AuthHTTPException``, and the same audit event.

The Principal is stored in the request's ``AuthSlot`` (so ``CurrentUser`` and the guards reuse
it instead of verifying again), in ``request.state.principal`` and in ``scope["user"]``;
``principal_of(request)`` reads it at no cost.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..principal import Principal
from .authenticate import Authenticator, from_cache_or_token, settle, settle_token
from .middleware import SLOT_KEY, AuthSlot, AuthStateMiddleware
from .responses import AuthHTTPException, auth_exception_handler

__all__ = ["ProtectingMiddleware", "check_prefixes", "principal_of", "replay", "settle_or_answer"]

_PREFLIGHT_HEADER: Final = b"access-control-request-method"


def check_prefixes(protect: str | Iterable[str]) -> tuple[str, ...]:
    """``protect=`` as a tuple of path prefixes, each starting with ``/``."""
    prefixes = (protect,) if isinstance(protect, str) else tuple(protect)
    for prefix in prefixes:
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ValueError("protect= takes path prefixes starting with '/', such as '/api/'")
    return prefixes


def principal_of(connection: HTTPConnection) -> Principal:
    """The Principal the middleware (or a dependency) found for this request.

    Zero cost: no verification, no dependency. Raises ``RuntimeError`` on a request that
    nothing authenticated (a route outside ``protect=`` without ``CurrentUser``): that is a
    wiring mistake, not a client error.
    """
    slot = connection.scope.get(SLOT_KEY)
    result = slot.result if slot is not None else None
    if isinstance(result, Principal):
        return result
    raise RuntimeError(
        "principal_of: this request was not authenticated; list its path in "
        "bridge.install(app, protect=...) or use the CurrentUser dependency"
    )


def _route_path(scope: Scope) -> str:
    """The path routes match against: ``scope["path"]`` without ``root_path`` (Starlette's
    rule), so a prefix means the same thing behind a proxy that sets ``root_path``."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] == "/":
        return path[len(root) :]
    return path


def _is_preflight(scope: Scope) -> bool:
    """A CORS preflight never carries credentials (Fetch spec); CORS middleware answers it."""
    return any(key == _PREFLIGHT_HEADER for key, _ in scope["headers"])


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that first hands back the body the form check already read."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class ProtectingMiddleware(AuthStateMiddleware):
    """``AuthStateMiddleware`` that also authenticates requests under ``protect`` prefixes."""

    def __init__(self, app: ASGIApp, bridge: Authenticator, protect: tuple[str, ...]) -> None:
        super().__init__(app, bridge)
        self.protect = protect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.prepare(scope)
        path = _route_path(scope) if scope.get("root_path") else scope["path"]
        if not path.startswith(self.protect) or (
            scope["method"] == "OPTIONS" and _is_preflight(scope)
        ):
            # Not protected here: the dependencies decide, exactly as without protect=.
            slot = scope[SLOT_KEY] = AuthSlot(self.bridge)
            await self.app(scope, receive, self.send_private(send, slot))
            return
        bridge: Authenticator = self.bridge
        slot = scope[SLOT_KEY] = AuthSlot(bridge)
        found = from_cache_or_token(bridge, slot, scope)
        if isinstance(found, str):  # a bearer token alone, not in the cache: verify it
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
        scope["user"] = principal
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["principal"] = principal
        await self.app(scope, receive, self.send_always_private(send))


Answer = Callable[[Request, AuthHTTPException, Send], Awaitable[None]]


async def settle_or_answer(
    bridge: Authenticator,
    slot: AuthSlot,
    scope: Scope,
    receive: Receive,
    send: Send,
    answer: Answer,
) -> tuple[Principal, Receive] | None:
    """The full path for a request the token cache did not answer, before routing
    (``protect=``) or before FastAPI solves a route's dependencies (``route_auth.py``).

    Returns the Principal (also kept in ``slot``) and the ``receive`` to go on with (the body
    handed on if the form check read it); None once the refusal, logged and kept in
    ``slot``, has been sent with ``answer``, or when the client left while the form check
    read the body.
    """
    request = Request(scope, receive)
    try:
        outcome = await settle(bridge, slot, request)
    except ClientDisconnect:  # gone while the form check read the body
        return None
    if not isinstance(outcome, Principal):  # logged, and kept in the slot
        assert outcome is not None  # settle answers None only when optional
        await answer(request, outcome, send)
        return None
    # Read by the form check: hand it on. Looked up in the instance dict: ``getattr`` with a
    # default raises and clears an AttributeError on every request that sent no form.
    body = request.__dict__.get("_body")
    return outcome, receive if body is None else replay(body, receive)


async def _answer(request: Request, error: AuthHTTPException, send: Send) -> None:
    """Send the refusal through the app's own handler for it, as the dependencies would."""
    app: Any = request.scope.get("app")
    handlers = getattr(app, "exception_handlers", {})
    handler = handlers.get(AuthHTTPException, auth_exception_handler)
    response = handler(request, error)
    if inspect.isawaitable(response):
        response = await response
    await response(request.scope, request.receive, send)
