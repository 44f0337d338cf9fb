"""RFC 6750 answers for credential failures (V47–V53, V55).

Every token failure, whatever its reason, gets one 401 shape: the same status, the same
``WWW-Authenticate`` value and the same body ``{"detail": ..., "code": "invalid_token"}``, so
a caller cannot learn which check failed. The precise reason (``token_expired``,
``unknown_key``...) goes only to the audit log.

The status and the public code come from the error class (``AuthError.status`` and
``public_code``); this module only adds the headers and the body each status calls for. An
outage (``ServiceUnavailable``) is a 503 with ``Retry-After`` and the outage's own code.

Header values are built from fixed strings and from scope/realm names checked at startup;
nothing a client sent is ever echoed into a header (V52).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response

from ..errors import AuthError, InsufficientScope, ServiceUnavailable

__all__ = [
    "AuthHTTPException",
    "auth_exception_handler",
    "check_realm",
    "check_scope_names",
    "http_error_for",
]

# RFC 6750 §3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); realm/description add the space.
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_QUOTED_SAFE: Final = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")

NO_STORE: Final = "no-store"
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


class AuthHTTPException(HTTPException):
    """An ``HTTPException`` carrying a stable ``code``.

    Without ``AuthBridge.install`` FastAPI's default handler still answers with the right
    status and headers (body ``{"detail": ...}``); with it, the body also carries ``code``.
    """

    def __init__(self, status_code: int, code: str, headers: dict[str, str]) -> None:
        detail = _UNAVAILABLE_DETAIL if status_code == 503 else _BODY_DETAIL[code]
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.code = code

    def fresh(self) -> AuthHTTPException:
        """A new, never-raised copy to raise. A request keeps its refusal (in its ``AuthSlot``)
        and raises copies: a raised exception's traceback holds the frames that hold the
        slot, so raising the kept object itself would make a reference cycle per refusal,
        left for the garbage collector (slow under a flood of forged tokens)."""
        assert self.headers is not None
        return AuthHTTPException(self.status_code, self.code, dict(self.headers))


def _challenge(realm: str, error: str | None = None, scope: str | None = None) -> str:
    parts = [f'Bearer realm="{realm}"']
    if error is not None:
        parts.append(f'error="{error}"')
        parts.append(f'error_description="{_DESCRIPTIONS[error]}"')
    if scope is not None:
        parts.append(f'scope="{scope}"')
    return ", ".join(parts)


def public_code(error: AuthError) -> str:
    """The code a client sees: coarse for every token failure (V53); the class decides."""
    return error.public_code


def http_error_for(error: AuthError, realm: str) -> AuthHTTPException:
    """Map a library error to its RFC 6750 answer: its class's status, plus headers."""
    code, status = error.public_code, error.status
    headers = {"Cache-Control": NO_STORE}
    if status == 503:
        retry_after = error.retry_after if isinstance(error, ServiceUnavailable) else 30
        headers["Retry-After"] = str(max(1, int(retry_after)))
        return AuthHTTPException(503, code, headers)
    if status == 400:
        headers["WWW-Authenticate"] = _challenge(realm, "invalid_request")
        return AuthHTTPException(400, "invalid_request", headers)
    if isinstance(error, InsufficientScope):
        # Only scopes are advertised in scope="..."; role names are not OAuth scopes.
        scope = " ".join(error.required) if error.required else None
        headers["WWW-Authenticate"] = _challenge(realm, "insufficient_scope", scope)
        return AuthHTTPException(403, code, headers)
    if status == 403:
        return AuthHTTPException(403, code if code in _BODY_DETAIL else "forbidden", headers)
    if code == "invalid_api_key":
        # Every API-key refusal (unknown, disabled, expired, used up, rate limited): one shape,
        # in the RFC 6750 style but under the scheme the key was sent with.
        headers["WWW-Authenticate"] = (
            f'ApiKey realm="{realm}", error="invalid_api_key", '
            'error_description="The API key is invalid or can no longer be used"'
        )
        return AuthHTTPException(401, code, headers)
    if code == "token_missing":  # no credentials: a bare challenge (RFC 6750 §3.1)
        headers["WWW-Authenticate"] = _challenge(realm)
        return AuthHTTPException(401, code, headers)
    # Every token failure, and any status the answers above do not cover: one 401 shape. A
    # banned user gets it too (the client must drop the credential), with its own public code.
    headers["WWW-Authenticate"] = _challenge(realm, "invalid_token")
    public = "user_banned" if code == "user_banned" else "invalid_token"
    return AuthHTTPException(401, public, headers)


# Rendered refusal bodies by (detail, code): a handful of fixed pairs, so a flood of forged
# tokens does not encode the same JSON on every request. Bounded all the same.
_BODIES: Final[dict[tuple[str, str], bytes]] = {}
_MAX_BODIES: Final = 256


def _body(detail: str, code: str) -> bytes:
    body = _BODIES.get((detail, code))
    if body is None:
        body = bytes(JSONResponse({"detail": detail, "code": code}).body)  # its own bytes
        if len(_BODIES) < _MAX_BODIES:
            _BODIES[detail, code] = body
    return body


async def auth_exception_handler(request: Request, exc: Exception) -> Response:
    """Registered by ``AuthBridge.install``: ``{"detail": ..., "code": ...}`` plus headers."""
    assert isinstance(exc, AuthHTTPException)
    return Response(
        _body(exc.detail, exc.code),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type="application/json",
    )
