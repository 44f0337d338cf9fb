"""The Starlette middleware and backend, their error answers and the ``requires`` guard.

``AuthBridgeMiddleware`` (what ``authbridge_middleware`` installs) is a pure ASGI middleware
that sets ``scope["user"]`` and ``scope["auth"]`` as Starlette's ``AuthenticationMiddleware``
does: a request without a bearer token passes as anonymous (``request.user.is_authenticated``
is false, so public routes stay public); a request with one gets ``request.user`` (a
``PrincipalUser``) and ``request.auth.scopes`` (``"authenticated"`` plus the token's
scopes), or the RFC 6750 answer the FastAPI layer gives (``answers.py``) if the token does
not verify; a refused WebSocket is accepted, then closed 1008 (1013 when the keys or a store
are unavailable) with the error's code as the reason, as the FastAPI layer closes one. A
token the verifier has cached is answered without building a request object
or re-checking its syntax (the FastAPI fast path's rule). ``AuthBridgeBackend`` is the same
verification as an ``AuthenticationBackend``, for apps that compose Starlette's own
middleware. ``requires`` checks scopes and roles and answers 401/403 in the same shapes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar, cast

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    UnauthenticatedUser,
)
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

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

__all__ = [
    "AuthBridgeBackend",
    "AuthBridgeMiddleware",
    "PrincipalUser",
    "answer_response",
    "authbridge_middleware",
    "principal_of",
    "requires",
]

_AUTHORIZATION: Final = b"authorization"
_REALM_KEY: Final = "authbridge.realm"
F = TypeVar("F", bound=Callable[..., Any])
_new: Final = object.__new__


class PrincipalUser(BaseUser):
    """``request.user`` for a verified credential: Starlette's user protocol over a Principal."""

    __slots__ = ("principal",)

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.name or self.principal.email or self.principal.sub

    @property
    def identity(self) -> str:
        return self.principal.sub


class _Refused(AuthenticationError):
    """Carries the library error to ``on_error``; never shown to a client."""

    def __init__(self, error: AuthError) -> None:
        super().__init__(error.code)
        self.error = error


def answer_response(error: AuthError, realm: str = DEFAULT_REALM) -> Response:
    """The RFC 6750 answer to ``error``: the FastAPI layer's status, headers and body."""
    answer = answer_for(error, realm)
    return JSONResponse(answer.body(), status_code=answer.status, headers=answer.headers)


async def _principal(verifier: Verifier, scope: Scope, *, cache: bool = True) -> Principal | None:
    """The request's Principal, ``None`` without an ``Authorization`` header; an
    ``AuthError`` for a credential that does not verify. ``cache=False``: the caller has
    already tried the token cache (``verify`` still reads it)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    query = scope.get("query_string", b"")
    if cache and not query:  # with a query, ?access_token= must be ruled out first: the full path
        candidate = bearer_candidate(headers)
        if candidate is not None and (cached := verifier.verify_cached(candidate)) is not None:
            return cached
    if header_value(headers, _AUTHORIZATION) is None:
        return None
    token = bearer_from_headers(headers, query, session_tokens=verifier.sessions is not None)
    return await verifier.verify(token)


def _credentials(principal: Principal) -> tuple[AuthCredentials, BaseUser]:
    credentials = AuthCredentials.__new__(AuthCredentials)  # its __init__ copies the list again
    credentials.scopes = ["authenticated", *principal.scopes]
    return credentials, PrincipalUser(principal)


class AuthBridgeMiddleware:
    """Pure ASGI: ``scope["user"]``/``scope["auth"]`` as Starlette's auth middleware sets them."""

    def __init__(self, app: ASGIApp, verifier: Verifier, realm: str = DEFAULT_REALM) -> None:
        self.app = app
        self.verifier = verifier
        self.realm = check_realm(realm)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        scope[_REALM_KEY] = self.realm
        # The cached-token fast path, inlined (no ``_principal`` coroutine): this runs on
        # every request. With a query, ?access_token= must be ruled out first: the full path.
        if not scope.get("query_string"):
            found: bytes | None = None  # bearer_candidate, inlined: the one Authorization
            for key, value in scope["headers"]:
                if key == _AUTHORIZATION:
                    if found is not None:
                        found = None
                        break
                    found = value
            if found is not None and found[:7].lower() == b"bearer ":
                principal = self.verifier.verify_cached(found[7:].decode("latin-1"))
                if principal is not None:
                    credentials = _new(AuthCredentials)  # its __init__ copies the list again
                    credentials.scopes = ["authenticated", *principal.scopes]
                    scope["auth"] = credentials
                    user = _new(PrincipalUser)  # PrincipalUser(principal) without the frame
                    user.principal = principal
                    scope["user"] = user
                    await self.app(scope, receive, send)
                    return
        try:
            principal = await _principal(self.verifier, scope, cache=False)
        except AuthError as error:
            if kind == "websocket":  # accepted, then closed 1008/1013 with the code
                await refuse_websocket(receive, send, error, scope.get("subprotocols"))
            else:
                await answer_response(error, self.realm)(scope, receive, send)
            return
        if principal is None:
            scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
        else:
            scope["auth"], scope["user"] = _credentials(principal)
        await self.app(scope, receive, send)


class AuthBridgeBackend(AuthenticationBackend):
    """The same verification for Starlette's ``AuthenticationMiddleware``: pass
    ``on_error=backend.on_error`` for the RFC 6750 answers."""

    def __init__(self, verifier: Verifier, *, realm: str = DEFAULT_REALM) -> None:
        self.verifier = verifier
        self.realm = check_realm(realm)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        conn.scope[_REALM_KEY] = self.realm
        try:
            principal = await _principal(self.verifier, conn.scope)
        except AuthError as error:
            raise _Refused(error) from None
        return None if principal is None else _credentials(principal)

    def on_error(self, conn: HTTPConnection, exc: AuthenticationError) -> Response:
        if isinstance(exc, _Refused):
            return answer_response(exc.error, self.realm)
        return answer_response(AuthError(), self.realm)  # not ours: still one 401 shape


def authbridge_middleware(verifier: Verifier, *, realm: str = DEFAULT_REALM) -> Middleware:
    """``Starlette(middleware=[authbridge_middleware(verifier)])``."""
    return Middleware(AuthBridgeMiddleware, verifier=verifier, realm=realm)


def principal_of(conn: HTTPConnection) -> Principal | None:
    """The request's Principal, or ``None`` for an anonymous request."""
    user = conn.scope.get("user")
    return user.principal if isinstance(user, PrincipalUser) else None


def requires(
    scopes: str | Sequence[str] = (), *, roles: str | Sequence[str] = ()
) -> Callable[[F], F]:
    """Starlette's ``requires``, answering in RFC 6750: 401 with a challenge without a
    credential, 403 ``insufficient_scope`` (naming the scopes) without the scope or role.

    Every scope is needed, any one of ``roles``. The endpoint takes a ``request`` argument,
    as with Starlette's own ``requires``; sync and async endpoints both work. A WebSocket
    endpoint (an async one taking ``websocket``) that is refused accepts the connection and
    closes it 1008 with the code as the reason (``token_missing``, ``insufficient_scope``).
    """
    needed = requirement(
        scopes if isinstance(scopes, str) else tuple(scopes),
        roles if isinstance(roles, str) else tuple(roles),
    )

    def decorator(endpoint: F) -> F:
        names = list(inspect.signature(endpoint).parameters)
        kind = next((name for name in names if name in ("request", "websocket")), None)
        if kind is None:
            raise TypeError(f'requires: {endpoint.__qualname__} takes no "request" or "websocket"')
        position = names.index(kind)
        if kind == "websocket":
            if not inspect.iscoroutinefunction(endpoint):
                raise TypeError(f"requires: {endpoint.__qualname__} (a WebSocket) is not async")
            return cast("F", _websocket_guard(endpoint, needed, position))

        def refusal(request: HTTPConnection) -> Response | None:
            scope = request.scope
            user = scope.get("user")
            try:  # principal_of, inlined: this runs on every guarded request
                needed.check(user.principal if isinstance(user, PrincipalUser) else None)
            except AuthError as error:
                return answer_response(error, scope.get(_REALM_KEY, DEFAULT_REALM))
            return None

        # Starlette calls an endpoint as ``endpoint(request)``: with ``request`` its only
        # parameter, the guard takes it directly (no *args/**kwargs to pack and search), and
        # a route asking for no scope or role passes any PrincipalUser without a check call.
        only_request = names == ["request"]
        any_user = not needed.scopes and not needed.roles
        if inspect.iscoroutinefunction(endpoint):
            call = cast("Callable[..., Awaitable[Any]]", endpoint)
            if only_request:

                @functools.wraps(endpoint)
                async def async_guarded_request(request: HTTPConnection) -> Any:
                    if any_user and isinstance(request.scope.get("user"), PrincipalUser):
                        return await call(request)
                    refused = refusal(request)
                    return refused if refused is not None else await call(request)

                return cast("F", async_guarded_request)

            @functools.wraps(endpoint)
            async def async_guarded(*args: Any, **kwargs: Any) -> Any:
                refused = refusal(kwargs["request"] if "request" in kwargs else args[position])
                return refused if refused is not None else await call(*args, **kwargs)

            return cast("F", async_guarded)

        if only_request:

            @functools.wraps(endpoint)
            def guarded_request(request: HTTPConnection) -> Any:
                if any_user and isinstance(request.scope.get("user"), PrincipalUser):
                    return endpoint(request)
                refused = refusal(request)
                return refused if refused is not None else endpoint(request)

            return cast("F", guarded_request)

        @functools.wraps(endpoint)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refused = refusal(kwargs["request"] if "request" in kwargs else args[position])
            return refused if refused is not None else endpoint(*args, **kwargs)

        return cast("F", guarded)

    return decorator


def _websocket_guard(
    endpoint: Callable[..., Awaitable[Any]], needed: Requirement, position: int
) -> Callable[..., Awaitable[Any]]:
    """``requires`` on a WebSocket endpoint: refused, the socket is accepted then closed."""

    @functools.wraps(endpoint)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        websocket: WebSocket = kwargs["websocket"] if "websocket" in kwargs else args[position]
        user = websocket.scope.get("user")
        try:
            needed.check(user.principal if isinstance(user, PrincipalUser) else None)
        except AuthError as error:
            code, reason = websocket_close(error)
            subprotocol = refused_subprotocol(websocket.scope.get("subprotocols"))
            await websocket.accept(subprotocol=subprotocol)
            await websocket.close(code, reason)
            return None
        return await endpoint(*args, **kwargs)

    return guarded
