"""Better Auth's organization() and admin() plugins, end to end against the real server.

Every JWT here comes from ``/api/auth/token`` of ``interop/better-auth/server.mjs``, whose
``definePayload`` adds ``activeOrganizationId``, ``organizationRole`` (read from the
organization plugin's ``member`` table) and ``impersonatedBy``. The Verifier is the one an app
gets from ``Verifier.from_settings`` in database session mode, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from authbridge.config import Settings, load_settings
from authbridge.errors import SessionInvalid, TokenRevoked
from authbridge.verifier import Verifier
from harness.better_auth import BetterAuthServer, ServerPool

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("no_outside_settings")]

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def database_settings(server: BetterAuthServer, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "BETTER_AUTH_URL": server.base_url,
        "BETTER_AUTH_SECRET": server.secret,
        "AUTHBRIDGE_JWKS_URL": server.jwks_url,
        "AUTHBRIDGE_SESSION_MODE": "database",
        "AUTHBRIDGE_SESSION_DATABASE_URL": server.env.get("DATABASE_URL") or server.env["DB_PATH"],
    }
    if server.env.get("DB_SCHEMA"):
        values["AUTHBRIDGE_SESSION_TABLES"] = json.dumps({"schema": server.env["DB_SCHEMA"]})
    values.update(extra)
    return load_settings(env_file=None, **values)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, better_auth_module_factory: ServerPool
) -> BetterAuthServer:
    # JWT_DEFINE_PAYLOAD puts `sid` in the JWT, which the session check needs.
    env: dict[str, str | int] = {"JWT_DEFINE_PAYLOAD": 1, "HARNESS_ADMIN": 1}
    if request.param == "postgres":
        env["DATABASE_URL"] = PG_URL
    return better_auth_module_factory(**env)


@pytest.fixture
async def verifier(server: BetterAuthServer) -> AsyncIterator[Verifier]:
    settings = database_settings(server, AUTHBRIDGE_JWT_SESSION_CHECK="true")
    async with Verifier.from_settings(settings) as opened:
        yield opened


async def test_owner_and_member_of_the_active_organization(
    server: BetterAuthServer, verifier: Verifier
) -> None:
    owner, member = server.sign_up(), server.sign_up()
    organization_id = server.create_organization(owner)
    server.admin_add_member(organization_id, member.id, "member")
    server.set_active_organization(member, organization_id)

    from_owner = await verifier.verify(server.get_jwt(owner))
    from_member = await verifier.verify(server.get_jwt(member))
    assert (from_owner.sub, from_member.sub) == (owner.id, member.id)
    assert from_owner.organization_id == from_member.organization_id == organization_id
    assert from_owner.organization_role == "owner"
    assert from_member.organization_role == "member"
    assert from_owner.impersonator is None


async def test_a_role_change_shows_in_the_next_jwt_not_in_one_already_issued(
    server: BetterAuthServer, verifier: Verifier
) -> None:
    """JWT mode: organization claims are as old as the token (documented in docs/deploy.md)."""
    owner, member = server.sign_up(), server.sign_up()
    organization_id = server.create_organization(owner)
    member_id = server.admin_add_member(organization_id, member.id, "member")
    server.set_active_organization(member, organization_id)
    before = server.get_jwt(member)
    server.update_member_role(owner, organization_id, member_id, "admin")
    assert (await verifier.verify(before)).organization_role == "member"
    assert (await verifier.verify(server.get_jwt(member))).organization_role == "admin"


async def test_no_active_organization_leaves_the_fields_empty(
    server: BetterAuthServer, verifier: Verifier
) -> None:
    owner, outsider = server.sign_up(), server.sign_up()
    server.create_organization(owner)
    principal = await verifier.verify(server.get_jwt(outsider))
    assert principal.sub == outsider.id
    assert principal.organization_id is None
    assert principal.organization_role is None


async def test_a_ban_refuses_the_banned_users_unexpired_jwt_at_once(
    server: BetterAuthServer, verifier: Verifier
) -> None:
    admin, banned, bystander = server.sign_up(), server.sign_up(), server.sign_up()
    server.admin_set_role(admin.id, "admin")
    jwt, bystander_jwt = server.get_jwt(banned), server.get_jwt(bystander)
    assert (await verifier.verify(jwt)).sub == banned.id

    server.ban_user(admin, banned.id)  # Better Auth deletes the banned user's sessions
    with pytest.raises(TokenRevoked) as caught:
        await verifier.verify(jwt)
    assert caught.value.code == "token_revoked"
    with pytest.raises(SessionInvalid):
        await verifier.verify(banned.signed_token)
    assert (await verifier.verify(bystander_jwt)).sub == bystander.id
    # And Better Auth itself refuses a new session for the banned user.
    response = server.client.post(
        "/api/auth/sign-in/email", json={"email": banned.email, "password": banned.password}
    )
    assert response.status_code == 403


async def test_a_ban_without_the_session_check_leaves_the_jwt_valid_until_exp(
    server: BetterAuthServer,
) -> None:
    """What the session check buys: without it a signed JWT outlives the ban (until ``exp``)."""
    admin, banned = server.sign_up(), server.sign_up()
    server.admin_set_role(admin.id, "admin")
    jwt = server.get_jwt(banned)
    server.ban_user(admin, banned.id)
    async with Verifier.from_settings(database_settings(server)) as verifier:
        assert (await verifier.verify(jwt)).sub == banned.id


async def test_impersonation_jwt_names_the_impersonator(
    server: BetterAuthServer, verifier: Verifier
) -> None:
    admin, target = server.sign_up(), server.sign_up()
    server.admin_set_role(admin.id, "admin")
    headers = server.impersonate(admin, target.id)
    response = server.token_response(headers)
    assert response.status_code == 200, response.text
    principal = await verifier.verify(response.json()["token"])
    assert principal.sub == target.id
    assert principal.impersonator == admin.id
    assert "admin" not in principal.roles  # the impersonated user's roles, not the admin's
