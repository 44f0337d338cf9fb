"""Remote mode's organization lookup: ``get-active-member`` after ``get-session``.

``get-session`` names the active organization only; a second call gives the member's role, or
``MEMBER_NOT_FOUND`` for a user removed from the organization the session still names. The
answers here are Better Auth 1.7.25's shapes; tests/sessions/test_session_organizations.py
runs the same path against the real server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sessions_builders import iso, new_secret, new_token, sign

from authbridge.errors import SessionEndpointUnavailable, SessionInvalid
from authbridge.sessions.config import SessionConfig
from authbridge.sessions.verifier import SessionVerifier

MEMBER_PATH = "/api/auth/organization/get-active-member"


def _session(organization_id: str | None) -> dict[str, Any]:
    session: dict[str, Any] = {
        "id": "s1",
        "userId": "u1",
        "expiresAt": iso(datetime.now(UTC) + timedelta(days=1)),
    }
    if organization_id is not None:
        session["activeOrganizationId"] = organization_id
    return {"session": session, "user": {"id": "u1", "email": "r@example.com"}}


class Server:
    """A get-session / get-active-member pair; counts the calls to each."""

    def __init__(self, organization_id: str | None, member: httpx.Response) -> None:
        self.body = _session(organization_id)
        self.member = member
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if request.url.path == MEMBER_PATH:
            return self.member
        return httpx.Response(200, json=self.body)


async def _verify(server: Server) -> Any:
    secret = new_secret()
    client = httpx.AsyncClient(transport=httpx.MockTransport(server))
    config = SessionConfig(
        mode="remote", base_url="https://auth.example.com", secrets=((0, secret),)
    )
    async with SessionVerifier(config, http_client=client) as verifier:
        return await verifier.verify(sign(new_token(), secret))


def _member(**fields: Any) -> httpx.Response:
    body = {"id": "m1", "userId": "u1", "organizationId": "org-1", "role": "admin,member"}
    body.update(fields)
    return httpx.Response(200, json=body)


async def test_no_active_organization_is_one_call() -> None:
    server = Server(None, _member())
    principal = await _verify(server)
    assert (principal.organization_id, principal.organization_role) == (None, None)
    assert server.calls == ["/api/auth/get-session"]


async def test_the_member_role_comes_from_get_active_member() -> None:
    server = Server("org-1", _member())
    principal = await _verify(server)
    assert (principal.organization_id, principal.organization_role) == ("org-1", "admin,member")
    assert server.calls == ["/api/auth/get-session", MEMBER_PATH]


async def test_the_members_organization_wins_when_the_session_switched_between_calls() -> None:
    principal = await _verify(Server("org-1", _member(organizationId="org-2", role="owner")))
    assert (principal.organization_id, principal.organization_role) == ("org-2", "owner")


@pytest.mark.parametrize("code", ["MEMBER_NOT_FOUND", "NO_ACTIVE_ORGANIZATION"])
async def test_a_removed_member_has_no_organization(code: str) -> None:
    member = httpx.Response(400, json={"code": code, "message": "Member not found"})
    principal = await _verify(Server("org-1", member))
    assert principal.sub == "u1"
    assert (principal.organization_id, principal.organization_role) == (None, None)


async def test_the_session_ending_between_the_calls_is_signed_out() -> None:
    with pytest.raises(SessionInvalid):
        await _verify(Server("org-1", httpx.Response(401, json={"code": "UNAUTHORIZED"})))


@pytest.mark.parametrize(
    "member",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(404, json={"error": "not found"}),
        httpx.Response(400, json={"code": "SOMETHING_ELSE"}),
        httpx.Response(400, text="not json"),
        httpx.Response(200, text="not json"),
        httpx.Response(200, json=None),
        httpx.Response(200, json=["not", "a", "member"]),
        _member(userId="someone-else"),
        _member(organizationId=""),
        _member(organizationId=7),
    ],
)
async def test_an_answer_that_is_not_a_membership_is_503_never_access(
    member: httpx.Response,
) -> None:
    with pytest.raises(SessionEndpointUnavailable):
        await _verify(Server("org-1", member))


async def test_a_member_without_a_role_string_has_the_organization_and_no_role() -> None:
    principal = await _verify(Server("org-1", _member(role=None)))
    assert (principal.organization_id, principal.organization_role) == ("org-1", None)
