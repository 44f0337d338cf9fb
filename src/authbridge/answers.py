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
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .errors import AuthError, InsufficientScope, ServiceUnavailable

__all__ = [
    "DEFAULT_REALM",
    "NO_STORE",
    "Answer",
    "answer_for",
    "body_detail",
    "check_realm",
    "check_scope_names",
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
