"""A pure-ASGI middleware that marks authenticated responses as private (V55).

The dependencies record each request's authentication outcome in an ``AuthSlot`` kept in the
ASGI scope (so several dependencies verify only once). When the response starts and the slot
holds a ``Principal``, this middleware adds ``Cache-Control: no-store`` (unless the endpoint
chose its own cache policy) and ``Vary: Authorization`` (``Authorization, Cookie`` when the
bridge accepts session cookies), whatever the endpoint returned. An
optional-auth route answering a signed-out caller gets the ``Vary`` header only: its
response depends on those headers too.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..principal import Principal

__all__ = ["SLOT_KEY", "AuthSlot", "AuthStateMiddleware", "slot_of"]

SLOT_KEY: Final = "authbridge.slot"
_CACHE_CONTROL: Final = b"cache-control"
_VARY: Final = b"vary"
_BEARER_VARY: Final = (b"Authorization",)
# Cookie mode: the answer also depends on the session cookie.
_COOKIE_VARY: Final = (b"Authorization", b"Cookie")


class AuthSlot(msgspec.Struct, repr_omit_defaults=True):
    """This request's outcome: a ``Principal``, an exception to re-raise, or nothing yet.

    A Struct, built in C: every HTTP request gets one.
    """

    bridge: Any = None  # the installing AuthBridge: saves a lookup per request
    result: Principal | Exception | None = None
    anonymous: bool = False  # optional auth ran and found no credentials
    # Typed users built for this request (model class -> instance, or the refusal).
    models: dict[type, object] | None = None


def slot_of(scope: Scope) -> AuthSlot:
    slot = scope.get(SLOT_KEY)
    if slot is None:
        slot = scope[SLOT_KEY] = AuthSlot()
    return slot


def _private(
    headers: list[tuple[bytes, bytes]], *, no_store: bool, vary: tuple[bytes, ...] = _BEARER_VARY
) -> list[tuple[bytes, bytes]]:
    has_cache_control = not no_store
    vary_index = -1
    for index, (key, _) in enumerate(headers):
        if key == _CACHE_CONTROL:
            has_cache_control = True
        elif key == _VARY:
            vary_index = index
    if not has_cache_control:
        headers.append((_CACHE_CONTROL, b"no-store"))
    if vary_index < 0:
        headers.append((_VARY, b", ".join(vary)))
    else:
        value = headers[vary_index][1]
        if value.strip() != b"*":
            lowered = value.lower()
            for name in vary:
                if name.lower() not in lowered:
                    value += b", " + name
            headers[vary_index] = (_VARY, value)
    return headers


def _with_private(
    headers: Any, extra: tuple[tuple[bytes, bytes], ...], *, no_store: bool, vary: tuple[bytes, ...]
) -> list[tuple[bytes, bytes]]:
    """``headers`` plus ``extra``; the merge in ``_private`` only when the endpoint set its own
    Cache-Control or Vary (rare), since this runs on every authenticated response."""
    for key, _ in headers:
        if key in (_CACHE_CONTROL, _VARY):
            return _private(list(headers), no_store=no_store, vary=vary)
    return [*headers, *extra]


class AuthStateMiddleware:
    """Gives each HTTP request an ``AuthSlot`` and privatizes authenticated responses.

    The subclasses add to it without a ``__call__`` of their own calling this one: route
    wrapping (``route_auth.py``) through ``prepare``, and ``ProtectingMiddleware``
    (``protect.py``) with its own ``__call__`` that runs the app with ``send_private`` or
    ``send_always_private``. A middleware layer costs mostly its coroutines, so each request
    goes through one ``__call__``, not a chain of them.
    """

    def __init__(self, app: ASGIApp, bridge: Any = None) -> None:
        self.app = app
        self.bridge = bridge
        cookies = getattr(bridge, "sessions", None) is not None
        # API keys on: the answer also varies with the key header(s).
        api_key_headers: tuple[bytes, ...] = tuple(getattr(bridge, "api_key_headers", ()))
        self.vary = (_COOKIE_VARY if cookies else _BEARER_VARY) + api_key_headers
        vary_header = (_VARY, b", ".join(self.vary))
        self.private_headers = ((_CACHE_CONTROL, b"no-store"), vary_header)
        self.vary_headers = (vary_header,)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.prepare(scope)
        slot = scope[SLOT_KEY] = AuthSlot(self.bridge)
        await self.app(scope, receive, self.send_private(send, slot))

    def prepare(self, scope: Scope) -> None:
        """Called for each HTTP request before the app: a hook for the subclasses
        (``route_auth.py`` wraps the app's routes here)."""

    def send_private(self, send: Send, slot: AuthSlot) -> Send:
        """``send``, privatizing the response if ``slot`` holds a Principal when it starts."""
        vary, private, vary_only = self.vary, self.private_headers, self.vary_headers

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                if isinstance(slot.result, Principal):
                    headers = message.get("headers") or ()
                    message["headers"] = _with_private(headers, private, no_store=True, vary=vary)
                elif slot.anonymous:  # an optional-auth route answered a signed-out caller
                    headers = message.get("headers") or ()
                    message["headers"] = _with_private(
                        headers, vary_only, no_store=False, vary=vary
                    )
            await send(message)

        return send_private

    def send_always_private(self, send: Send) -> Send:
        """``send`` for a request authenticated before routing: nothing can undo that, so
        the response is private without looking at the slot again."""
        vary, private = self.vary, self.private_headers

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or ()
                message["headers"] = _with_private(headers, private, no_store=True, vary=vary)
            await send(message)

        return send_private
