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

from dataclasses import replace
from urllib.parse import quote

import httpx

from authbridge.errors import SessionEndpointUnavailable
from authbridge.sessions.endpoint import AuthEndpointClient, get_session_url
from authbridge.sessions.records import SessionRecord

__all__ = ["RemoteSessionStore", "get_session_url"]

_REJECTED = frozenset({401, 403})
_SESSION_STATUSES = frozenset({200})
_MEMBER_STATUSES = frozenset({200, 400})
# get-active-member's 400 codes (Better Auth 1.7.25, ORGANIZATION_ERROR_CODES) that mean "no
# organization for this session"; any other 400 is an answer authbridge does not understand.
_NOT_A_MEMBER = frozenset({"MEMBER_NOT_FOUND", "NO_ACTIVE_ORGANIZATION"})


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
        self._http = AuthEndpointClient(SessionEndpointUnavailable, timeout=timeout, client=client)

    async def aclose(self) -> None:
        await self._http.aclose()

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
        status, body = await self._http.get(
            self._url, headers, answers=_SESSION_STATUSES, bodiless=_REJECTED
        )
        if status in _REJECTED:
            return None
        record = self._parse_body(body)
        if record is None or record.organization_id is None:
            return record
        return await self._with_member(record, headers)

    async def _with_member(
        self, record: SessionRecord, headers: dict[str, str]
    ) -> SessionRecord | None:
        """``record`` with the caller's role in its active organization, or with no
        organization when they are not a member of it (any more)."""
        status, body = await self._http.get(
            self._member_url, headers, answers=_MEMBER_STATUSES, bodiless=_REJECTED
        )
        if status in _REJECTED:
            return None  # the session ended between the two calls
        document = self._http.document(body)
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

    def _parse_body(self, body: bytes) -> SessionRecord | None:
        document = self._http.document(body)
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
