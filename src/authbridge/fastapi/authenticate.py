"""Per-request authentication: the one path the dependencies, the fast path and WebSocket take.

* ``Authenticator`` finds a request's one credential (``Authorization: Bearer``; a second
  one in the query or a form body is refused; a Better Auth API key header (``x-api-key``)
  when there is no bearer, and a bearer *and* an API key are refused as ambiguous; a session
  cookie when there is neither),
  asks the verifier's token cache before a full verification (``verify_token``), and logs
  refusals and builds their RFC 6750 answer (``refuse``). ``AuthBridge`` is an
  ``Authenticator`` that also wires itself into apps.
* ``from_cache`` is the synchronous shortcut for a token the verifier has seen: a header scan
  and a dict lookup, before anything async happens. ``verify`` is the full path.
* ``settled`` and ``authenticated`` keep each request's outcome in its ``AuthSlot``, so
  however many dependencies ask, a request is verified once.

``CurrentUser`` and the guards (``dependencies.py``) call ``settled`` then ``authenticated``;
the ``protect=`` middleware (``protect.py``) and the routes that require a credential first
(``route_auth.py``, before FastAPI solves their dependencies) call ``from_cache_or_token``,
then ``settle_token`` for a new bearer token alone or ``settle`` for anything else; WebSocket
(``websocket.py``) takes its token from the handshake or the first message and calls
``verify_token``. Nothing here imports a sibling above ``middleware.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any, Final, Literal, Protocol, overload

from starlette.requests import HTTPConnection, Request

from ..errors import AuthError, InvalidRequest, TokenMissing
from ..principal import Principal
from ..verifier import Verifier
from .audit import AuditLog
from .credentials import (
    FORM_CONTENT_TYPE,
    api_key_from_headers,
    bearer_candidate,
    bearer_from_headers,
    form_has_access_token,
    header_value,
    is_b64token,
    query_has_access_token,
)
from .middleware import SLOT_KEY, AuthSlot
from .responses import DEFAULT_REALM, AuthHTTPException, check_realm, http_error_for

__all__ = [
    "STATE_ATTRIBUTE",
    "Authenticator",
    "CookieAuthenticator",
    "authenticated",
    "authenticator_of",
    "from_cache",
    "from_cache_or_token",
    "settle",
    "settle_token",
    "settled",
    "verify",
]

STATE_ATTRIBUTE: Final = "authbridge"  # app.state attribute holding the installed bridge
_MAX_FORM_CHECK_BYTES: Final = 1 << 20
_BODYLESS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class CookieAuthenticator(Protocol):
    """Hook for session-cookie credentials (Better Auth ``session_token``).

    Consulted only when a request carries no bearer credential (the header wins). Return
    None when the request has no cookie credential; raise an ``AuthError`` for a bad one.
    ``SessionCookieAuthenticator`` is the shipped implementation.
    """

    async def authenticate(self, connection: HTTPConnection) -> Principal | None: ...


class Authenticator:
    """One verifier and the request-level rules around it; logs to ``audit``."""

    def __init__(
        self,
        verifier: Verifier,
        *,
        realm: str = DEFAULT_REALM,
        sessions: CookieAuthenticator | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.verifier = verifier
        self.realm = check_realm(realm)
        self.sessions = sessions
        # Session mode: bearer values may be URL-encoded session tokens (they contain "%").
        self._session_bearers = verifier.sessions is not None
        # API keys on: the header names a key is read from (Better Auth's apiKeyHeaders).
        api_keys = verifier.api_keys
        self._api_key_headers: tuple[bytes, ...] = (
            tuple(name.encode("latin-1") for name in api_keys.headers) if api_keys else ()
        )
        self.audit = audit or AuditLog()

    @property
    def api_key_headers(self) -> tuple[bytes, ...]:
        """The headers an API key is read from (empty when API keys are off)."""
        return self._api_key_headers

    async def authenticate(self, connection: HTTPConnection) -> Principal:
        """Verify the request's one credential. Raises ``AuthError`` (nothing is logged)."""
        principal, _ = await self.resolve(connection)
        return principal

    def cached(self, scope: Mapping[str, Any]) -> Principal | None:
        """The synchronous fast path: the Principal if the request's one bearer token is in
        the verifier's cache and nothing else needs checking; else None (use ``resolve``)."""
        found = self.lookup(scope)
        return None if isinstance(found, str) else found

    def lookup(self, scope: Mapping[str, Any]) -> Principal | str | None:
        """``cached``, which also tells one kind of miss apart: the request's one credential
        is its bearer token and all ``resolve`` would do is verify it (``verify_token``).
        Then the token comes back, unchecked (``settle_token`` takes it on). None: take
        ``resolve``."""
        headers = scope["headers"]
        token = bearer_candidate(headers)
        if token is None:
            return None
        query = scope.get("query_string", b"")
        if query and query_has_access_token(query):
            return None  # the full path checks (and reports) it
        if self._api_key_headers and any(key in self._api_key_headers for key, _ in headers):
            return None  # a bearer and an API key: the full path refuses the pair
        if scope.get("method") not in _BODYLESS and _maybe_form(headers):
            return None
        principal = self.verifier.verify_cached(token)
        return token if principal is None else principal

    async def resolve(self, connection: HTTPConnection) -> tuple[Principal, bool]:
        """Like ``authenticate``; also says whether the answer came from the token cache."""
        scope = connection.scope
        api_key = (
            api_key_from_headers(scope["headers"], self._api_key_headers)
            if self._api_key_headers
            else None
        )
        try:
            token = bearer_from_headers(
                scope["headers"],
                scope.get("query_string", b""),
                session_tokens=self._session_bearers,
            )
        except TokenMissing:
            if api_key is not None:
                return await self.from_api_key(connection, *api_key), False
            principal = await self.from_session(connection)
            if principal is not None:
                return principal, False
            raise
        if api_key is not None or (
            isinstance(connection, Request) and await _form_token(connection)
        ):
            raise InvalidRequest("The request carries more than one credential.")
        return await self.verify_token(token)

    async def from_api_key(self, connection: HTTPConnection, header: str, key: str) -> Principal:
        """A Better Auth API key's Principal. A key next to ``?access_token=`` or a form
        ``access_token`` is two credentials, as for a bearer token."""
        if query_has_access_token(connection.scope.get("query_string", b"")) or (
            isinstance(connection, Request) and await _form_token(connection)
        ):
            raise InvalidRequest("The request carries more than one credential.")
        return await self.verifier.verify_api_key(key, header)

    async def from_session(self, connection: HTTPConnection) -> Principal | None:
        """The session cookie's Principal (cookie mode), or None without one."""
        if self.sessions is None:
            return None
        return await self.sessions.authenticate(connection)

    async def verify_token(self, token: str) -> tuple[Principal, bool]:
        """(Principal, came from the token cache): the cache first, then a full verification."""
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
        # Read only if the audit log's throttle lets the event through: under a flood of
        # forged tokens most are dropped, and the refusal should cost no more than that.
        token = partial(_token_for_log, scope) if principal is None else None
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


def authenticator_of(connection: HTTPConnection) -> Authenticator:
    """The app's bridge: from ``app.state`` (where ``install``/``lifespan`` put it)."""
    bridge = getattr(connection.app.state, STATE_ATTRIBUTE, None)
    if not isinstance(bridge, Authenticator):
        raise RuntimeError(
            "No AuthBridge on this app: call bridge.install(app) or use lifespan=bridge.lifespan."
        )
    return bridge


def from_cache(
    authenticator: Authenticator, slot: AuthSlot, scope: Mapping[str, Any]
) -> Principal | None:
    """The cached-token shortcut, kept in ``slot``; None means "take ``verify``"."""
    principal = authenticator.lookup(scope)  # not ``cached``: one call less on every hit
    if principal is None or isinstance(principal, str):
        return None
    slot.result = principal
    # A cache hit is logged at DEBUG only: skip building the event when that is off.
    if authenticator.audit.logger.isEnabledFor(logging.DEBUG):
        authenticator.audit.success(principal, scope=scope, cached=True)
    return principal


def from_cache_or_token(
    authenticator: Authenticator, slot: AuthSlot, scope: Mapping[str, Any]
) -> Principal | str | None:
    """``from_cache``, but on the miss ``Authenticator.lookup`` tells apart, the bearer token
    to hand to ``settle_token``; None means "take ``settle``"."""
    found = authenticator.lookup(scope)
    if found is not None and not isinstance(found, str):
        slot.result = found
        if authenticator.audit.logger.isEnabledFor(logging.DEBUG):
            authenticator.audit.success(found, scope=scope, cached=True)
    return found


async def settle_token(
    authenticator: Authenticator, slot: AuthSlot, scope: Mapping[str, Any], token: str
) -> Principal | AuthHTTPException | None:
    """``settle`` for a request whose one credential is ``token``, as ``lookup`` found it:
    the same outcome, slot and audit event, without the ``Request`` and the second header
    scan. None: the header is not one b64token, and ``settle`` must give the verdict.

    The b64token check (RFC 6750 §2.1) comes after a refusal, not before verifying: a JWT
    outside that syntax never gets past ``parse`` (its alphabet is a subset of b64token's),
    so nothing has been fetched or checked for it. Session tokens, which go to the session
    store, are checked first.
    """
    if authenticator._session_bearers and not is_b64token(
        token.encode("latin-1"), session_tokens=True
    ):
        return None
    try:
        principal = await authenticator.verifier.verify(token)
    except AuthError as exc:
        if not is_b64token(token.encode("latin-1"), session_tokens=authenticator._session_bearers):
            return None
        slot.result = refusal = authenticator.refuse(exc, scope)
        return refusal
    slot.result = principal
    authenticator.audit.success(principal, scope=scope, cached=False)
    return principal


@overload
async def verify(
    authenticator: Authenticator,
    slot: AuthSlot,
    connection: HTTPConnection,
    *,
    optional: Literal[False] = False,
) -> Principal: ...


@overload
async def verify(
    authenticator: Authenticator, slot: AuthSlot, connection: HTTPConnection, *, optional: bool
) -> Principal | None: ...


async def verify(
    authenticator: Authenticator,
    slot: AuthSlot,
    connection: HTTPConnection,
    *,
    optional: bool = False,
) -> Principal | None:
    """The full path: resolve the credential, keep the outcome in ``slot``, log it.

    A refusal is logged once, kept in the slot (later dependencies re-raise it) and raised as
    the ``AuthHTTPException`` to answer with. With ``optional``, a request without credentials
    is anonymous (None), not refused.
    """
    outcome = await settle(authenticator, slot, connection, optional=optional)
    if isinstance(outcome, AuthHTTPException):
        raise outcome.fresh()  # not the kept one: see ``AuthHTTPException.fresh``
    return outcome


async def settle(
    authenticator: Authenticator,
    slot: AuthSlot,
    connection: HTTPConnection,
    *,
    optional: bool = False,
) -> Principal | AuthHTTPException | None:
    """``verify`` without raising: the Principal, None (anonymous, with ``optional``) or the
    logged refusal to answer with (also kept in ``slot``). The fast path answers a refusal
    directly, with no exception on its way.

    The library's ``AuthError`` is dropped inside its ``except`` clause: kept past it, its
    traceback (this frame among them) would keep this frame's locals alive in a cycle.
    """
    scope = connection.scope
    try:
        principal, cached = await authenticator.resolve(connection)
    except TokenMissing as exc:
        if optional:
            slot.anonymous = True
            return None
        slot.result = refusal = authenticator.refuse(exc, scope)
        return refusal
    except AuthError as exc:
        slot.result = refusal = authenticator.refuse(exc, scope)
        return refusal
    slot.result = principal
    authenticator.audit.success(principal, scope=scope, cached=cached)
    return principal


def settled(scope: Mapping[str, Any]) -> Principal | None:
    """Synchronous: the Principal already found for this request, or one the verifier's
    token cache answers for at once. None means "take ``authenticated``"."""
    slot = scope.get(SLOT_KEY)
    if slot is None:
        return None
    result = slot.result
    if isinstance(result, Principal):
        return result
    bridge = slot.bridge
    if result is not None or bridge is None:
        return None
    return from_cache(bridge, slot, scope)


async def authenticated(
    connection: HTTPConnection, *, optional: bool = False, cache_tried: bool = False
) -> Principal | None:
    """This request's Principal, verifying at most once; None only if ``optional`` and absent.

    A refusal found earlier in the request is raised again, without a second log line.
    ``cache_tried``: the caller has just had ``settled`` answer None, so the token cache's
    shortcut is not asked again (the full path still consults the cache first).
    """
    scope = connection.scope
    slot = scope.get(SLOT_KEY)
    if slot is None:  # no middleware: the bridge came in through lifespan= only
        slot = scope[SLOT_KEY] = AuthSlot()
    result = slot.result
    if result is not None:
        if isinstance(result, Principal):
            return result
        raise result.fresh() if isinstance(result, AuthHTTPException) else result
    authenticator: Authenticator = slot.bridge or authenticator_of(connection)
    if not (cache_tried and slot.bridge is not None):  # settled asked only with a bridge
        principal = from_cache(authenticator, slot, scope)
        if principal is not None:
            return principal
    if optional and slot.anonymous:
        return None
    return await verify(authenticator, slot, connection, optional=optional)


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
