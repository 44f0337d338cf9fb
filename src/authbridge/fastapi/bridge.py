"""``AuthBridge``: one verifier wired into one or more FastAPI apps.

The bridge owns the verifier's lifecycle (prefetch keys at startup, close clients at
shutdown, counted across apps), the RFC 6750 error handler, the response-header middleware
and the audit log. Dependencies find it on ``request.app.state.authbridge``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final, Protocol

from fastapi import FastAPI
from starlette.requests import HTTPConnection, Request

from ..config import Settings, load_settings
from ..errors import AuthError, InvalidRequest, TokenMissing
from ..principal import Principal
from ..verifier import Verifier
from .access_log import redact_access_log
from .audit import AuditLog
from .credentials import (
    FORM_CONTENT_TYPE,
    bearer_candidate,
    bearer_from_headers,
    form_has_access_token,
    header_value,
    query_has_access_token,
)
from .middleware import AuthStateMiddleware
from .openapi import declare_guard_scopes
from .protect import ProtectingMiddleware, check_prefixes
from .responses import (
    DEFAULT_REALM,
    AuthHTTPException,
    auth_exception_handler,
    check_realm,
    http_error_for,
)

__all__ = ["STATE_ATTRIBUTE", "AuthBridge", "CookieAuthenticator", "bridge_of"]

STATE_ATTRIBUTE: Final = "authbridge"
_MAX_FORM_CHECK_BYTES: Final = 1 << 20
_INSTALLED: Final = "authbridge_installed"
_BODYLESS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


class CookieAuthenticator(Protocol):
    """Hook for session-cookie credentials (Better Auth ``session_token``).

    Consulted only when a request carries no bearer credential (the header wins). Return
    None when the request has no cookie credential; raise an ``AuthError`` for a bad one.
    ``SessionCookieAuthenticator`` is the shipped implementation.
    """

    async def authenticate(self, connection: HTTPConnection) -> Principal | None: ...


class AuthBridge:
    """Bearer authentication for FastAPI. Build once; ``install`` on each app."""

    def __init__(
        self,
        verifier: Verifier,
        *,
        realm: str = DEFAULT_REALM,
        sessions: CookieAuthenticator | None = None,
        audit: AuditLog | None = None,
        websocket_auth_timeout: float = 10.0,
    ) -> None:
        self.verifier = verifier
        self.realm = check_realm(realm)
        self.sessions = sessions
        # Session mode: bearer values may be URL-encoded session tokens (they contain "%").
        self._session_bearers = verifier.sessions is not None
        self.audit = audit or AuditLog()
        self.websocket_auth_timeout = websocket_auth_timeout
        self._users = 0  # apps currently running with this bridge

    @classmethod
    def from_env(cls, **options: Any) -> AuthBridge:
        """Build everything from environment variables (and ``.env``); see ``Settings``."""
        return cls.from_settings(load_settings(), **options)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> AuthBridge:
        """The verifier from ``settings``; ``realm`` from ``AUTHBRIDGE_REALM`` unless given.

        With ``AUTHBRIDGE_SESSION_COOKIE=on`` the session cookie becomes a credential too
        (``SessionCookieAuthenticator``, with its CSRF origin check), unless ``sessions=``
        is given.
        """
        options.setdefault("realm", settings.realm)
        verifier = Verifier.from_settings(settings)
        if settings.session_cookie and verifier.sessions is not None:
            from .session_cookies import SessionCookieAuthenticator

            options.setdefault("sessions", SessionCookieAuthenticator(verifier.sessions))
        return cls(verifier, **options)

    # --- wiring ---------------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """``FastAPI(lifespan=bridge.lifespan)``: prefetch keys, then close clients."""
        setattr(app.state, STATE_ATTRIBUTE, self)
        await self.startup()
        try:
            yield
        finally:
            await self.shutdown()

    async def startup(self) -> None:
        """Start the verifier when the first app using this bridge starts."""
        self._users += 1
        if self._users == 1:
            try:
                await self.verifier.start()
            except BaseException:
                self._users -= 1
                raise

    async def shutdown(self) -> None:
        """Close the verifier's clients when the last app using this bridge stops."""
        self._users -= 1
        if self._users == 0:
            await self.verifier.aclose()

    def install(
        self, app: FastAPI, *, lifespan: bool = True, protect: str | Iterable[str] = ()
    ) -> None:
        """Register the error handler and header middleware, and store the bridge on the app.

        With ``lifespan=True`` (the default) the app's own lifespan is wrapped so keys are
        prefetched at startup; don't also pass ``lifespan=bridge.lifespan`` (it would only be
        counted twice, harmlessly).

        ``protect=("/api/",)`` turns on the fast path (``protect.py``): the middleware itself
        authenticates every request whose path starts with one of these prefixes, and
        handlers read the result with ``principal_of(request)`` (or ``CurrentUser``, which
        then reuses it).
        """
        prefixes = check_prefixes(protect)
        if getattr(app.state, STATE_ATTRIBUTE, None) is self and getattr(
            app.state, _INSTALLED, False
        ):
            return  # installing twice would stack middleware and lifespans
        setattr(app.state, STATE_ATTRIBUTE, self)
        setattr(app.state, _INSTALLED, True)
        app.add_exception_handler(AuthHTTPException, auth_exception_handler)
        if prefixes:
            app.add_middleware(ProtectingMiddleware, bridge=self, protect=prefixes)
        else:
            app.add_middleware(AuthStateMiddleware, bridge=self)
        declare_guard_scopes(app, protect=prefixes)
        redact_access_log()  # a client's ?access_token= must not land in uvicorn's access log
        if lifespan:
            app.router.lifespan_context = self._wrap_lifespan(app.router.lifespan_context)

    def _wrap_lifespan(self, inner: Lifespan) -> Lifespan:
        @asynccontextmanager
        async def wrapped(app: FastAPI) -> AsyncIterator[Any]:
            async with self.lifespan(app), inner(app) as state:
                yield state

        return wrapped

    # --- authentication -------------------------------------------------------------------

    async def authenticate(self, connection: HTTPConnection) -> Principal:
        """Verify the request's one credential. Raises ``AuthError`` (nothing is logged)."""
        principal, _ = await self.resolve(connection)
        return principal

    def cached(self, scope: Mapping[str, Any]) -> Principal | None:
        """The synchronous fast path: the Principal if the request's one bearer token is in
        the verifier's cache and nothing else needs checking; else None (use ``resolve``)."""
        headers = scope["headers"]
        token = bearer_candidate(headers)
        if token is None:
            return None
        query = scope.get("query_string", b"")
        if query and query_has_access_token(query):
            return None  # the full path checks (and reports) it
        if scope.get("method") not in _BODYLESS and _maybe_form(headers):
            return None
        return self.verifier.verify_cached(token)

    async def resolve(self, connection: HTTPConnection) -> tuple[Principal, bool]:
        """Like ``authenticate``; also says whether the answer came from the token cache."""
        scope = connection.scope
        try:
            token = bearer_from_headers(
                scope["headers"],
                scope.get("query_string", b""),
                session_tokens=self._session_bearers,
            )
        except TokenMissing:
            if self.sessions is not None:
                principal = await self.sessions.authenticate(connection)
                if principal is not None:
                    return principal, False
            raise
        if isinstance(connection, Request) and await _form_token(connection):
            raise InvalidRequest("The request carries more than one credential.")
        cached = self.verifier.verify_cached(token)
        if cached is not None:
            return cached, True
        return await self.verifier.verify(token), False

    def refuse(
        self,
        error: AuthError,
        scope: Mapping[str, Any],
        *,
        principal: Principal | None = None,
        required: tuple[str, ...] | None = None,
        transport: str = "http",
    ) -> AuthHTTPException:
        """Log a refusal and build its RFC 6750 answer."""
        http_error = http_error_for(error, self.realm)
        token = _token_for_log(scope) if principal is None else None
        self.audit.failure(
            error.code,
            scope=scope,
            token=token,
            status=http_error.status_code,
            transport=transport,
            required=required if required is not None else getattr(error, "required", ()),
            principal=principal,
        )
        return http_error


def bridge_of(connection: HTTPConnection) -> AuthBridge:
    """The app's bridge: from ``app.state`` (where ``install``/``lifespan`` put it)."""
    bridge = getattr(connection.app.state, STATE_ATTRIBUTE, None)
    if not isinstance(bridge, AuthBridge):
        raise RuntimeError(
            "No AuthBridge on this app: call bridge.install(app) or use lifespan=bridge.lifespan."
        )
    return bridge


def _maybe_form(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    content_type = header_value(headers, b"content-type")
    return content_type is not None and content_type.lower().startswith(FORM_CONTENT_TYPE)


async def _form_token(request: Request) -> bool:
    """A form-encoded body with ``access_token`` next to a header is two credentials (V2)."""
    if request.scope.get("method") in _BODYLESS or not _maybe_form(request.scope["headers"]):
        return False
    length = header_value(request.scope["headers"], b"content-length")
    if length is None or not length.isdigit() or int(length) > _MAX_FORM_CHECK_BYTES:
        return False
    try:
        body = await request.body()  # cached on the request: the endpoint can still read it
    except RuntimeError:  # the stream was consumed by someone else first
        return False
    return form_has_access_token(body)


def _token_for_log(scope: Mapping[str, Any]) -> str | None:
    """The bearer text, used only to peek at its header for kid/alg/iss; never logged."""
    value = header_value(scope.get("headers", ()), b"authorization")
    if value is None or value[:7].lower() != b"bearer ":
        return None
    return value[7:].decode("latin-1")
