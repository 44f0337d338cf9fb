"""RFC 6750 answers for credential failures as FastAPI exceptions (V47–V53, V55).

The answers themselves (statuses, codes, challenges, bodies) are ``authbridge/answers.py``,
shared by every framework layer; this module turns one into an ``HTTPException`` and
registers the handler that writes its body.
"""

from __future__ import annotations

from typing import Final

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response

from ..answers import (
    DEFAULT_REALM,
    NO_STORE,
    answer_for,
    body_detail,
    check_realm,
    check_scope_names,
)
from ..errors import AuthError

__all__ = [
    "DEFAULT_REALM",
    "NO_STORE",
    "AuthHTTPException",
    "auth_exception_handler",
    "check_realm",
    "check_scope_names",
    "http_error_for",
]


class AuthHTTPException(HTTPException):
    """An ``HTTPException`` carrying a stable ``code``.

    Without ``AuthBridge.install`` FastAPI's default handler still answers with the right
    status and headers (body ``{"detail": ...}``); with it, the body also carries ``code``.
    """

    def __init__(self, status_code: int, code: str, headers: dict[str, str]) -> None:
        super().__init__(
            status_code=status_code, detail=body_detail(status_code, code), headers=headers
        )
        self.code = code

    def fresh(self) -> AuthHTTPException:
        """A new, never-raised copy to raise. A request keeps its refusal (in its ``AuthSlot``)
        and raises copies: a raised exception's traceback holds the frames that hold the
        slot, so raising the kept object itself would make a reference cycle per refusal,
        left for the garbage collector (slow under a flood of forged tokens)."""
        assert self.headers is not None
        return AuthHTTPException(self.status_code, self.code, dict(self.headers))


def public_code(error: AuthError) -> str:
    """The code a client sees: coarse for every token failure (V53); the class decides."""
    return error.public_code


def http_error_for(error: AuthError, realm: str) -> AuthHTTPException:
    """Map a library error to its RFC 6750 answer (``answers.py``) as an HTTP exception."""
    answer = answer_for(error, realm)
    return AuthHTTPException(answer.status, answer.code, answer.headers)


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
