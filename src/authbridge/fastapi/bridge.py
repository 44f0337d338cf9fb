"""``AuthBridge``: one verifier wired into one or more FastAPI apps.

The bridge owns the verifier's lifecycle (prefetch keys at startup, close clients at
shutdown, counted across apps), the RFC 6750 error handler, the response-header middleware
and the audit log. Dependencies find it on ``request.app.state.authbridge``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any, Final

from fastapi import FastAPI
from starlette.requests import HTTPConnection

from ..config import Settings, load_settings
from ..heap import freeze_heap as _freeze_heap
from ..verifier import Verifier
from .access_log import redact_access_log
from .audit import AuditLog
from .authenticate import STATE_ATTRIBUTE, Authenticator, CookieAuthenticator, authenticator_of
from .openapi import declare_guard_scopes
from .protect import check_prefixes
from .responses import DEFAULT_REALM, AuthHTTPException, auth_exception_handler
from .route_auth import RouteAuthMiddleware, RouteAuthProtectingMiddleware
from .session_cookies import SessionCookieAuthenticator

__all__ = ["STATE_ATTRIBUTE", "AuthBridge", "CookieAuthenticator", "bridge_of"]

_INSTALLED: Final = "authbridge_installed"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


class AuthBridge(Authenticator):
    """Bearer authentication for FastAPI. Build once; ``install`` on each app.

    Authentication itself (``authenticate``, ``resolve``, ``refuse``...) is the
    ``Authenticator``'s (``authenticate.py``); the bridge adds the verifier's lifecycle and
    the wiring into apps.
    """

    def __init__(
        self,
        verifier: Verifier,
        *,
        realm: str = DEFAULT_REALM,
        sessions: CookieAuthenticator | None = None,
        audit: AuditLog | None = None,
        websocket_auth_timeout: float = 10.0,
    ) -> None:
        super().__init__(verifier, realm=realm, sessions=sessions, audit=audit)
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
        self,
        app: FastAPI,
        *,
        lifespan: bool = True,
        protect: str | Iterable[str] = (),
        freeze_heap: bool = False,
    ) -> None:
        """Register the error handler and header middleware, and store the bridge on the app.

        With ``lifespan=True`` (the default) the app's own lifespan is wrapped so keys are
        prefetched at startup; don't also pass ``lifespan=bridge.lifespan`` (it would only be
        counted twice, harmlessly).

        ``protect=("/api/",)`` turns on the fast path (``protect.py``): the middleware itself
        authenticates every request whose path starts with one of these prefixes, and
        handlers read the result with ``principal_of(request)`` (or ``CurrentUser``, which
        then reuses it).

        ``freeze_heap=True`` calls ``authbridge.freeze_heap()`` at the end of the app's
        startup (after its own lifespan started): what startup built is then never walked by
        the garbage collector again, so a full collection takes under a millisecond instead
        of tens (docs/deploy.md, "Garbage collection pauses"). Off by default: it is a
        decision for the whole process.
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
            app.add_middleware(RouteAuthProtectingMiddleware, bridge=self, protect=prefixes)
        else:
            # Routes that require a credential first are authenticated before FastAPI solves
            # their dependencies (route_auth.py): the fast path's cost, same behaviour.
            app.add_middleware(RouteAuthMiddleware, bridge=self)
        api_keys = self.verifier.api_keys
        declare_guard_scopes(
            app, protect=prefixes, api_key_header=api_keys.headers[0] if api_keys else None
        )
        redact_access_log()  # a client's ?access_token= must not land in uvicorn's access log
        if lifespan or freeze_heap:
            app.router.lifespan_context = self._wrap_lifespan(
                app.router.lifespan_context, prefetch=lifespan, freeze=freeze_heap
            )

    def _wrap_lifespan(self, inner: Lifespan, *, prefetch: bool, freeze: bool) -> Lifespan:
        @asynccontextmanager
        async def wrapped(app: FastAPI) -> AsyncIterator[Any]:
            async with self.lifespan(app) if prefetch else nullcontext(), inner(app) as state:
                if freeze:
                    _freeze_heap()
                yield state

        return wrapped


def bridge_of(connection: HTTPConnection) -> AuthBridge:
    """The app's bridge: from ``app.state`` (where ``install``/``lifespan`` put it)."""
    bridge = authenticator_of(connection)  # raises when the app has none
    if not isinstance(bridge, AuthBridge):
        raise RuntimeError(f"The app's authenticator is not an AuthBridge: {bridge!r}")
    return bridge
