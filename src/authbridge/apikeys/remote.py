"""Remote mode: one ``GET {base}/api/auth/get-session`` carrying the key in its header.

With ``enableSessionForAPIKeys`` the plugin's ``before`` hook runs ``validateApiKey`` on that
request (so Better Auth itself counts the use, refills, rate-limits, and deletes an expired or
used-up key) and answers ``{user, session}`` with ``session.id`` the key's id. Its refusals are
401 (unknown, disabled, expired), 403 (shorter than ``defaultKeyLength``) and 429 (used up,
rate limited), each with the plugin's ``code``, which names the precise refusal here.

The answer's ``session.token`` is the key itself: it is never kept, returned or logged. The
answer has no permissions; ``verifier.py`` reads them from the database when one is set.
Better Auth down, a 5xx, a timeout or a body that is not a session is
:class:`ApiKeyEndpointUnavailable` (503): only one call is ever made per request, since every
call counts as a use of the key.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final

import httpx

from authbridge.apikeys.records import ApiKeyRecord
from authbridge.errors import (
    ApiKeyDisabled,
    ApiKeyEndpointUnavailable,
    ApiKeyExpired,
    ApiKeyRateLimited,
    ApiKeyUsageExceeded,
    InvalidApiKey,
)
from authbridge.sessions.endpoint import AuthEndpointClient, get_session_url, parse_answer
from authbridge.sessions.records import (
    parse_banned,
    parse_bool,
    parse_roles,
    parse_text,
    parse_timestamp,
)

__all__ = ["RemoteApiKeyStore"]

_REFUSED: Final = frozenset({401, 403, 429})
_ANSWERS: Final = _REFUSED | {200}
_BY_CODE: Final[dict[str, type[InvalidApiKey]]] = {
    "KEY_DISABLED": ApiKeyDisabled,
    "KEY_EXPIRED": ApiKeyExpired,
    "USAGE_EXCEEDED": ApiKeyUsageExceeded,
    "RATE_LIMITED": ApiKeyRateLimited,
}


class RemoteApiKeyStore:
    """Asks Better Auth's get-session to validate (and count) a key."""

    def __init__(
        self, base_url: str, *, timeout: float = 5.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self._url = get_session_url(base_url)
        self._timeout = timeout
        self._http = AuthEndpointClient(ApiKeyEndpointUnavailable, timeout=timeout, client=client)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def validate(self, key: str, header: str) -> ApiKeyRecord:
        """The key's user and id from Better Auth, or its refusal. ``header`` is the header
        name the client used (one of Better Auth's ``apiKeyHeaders``)."""
        headers = {"accept": "application/json", "cache-control": "no-store", header: key}
        status, body = await self._http.get(self._url, headers, answers=_ANSWERS)
        if status != 200:
            raise _refusal(body)
        return _record(self._http.document(body))

    async def diagnose(self, header: str, min_length: int = 64) -> str | None:
        """For ``authbridge check``: None when get-session takes API keys (it refuses a key
        no one has, with the plugin's code), else what is wrong. Costs no key a use."""
        probe = "authbridge-check-" + "x" * max(min_length, 64)
        headers = {"accept": "application/json", header: probe}
        try:
            response = await self._http.client.get(
                self._url, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            return f"{self._url} cannot be reached ({type(error).__name__})"
        if response.status_code in _REFUSED:
            return None
        if response.status_code == 200 and _json(response.content) is None:
            return (
                f"{self._url} answers no session for a key in {header}: Better Auth does not "
                "take API keys there"
            )
        return f"{self._url} answered HTTP {response.status_code}"


def _json(body: bytes) -> Any:
    """For a refusal's code and the check's probe, where a body that is not JSON is no
    failure: the value, or ``_NOT_JSON``."""
    try:
        return parse_answer(body)
    except ValueError:
        return _NOT_JSON


_NOT_JSON: Final = object()


def _refusal(body: bytes) -> InvalidApiKey:
    document = _json(body)
    code = document.get("code") if isinstance(document, dict) else None
    error = _BY_CODE.get(code, InvalidApiKey) if isinstance(code, str) else InvalidApiKey
    return error()


def _record(document: Any) -> ApiKeyRecord:
    if document is None:
        # No session: the server does not take keys on get-session (no plugin, or
        # enableSessionForAPIKeys off, or another header), so Better Auth would refuse it.
        raise InvalidApiKey()
    if not isinstance(document, dict):
        raise ApiKeyEndpointUnavailable(retry_after=5)
    session, user = document.get("session"), document.get("user")
    if not isinstance(session, dict) or not isinstance(user, dict):
        raise ApiKeyEndpointUnavailable(retry_after=5)
    key_id, user_id = session.get("id"), user.get("id")
    if not isinstance(key_id, str) or not key_id or not isinstance(user_id, str) or not user_id:
        raise ApiKeyEndpointUnavailable(retry_after=5)
    if session.get("userId") not in (None, user_id):
        raise ApiKeyEndpointUnavailable(retry_after=5)
    return ApiKeyRecord(
        key_id=key_id,
        user_id=user_id,
        # The plugin answers the key's expiresAt, or now + the session lifetime for a key
        # without one: a moment the key is valid until, at the least.
        expires_at=parse_timestamp(session.get("expiresAt")),
        email=parse_text(user.get("email")),
        name=parse_text(user.get("name")),
        email_verified=parse_bool(user.get("emailVerified")),
        image=parse_text(user.get("image")),
        roles=parse_roles(user.get("role")),
        banned=parse_banned(user.get("banned")),
        ban_expires=user.get("banExpires"),
        user=MappingProxyType(dict(user)),  # the user only: session.token is the key
    )
