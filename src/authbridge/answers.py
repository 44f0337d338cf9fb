"""RFC 6750 answers for credential failures, for every framework layer (V47–V53, V55).

Every token failure, whatever its reason, gets one 401 shape: the same status, the same
``WWW-Authenticate`` value and the same body ``{"detail": ..., "code": "invalid_token"}``, so
a caller cannot learn which check failed. The precise reason (``token_expired``,
``unknown_key``...) goes only to the audit log.

The status and the public code come from the error class (``AuthError.status`` and
``public_code``); ``answer_for`` only adds the headers and the body each status calls for. An
outage (``ServiceUnavailable``) is a 503 with ``Retry-After`` and the outage's own code.
Each framework layer (``fastapi``, ``starlette``, ``flask``...) turns an ``Answer`` into its
own response or exception; none builds a header itself.

Header values are built from fixed strings and from scope/realm names checked at startup;
nothing a client sent is ever echoed into a header (V52).

A WebSocket has no status or headers to answer with: every ASGI layer (``fastapi``,
``starlette``, ``litestar``) accepts a refused connection and closes it with
``websocket_close(error)``: code 1008 (policy violation), or 1013 (try again later) for an
outage, with the public code as the reason, so a browser's ``onclose`` sees why (a refused
handshake would only show 1006). ``refuse_websocket`` does that in raw ASGI.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from .errors import AuthError, InsufficientScope, ServiceUnavailable

__all__ = [
    "DEFAULT_REALM",
    "NO_STORE",
    "POLICY_VIOLATION",
    "TRY_AGAIN_LATER",
    "Answer",
    "answer_for",
    "body_detail",
    "check_realm",
    "check_scope_names",
    "refuse_websocket",
    "refused_subprotocol",
    "websocket_close",
]

# RFC 6750 §3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); realm/description add the space.
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_QUOTED_SAFE: Final = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")

NO_STORE: Final = "no-store"
# WebSocket close codes (RFC 6455 §7.4.1): a refusal, and an outage worth retrying.
POLICY_VIOLATION: Final = 1008
TRY_AGAIN_LATER: Final = 1013
_BEARER_SUBPROTOCOL: Final = "bearer"
DEFAULT_REALM: Final = "authbridge"  # the same default as the AUTHBRIDGE_REALM setting

# Fixed descriptions: only characters RFC 6750 §3 allows in error_description.
_DESCRIPTIONS: Final = {
    "invalid_token": "The access token is invalid or has expired",
    "invalid_request": "The request carries a malformed or duplicated credential",
    "insufficient_scope": "The access token lacks the required scope or role",
}
_BODY_DETAIL: Final = {
    "token_missing": "Authentication is required.",
    "invalid_token": "The access token is invalid or has expired.",
    "invalid_request": "The request carries a malformed or duplicated credential.",
    "insufficient_scope": "The access token lacks the required scope or role.",
    "csrf_rejected": "The request's origin is not trusted.",
    "organization_required": "The request needs an active organization.",
    "user_banned": "The user is banned.",
    "invalid_api_key": "The API key is invalid.",
    "forbidden": "The request is not allowed.",
}
# Every outage gets this body; its code says which service is down.
_UNAVAILABLE_DETAIL: Final = "Authentication is temporarily unavailable. Retry later."


@dataclass(frozen=True, slots=True)
class Answer:
    """One refusal: the status, the public code, the body's detail and the headers."""

    status: int
    code: str
    headers: dict[str, str]

    @property
    def detail(self) -> str:
        return body_detail(self.status, self.code)

    def body(self) -> dict[str, str]:
        """The JSON body every layer sends: ``{"detail": ..., "code": ...}``."""
        return {"detail": self.detail, "code": self.code}


def body_detail(status: int, code: str) -> str:
    """The fixed human sentence for a public code (every outage shares one)."""
    return _UNAVAILABLE_DETAIL if status == 503 else _BODY_DETAIL[code]


def check_realm(realm: str) -> str:
    """A realm is developer-chosen, but it goes into a quoted header value: check it."""
    if not realm or _QUOTED_SAFE.fullmatch(realm) is None:
        raise ValueError("realm must be non-empty printable ASCII without '\"' or '\\'")
    return realm


def check_scope_names(names: Iterable[str], what: str = "scope") -> tuple[str, ...]:
    """Scope and role names are RFC 6750 scope-tokens: no spaces, quotes or backslashes."""
    checked = tuple(names)
    if not checked:
        raise ValueError(f"name at least one {what}")
    for name in checked:
        if not isinstance(name, str) or _SCOPE_TOKEN.fullmatch(name) is None:
            raise ValueError(f"{what} names must be printable ASCII without spaces or quotes")
    return checked


def _challenge(realm: str, error: str | None = None, scope: str | None = None) -> str:
    parts = [f'Bearer realm="{realm}"']
    if error is not None:
        parts.append(f'error="{error}"')
        parts.append(f'error_description="{_DESCRIPTIONS[error]}"')
    if scope is not None:
        parts.append(f'scope="{scope}"')
    return ", ".join(parts)


def answer_for(error: AuthError, realm: str) -> Answer:
    """Map a library error to its RFC 6750 answer: its class's status, plus headers."""
    code, status = error.public_code, error.status
    headers = {"Cache-Control": NO_STORE}
    if status == 503:
        retry_after = error.retry_after if isinstance(error, ServiceUnavailable) else 30
        headers["Retry-After"] = str(max(1, int(retry_after)))
        return Answer(503, code, headers)
    if status == 400:
        headers["WWW-Authenticate"] = _challenge(realm, "invalid_request")
        return Answer(400, "invalid_request", headers)
    if isinstance(error, InsufficientScope):
        # Only scopes are advertised in scope="..."; role names are not OAuth scopes.
        scope = " ".join(error.required) if error.required else None
        headers["WWW-Authenticate"] = _challenge(realm, "insufficient_scope", scope)
        return Answer(403, code, headers)
    if status == 403:
        return Answer(403, code if code in _BODY_DETAIL else "forbidden", headers)
    if code == "invalid_api_key":
        # Every API-key refusal (unknown, disabled, expired, used up, rate limited): one shape,
        # in the RFC 6750 style but under the scheme the key was sent with.
        headers["WWW-Authenticate"] = (
            f'ApiKey realm="{realm}", error="invalid_api_key", '
            'error_description="The API key is invalid or can no longer be used"'
        )
        return Answer(401, code, headers)
    if code == "token_missing":  # no credentials: a bare challenge (RFC 6750 §3.1)
        headers["WWW-Authenticate"] = _challenge(realm)
        return Answer(401, code, headers)
    # Every token failure, and any status the answers above do not cover: one 401 shape. A
    # banned user gets it too (the client must drop the credential), with its own public code.
    headers["WWW-Authenticate"] = _challenge(realm, "invalid_token")
    public = "user_banned" if code == "user_banned" else "invalid_token"
    return Answer(401, public, headers)


def websocket_close(error: AuthError) -> tuple[int, str]:
    """The close code and reason for a refused WebSocket: 1013 for an outage (status 503),
    1008 otherwise; the reason is the error's public code (``invalid_token``...)."""
    return (TRY_AGAIN_LATER if error.status == 503 else POLICY_VIOLATION), error.public_code


def refused_subprotocol(offered: object) -> str | None:
    """The subprotocol to accept a connection that is refused at once: ``bearer`` if the
    client offered it (a browser fails a handshake that selects none of the offered ones,
    and its ``onclose`` would see only 1006), else none. Nothing else a client offered is
    echoed back: an entry after ``bearer`` may be a token. ``offered`` is the scope's
    ``subprotocols`` (a list, or missing)."""
    if isinstance(offered, (list, tuple)) and _BEARER_SUBPROTOCOL in offered:
        return _BEARER_SUBPROTOCOL
    return None


AsgiReceive = Callable[[], Awaitable[Any]]
AsgiSend = Callable[[Any], Awaitable[None]]


async def refuse_websocket(
    receive: AsgiReceive, send: AsgiSend, error: AuthError, subprotocols: object
) -> None:
    """Refuse a WebSocket in raw ASGI, before anything else received from or sent to it:
    accept it (after its ``websocket.connect``; with ``refused_subprotocol(subprotocols)``,
    the scope's offered ones), then close it with ``websocket_close(error)``. A client that
    has already left gets nothing."""
    if (await receive())["type"] != "websocket.connect":
        return  # websocket.disconnect: nobody to answer
    accept = {"type": "websocket.accept", "subprotocol": refused_subprotocol(subprotocols)}
    await send(accept)
    code, reason = websocket_close(error)
    await send({"type": "websocket.close", "code": code, "reason": reason})
