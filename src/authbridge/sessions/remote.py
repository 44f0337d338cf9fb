"""Ask the Better Auth server itself: ``GET {base}/api/auth/get-session``.

The credential goes as the signed session cookie (works on every Better Auth
server) or as ``Authorization: Bearer`` (needs the bearer plugin). The server
answers ``null`` for an unknown, expired or signed-out session. When it cannot
answer (down, 5xx, timeout, a body that is not a session), the caller gets
:class:`SessionEndpointUnavailable` (503), never a 401 the user cannot fix.

``get-session`` names the session's active organization but not the caller's role in it, nor
whether they are still a member. When an organization is active, a second call,
``GET {base}/api/auth/organization/get-active-member`` with the same credential, answers
both: the role, or ``MEMBER_NOT_FOUND`` (no organization, then). One extra round trip, only
for sessions with an active organization; the pair is cached together.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from authbridge.errors import SessionEndpointUnavailable
from authbridge.sessions.records import SessionRecord

__all__ = ["RemoteSessionStore", "get_session_url"]

_MAX_BODY = 1 << 20
_REJECTED = frozenset({401, 403})
_MEMBER_STATUSES = frozenset({200, 400})
# get-active-member's 400 codes (Better Auth 1.7.25, ORGANIZATION_ERROR_CODES) that mean "no
# organization for this session"; any other 400 is an answer authbridge does not understand.
_NOT_A_MEMBER = frozenset({"MEMBER_NOT_FOUND", "NO_ACTIVE_ORGANIZATION"})


def get_session_url(base_url: str, endpoint: str = "/get-session") -> str:
    """``{origin}{path}/api/auth/get-session``; a base that already ends in /api/auth is kept."""
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if not path.endswith("/api/auth"):
        path += "/api/auth"
    return urlunsplit((parts.scheme, parts.netloc, path + endpoint, "", ""))


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
        self._member_url = get_session_url(base_url, "/organization/get-active-member")
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
        status, body = await self._get(self._url, headers)
        if status in _REJECTED:
            return None
        record = _parse_body(body)
        if record is None or record.organization_id is None:
            return record
        return await self._with_member(record, headers)

    async def _with_member(
        self, record: SessionRecord, headers: dict[str, str]
    ) -> SessionRecord | None:
        """``record`` with the caller's role in its active organization, or with no
        organization when they are not a member of it (any more)."""
        status, body = await self._get(self._member_url, headers, accept=_MEMBER_STATUSES)
        if status in _REJECTED:
            return None  # the session ended between the two calls
        document = _json(body)
        if status == 400:
            # Better Auth's answer for a session whose user left (or was removed from) the
            # organization it still names: no access to it.
            code = document.get("code") if isinstance(document, dict) else None
            if code not in _NOT_A_MEMBER:
                raise SessionEndpointUnavailable(retry_after=5)
            return replace(record, organization_id=None, organization_role=None)
        if not isinstance(document, dict) or document.get("userId") != record.user_id:
            raise SessionEndpointUnavailable(retry_after=5)
        organization_id, role = document.get("organizationId"), document.get("role")
        if not isinstance(organization_id, str) or not organization_id:
            raise SessionEndpointUnavailable(retry_after=5)
        # The member's organization: the session may have switched between the two calls.
        return replace(
            record,
            organization_id=organization_id,
            organization_role=role if isinstance(role, str) and role else None,
        )

    async def _get(
        self, url: str, headers: dict[str, str], accept: frozenset[int] = frozenset({200})
    ) -> tuple[int, bytes]:
        """(status, body) of a GET; 401/403 and the ``accept``ed statuses are answers, any
        other status, a timeout or a network failure is ``SessionEndpointUnavailable``."""
        try:
            async with self._client.stream(
                "GET", url, headers=headers, timeout=self._timeout
            ) as response:
                status = response.status_code
                if status in _REJECTED:
                    return status, b""
                if status not in accept:
                    raise SessionEndpointUnavailable(retry_after=_retry_after(response))
                return status, await _read_limited(response)
        except httpx.HTTPError:
            raise SessionEndpointUnavailable(retry_after=5) from None


async def _read_limited(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > _MAX_BODY:
            raise SessionEndpointUnavailable(retry_after=5)
        chunks.append(chunk)
    return b"".join(chunks)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SessionEndpointUnavailable(retry_after=5) from None


def _parse_body(body: bytes) -> SessionRecord | None:
    document = _json(body)
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
