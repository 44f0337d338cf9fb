"""WebSocket authentication that browsers can use.

Browsers cannot set ``Authorization`` on a WebSocket, so these ways are accepted, in order:

1. ``new WebSocket(url, ["bearer", token])``: the token travels in ``Sec-WebSocket-Protocol``;
   the server accepts the connection with the subprotocol ``bearer`` only (never echoing the
   token back);
2. ``Authorization: Bearer <token>`` on the handshake (non-browser clients);
3. in cookie mode (``AUTHBRIDGE_SESSION_COOKIE=on``), Better Auth's session cookie, when the
   handshake's ``Origin`` is trusted (cross-site WebSocket hijacking is refused);
4. none of these: the server accepts, and the first message must be
   ``{"type": "auth", "token": "<token>"}`` within ``websocket_auth_timeout`` seconds.

A refused connection is accepted and then closed with code 1008 (policy violation), or 1013
(try again later) when the issuer's keys are unavailable, so a browser's ``onclose`` sees the
code and reason (a refused handshake would only show 1006). ``answers.websocket_close``
decides both; the Starlette and Litestar layers close a refused socket the same way.
``?access_token=`` is never read.

Wherever the token came from, ``Authenticator.verify_token`` (``authenticate.py``) verifies
it: the same token-cache-then-verifier step as every HTTP request.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping, Sequence
from typing import Annotated, Any, Final

import anyio
from fastapi import Depends, WebSocket, WebSocketException
from starlette.websockets import WebSocketDisconnect

from ..answers import refused_subprotocol, websocket_close
from ..errors import AuthError, InvalidRequest, TokenMissing
from ..jose.strict_json import loads_object
from ..principal import Principal
from .bridge import AuthBridge, bridge_of
from .credentials import bearer_from_headers

__all__ = [
    "BEARER_SUBPROTOCOL",
    "WebSocketUser",
    "authenticate_websocket",
    "websocket_user",
]

BEARER_SUBPROTOCOL: Final = "bearer"
MAX_AUTH_MESSAGE_BYTES: Final = 16384
_TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _protocol_token(offered: Sequence[str]) -> str | None:
    """The entry after ``bearer`` in the offered subprotocols, if ``bearer`` is offered."""
    if BEARER_SUBPROTOCOL not in offered:
        return None
    index = list(offered).index(BEARER_SUBPROTOCOL)
    if index + 1 >= len(offered) or _TOKEN.fullmatch(offered[index + 1]) is None:
        raise InvalidRequest("The bearer subprotocol carries no well-formed token.")
    return offered[index + 1]


def _handshake_token(scope: MutableMapping[str, Any]) -> tuple[str | None, bool]:
    """(token, came from the subprotocol) from the handshake, or (None, False)."""
    from_protocol = _protocol_token(scope.get("subprotocols") or ())
    try:
        from_header: str | None = bearer_from_headers(
            scope["headers"], scope.get("query_string", b"")
        )
    except TokenMissing:
        from_header = None
    if from_protocol is not None and from_header is not None:
        raise InvalidRequest("The request carries more than one credential.")
    if from_protocol is not None:
        return from_protocol, True
    return from_header, False


async def _first_message_token(websocket: WebSocket, wait: float) -> str:
    try:
        with anyio.fail_after(wait):
            message = await websocket.receive()
    except TimeoutError:
        raise TokenMissing("No authentication message arrived in time.") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    raw = message.get("text")
    data = raw.encode("utf-8") if isinstance(raw, str) else message.get("bytes")
    if not isinstance(data, bytes) or len(data) > MAX_AUTH_MESSAGE_BYTES:
        raise InvalidRequest("The authentication message is not valid.")
    try:
        payload = loads_object(data)
    except (ValueError, RecursionError):
        raise InvalidRequest("The authentication message is not valid.") from None
    token = payload.get("token")
    if payload.get("type") != "auth" or not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise InvalidRequest("The authentication message is not valid.")
    return token


def _refuse(
    bridge: AuthBridge, error: AuthError, websocket: WebSocket, token: str | None
) -> WebSocketException:
    close_code, reason = websocket_close(error)  # the answer every ASGI layer gives
    bridge.audit.failure(
        error.code,
        scope=websocket.scope,
        token=token,
        status=close_code,
        transport="websocket",
    )
    return WebSocketException(code=close_code, reason=reason)


async def authenticate_websocket(
    websocket: WebSocket, *, auth_timeout: float | None = None
) -> Principal:
    """Authenticate, then accept, a WebSocket; raise ``WebSocketException`` to refuse it.

    On success the connection is accepted (with subprotocol ``bearer`` if the token came that
    way) and the Principal returned.
    """
    bridge = bridge_of(websocket)
    accepted = False
    token: str | None = None
    try:
        token, via_protocol = _handshake_token(websocket.scope)
        if token is None:
            # Cookie mode: the browser's session cookie, with the handshake's Origin checked.
            principal = await bridge.from_session(websocket)
            if principal is not None:
                await websocket.accept()
                bridge.audit.success(
                    principal, scope=websocket.scope, cached=False, transport="websocket"
                )
                return principal
        if token is None:
            await websocket.accept()
            accepted = True
            token = await _first_message_token(
                websocket, bridge.websocket_auth_timeout if auth_timeout is None else auth_timeout
            )
        principal, cached = await bridge.verify_token(token)
    except AuthError as exc:
        refusal = _refuse(bridge, exc, websocket, token)
        if not accepted:
            # A browser sees only "1006" when the handshake itself is refused: accept, so the
            # close code and reason reach its onclose handler. No app code runs.
            offered = websocket.scope.get("subprotocols")
            await websocket.accept(subprotocol=refused_subprotocol(offered))
        raise refusal from None
    if not accepted:
        await websocket.accept(subprotocol=BEARER_SUBPROTOCOL if via_protocol else None)
    bridge.audit.success(principal, scope=websocket.scope, cached=cached, transport="websocket")
    return principal


async def websocket_user(websocket: WebSocket) -> Principal:
    """Dependency form of ``authenticate_websocket``: the socket is accepted when it returns."""
    return await authenticate_websocket(websocket)


WebSocketUser = Annotated[Principal, Depends(websocket_user)]
