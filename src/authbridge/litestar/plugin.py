"""The Litestar plugin, its middleware, its exception handler and its guards.

``AuthBridgeMiddleware`` verifies ``Authorization: Bearer`` and sets ``scope["user"]`` and
``scope["auth"]`` to the Principal (``request.user``/``request.auth``); without the header
both are ``None`` and the request goes on, so routes without a guard stay public. A token that
does not verify is refused there, whatever the route. ``requires(...)`` is a Litestar guard;
``opt=required(...)`` is the same check made by the middleware, cheaper.
Every refusal is an ``AuthError`` that the plugin's exception handler answers with the
FastAPI layer's status, headers and body (``answers.py``).

A WebSocket gets the FastAPI layer's answer too: accepted, then closed 1008 (1013 when the
keys or a store are unavailable) with the error's code as the reason. Litestar's exception
handlers do not run for WebSockets (any other exception closes one 4500), so the middleware
answers its own refusals in ASGI, and the guard accepts the socket and raises Litestar's
``WebSocketException`` with that code and reason. An ``AuthError`` raised by the handler
itself (``Requirement.check``, ``verifier.verify`` on a token from a message), before or
after ``accept()``, gets the same answer: the plugin's ``after_exception`` hook hands it to
the socket's ``send`` as the middleware wrapped it (``_HandlerRefusal``), which turns
Litestar's 4500 close into the refusal. HTTP requests take none of this.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, cast

from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection, WebSocket
from litestar.enums import ScopeType
from litestar.exceptions import WebSocketException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.plugins import InitPluginProtocol
from litestar.types import (
    ASGIApp,
    Message,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
    WebSocketAcceptEvent,
)

from ..answers import (
    DEFAULT_REALM,
    answer_for,
    check_realm,
    refuse_websocket,
    refused_subprotocol,
    websocket_close,
)
from ..credentials import bearer_candidate, bearer_from_headers, header_value
from ..errors import AuthError
from ..guards import Requirement, requirement
from ..principal import Principal
from ..verifier import Verifier

__all__ = ["AuthBridgeMiddleware", "AuthBridgePlugin", "answer_response", "required", "requires"]

_AUTHORIZATION: Final = b"authorization"
_OPT_KEY: Final = "authbridge_requires"
# ScopeType's values as plain strings: ``kind == ScopeType.HTTP`` looks the member up on the
# enum class on every request (~0.2 µs each on Python 3.11), this compares two strings.
_HTTP: Final = ScopeType.HTTP.value
_WEBSOCKET: Final = ScopeType.WEBSOCKET.value
# The scope key of a WebSocket's ``_HandlerRefusal``, where the plugin's hook finds it.
_REFUSAL_KEY: Final = "authbridge.litestar.refusal"
Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def answer_response(error: AuthError, realm: str = DEFAULT_REALM) -> Response[Any]:
    """The RFC 6750 answer to ``error`` as a Litestar response."""
    answer = answer_for(error, realm)
    return Response(answer.body(), status_code=answer.status, headers=answer.headers)


class AuthBridgeMiddleware(ASGIMiddleware):
    """Puts the request's Principal (or ``None``) in ``scope["user"]`` and ``scope["auth"]``."""

    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    def __call__(self, app: ASGIApp) -> ASGIApp:
        """The middleware for ``app``: ``handle`` behind a hot path of its own.

        ``ASGIMiddleware.__call__`` asks on every request whether to bypass (scope type,
        exclude patterns, opt key) before calling ``handle`` with keywords. A request without
        a query whose token the verifier has cached needs none of that: it is answered here,
        and every other request goes to ``handle`` (bench/http_frameworks.py).
        """
        verifier = self.verifier
        authenticate = self.authenticate
        handle_websocket = self.handle_websocket

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            kind: str = scope["type"]
            if kind == _HTTP and not scope.get("query_string"):
                candidate = bearer_candidate(scope["headers"])
                principal = None if candidate is None else verifier.verify_cached(candidate)
                if principal is not None:
                    handler = scope.get("route_handler")
                    needed = handler.opt.get(_OPT_KEY) if handler is not None else None
                    if needed is not None:
                        needed.check(principal)
                    scope["user"] = scope["auth"] = principal
                    await app(scope, receive, send)
                    return
            if kind == _HTTP:  # ``handle``, one coroutine call fewer
                await authenticate(scope)
                await app(scope, receive, send)
            elif kind == _WEBSOCKET:
                await handle_websocket(scope, receive, send, app)
            else:
                await app(scope, receive, send)

        return middleware

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        await self.authenticate(scope)
        await next_app(scope, receive, send)

    async def handle_websocket(
        self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp
    ) -> None:
        """``handle`` for a WebSocket: a refusal accepts the socket, then closes it 1008/1013
        with the code as the reason (an ``AuthError`` raised here would close it 4500). A
        socket let through gets ``_HandlerRefusal``'s ``receive`` and ``send``, so an
        ``AuthError`` from its handler is answered the same way (with the plugin's hook)."""
        subprotocols = scope.get("subprotocols")
        try:
            await self.authenticate(scope)
        except AuthError as error:
            await refuse_websocket(receive, send, error, subprotocols)
            return
        socket = _HandlerRefusal(receive, send, subprotocols)
        extra = cast("dict[str, Any]", scope)
        extra[_REFUSAL_KEY] = socket
        try:
            await next_app(scope, socket.receive, socket.send)
        finally:
            del extra[_REFUSAL_KEY]  # no scope -> socket -> server's send -> scope cycle

    async def authenticate(self, scope: Scope) -> None:
        """Set ``scope["user"]``/``scope["auth"]``, or raise the ``AuthError`` refusing it."""
        headers = scope["headers"]
        query = scope.get("query_string", b"")
        principal = None
        # A token the verifier has cached skips the syntax checks (the FastAPI fast path's
        # rule); with a query, ?access_token= must be ruled out first: the full path.
        if not query and (candidate := bearer_candidate(headers)) is not None:
            principal = self.verifier.verify_cached(candidate)
        if principal is None and header_value(headers, _AUTHORIZATION) is not None:
            token = bearer_from_headers(
                headers, query, session_tokens=self.verifier.sessions is not None
            )
            principal = await self.verifier.verify(token)
        handler = scope.get("route_handler")
        needed = handler.opt.get(_OPT_KEY) if handler is not None else None
        if isinstance(needed, Requirement):
            needed.check(principal)  # opt=required(...): no guard, no Request, no copy
        scope["user"] = principal
        scope["auth"] = principal


class _HandlerRefusal:
    """A WebSocket's ``receive`` and ``send`` past the middleware, which answer an
    ``AuthError`` raised by the handler as every other refusal.

    A route with middleware (the plugin's is one) has a Litestar ``ExceptionHandlerMiddleware``
    of its own between its middleware and its handler. For a WebSocket it runs the app's
    ``after_exception`` hooks, then sends ``websocket.close`` 4500 "Internal Server Error"
    through this ``send``, whatever the exception. The plugin's hook (``_note_refusal``) sets
    ``error`` first, and ``send`` answers that close instead: the socket accepted, unless the
    handler did (after its ``websocket.connect``, with ``refused_subprotocol``), then closed
    1008/1013 with the code as the reason. Any other exception keeps Litestar's 4500."""

    __slots__ = (
        "_accepted",
        "_closed",
        "_connected",
        "_receive",
        "_send",
        "_subprotocols",
        "error",
    )

    def __init__(self, receive: Receive, send: Send, subprotocols: object) -> None:
        self._receive = receive
        self._send = send
        self._subprotocols = subprotocols
        self._connected = self._accepted = self._closed = False
        self.error: AuthError | None = None

    async def receive(self) -> ReceiveMessage:
        message = await self._receive()
        if message["type"] == "websocket.connect":
            self._connected = True
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.close":
            error, self.error = self.error, None
            if error is not None and not self._closed:
                self._closed = True
                await self._refuse(error)
                return
            self._closed = True
        elif kind == "websocket.accept":
            self._accepted = True
        elif kind == "websocket.http.response.start":  # denied (ASGI extension): no accept now
            self._closed = True
        await self._send(message)

    async def _refuse(self, error: AuthError) -> None:
        if not self._accepted:
            if not self._connected:  # receive websocket.connect first, as accept() does
                await refuse_websocket(self._receive, self._send, error, self._subprotocols)
                return
            accept: WebSocketAcceptEvent = {
                "type": "websocket.accept",
                "subprotocol": refused_subprotocol(self._subprotocols),
                "headers": [],
            }
            await self._send(accept)
        code, reason = websocket_close(error)
        await self._send({"type": "websocket.close", "code": code, "reason": reason})


async def _note_refusal(error: Exception, scope: Scope) -> None:
    """The plugin's ``after_exception`` hook: an ``AuthError`` on a WebSocket the middleware
    let through goes to its ``_HandlerRefusal``, which answers the close Litestar sends next.
    An HTTP request only pays for this when an exception is raised (one ``isinstance``, and a
    dict lookup for an ``AuthError``)."""
    if isinstance(error, AuthError):
        socket = cast("dict[str, Any]", scope).get(_REFUSAL_KEY)
        if socket is not None:
            socket.error = error


class AuthBridgePlugin(InitPluginProtocol):
    """``Litestar(plugins=[AuthBridgePlugin(verifier)])``: the middleware, the RFC 6750
    exception handler, and the verifier's start (JWKS prefetch) and close with the app."""

    def __init__(self, verifier: Verifier | None = None, *, realm: str = DEFAULT_REALM) -> None:
        self.verifier = verifier or Verifier.from_env()
        self.realm = check_realm(realm)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        realm = self.realm

        def answer(request: Request[Any, Any, Any], error: AuthError) -> Response[Any]:
            return answer_response(error, realm)

        app_config.middleware.append(AuthBridgeMiddleware(self.verifier))
        app_config.exception_handlers[AuthError] = answer
        app_config.after_exception.append(_note_refusal)  # a WebSocket's handler's AuthError
        app_config.on_startup.append(self.verifier.start)
        app_config.on_shutdown.append(self.verifier.aclose)
        return app_config


def requires(scopes: str | Sequence[str] = (), *, roles: str | Sequence[str] = ()) -> Guard:
    """A Litestar guard: a verified credential, every scope in ``scopes``, any one of
    ``roles``. ``@get("/tasks", guards=[requires("tasks:read")])``."""
    needed = requirement(
        scopes if isinstance(scopes, str) else tuple(scopes),
        roles if isinstance(roles, str) else tuple(roles),
    )

    # async: Litestar runs a synchronous guard in a worker thread, which costs more than the
    # check itself (bench/http_frameworks.py).
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        try:
            needed.check(user if isinstance(user, Principal) else None)
        except AuthError as error:
            if isinstance(connection, WebSocket):
                raise await _websocket_refusal(connection, error) from None
            raise

    return guard


async def _websocket_refusal(
    socket: WebSocket[Any, Any, Any], error: AuthError
) -> WebSocketException:
    """Accept ``socket`` and return the exception that makes Litestar close it 1008/1013
    with the code as the reason (the FastAPI layer's answer; a browser's ``onclose`` would
    see only 1006 if the handshake itself were refused)."""
    code, reason = websocket_close(error)
    await socket.accept(subprotocols=refused_subprotocol(socket.scope.get("subprotocols")))
    return WebSocketException(detail=reason, code=code)


def required(
    scopes: str | Sequence[str] = (), *, roles: str | Sequence[str] = ()
) -> dict[str, Requirement]:
    """The same check as ``requires``, made by the middleware from the handler's ``opt``:
    ``@get("/tasks", opt=required("tasks:read"))``. Litestar copies the route handler and
    builds a ``Request`` for every guard call; this costs neither (bench/http_frameworks.py)."""
    return {
        _OPT_KEY: requirement(
            scopes if isinstance(scopes, str) else tuple(scopes),
            roles if isinstance(roles, str) else tuple(roles),
        )
    }
