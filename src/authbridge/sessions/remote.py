"""Ask the Better Auth server itself: ``GET {base}/api/auth/get-session``.

The credential goes as the signed session cookie (works on every Better Auth
server) or as ``Authorization: Bearer`` (needs the bearer plugin). The server
answers ``null`` for an unknown, expired or signed-out session. When it cannot
answer (down, 5xx, timeout, a body that is not a session), the caller gets
:class:`SessionEndpointUnavailable` (503), never a 401 the user cannot fix.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from authbridge.errors import SessionEndpointUnavailable
from authbridge.sessions.records import SessionRecord

__all__ = ["RemoteSessionStore", "get_session_url"]

_MAX_BODY = 1 << 20
_REJECTED = frozenset({401, 403})


def get_session_url(base_url: str) -> str:
    """``{origin}{path}/api/auth/get-session``; a base that already ends in /api/auth is kept."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/api/auth"):
        path += "/api/auth"
    return urlunsplit((parts.scheme, parts.netloc, path + "/get-session", "", ""))


class RemoteSessionStore:
    """Resolves a session token through the issuer's get-session endpoint."""

    def __init__(
        self,
        base_url: str,
        *,
        cookie_names: tuple[str, ...],
        credential: str = "cookie",
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = get_session_url(base_url)
        self._cookie_names = cookie_names
        self._credential = credential
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._timeout = timeout

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def find(self, *, signed: str | None, raw: str) -> SessionRecord | None:
        """The session for this credential, or None when the issuer says there is none.

        ``signed`` is ``token.signature`` (not URL-encoded); ``raw`` is the bare token,
        sent as a bearer value only when no signed form is known.
        """
        headers = {"accept": "application/json", "cache-control": "no-store"}
        if signed is not None and self._credential == "cookie":
            encoded = quote(signed, safe="-_.!~*'()")
            headers["cookie"] = "; ".join(f"{name}={encoded}" for name in self._cookie_names)
        else:
            headers["authorization"] = f"Bearer {signed if signed is not None else raw}"
        try:
            async with self._client.stream(
                "GET", self._url, headers=headers, timeout=self._timeout
            ) as response:
                status = response.status_code
                if status in _REJECTED:
                    return None
                if status != 200:
                    raise SessionEndpointUnavailable(retry_after=_retry_after(response))
                body = await _read_limited(response)
        except httpx.HTTPError:
            raise SessionEndpointUnavailable(retry_after=5) from None
        return _parse_body(body)


async def _read_limited(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > _MAX_BODY:
            raise SessionEndpointUnavailable(retry_after=5)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_body(body: bytes) -> SessionRecord | None:
    try:
        document: Any = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SessionEndpointUnavailable(retry_after=5) from None
    if document is None:
        return None
    if not isinstance(document, dict):
        raise SessionEndpointUnavailable(retry_after=5)
    session, user = document.get("session"), document.get("user")
    if not isinstance(session, dict) or not isinstance(user, dict):
        raise SessionEndpointUnavailable(retry_after=5)
    record = SessionRecord.from_payload(session, user)
    if record is None:
        raise SessionEndpointUnavailable(retry_after=5)
    return record


def _retry_after(response: httpx.Response) -> int:
    value = response.headers.get("retry-after", "")
    if value.isdigit():
        return max(1, min(int(value), 3600))
    return 5
