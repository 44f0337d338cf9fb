"""Organization guards: ActiveOrganization, require_org_role and require_permission.

Tokens come from ``FakeIssuer`` with the claims a web app's ``definePayload`` adds
(``activeOrganizationId``, ``organizationRole``), verified by a real ``Verifier``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from authbridge import OrganizationRequired
from authbridge.fastapi import (
    ActiveOrganization,
    AuthBridge,
    CurrentUser,
    require_org_role,
    require_permission,
    require_roles,
)
from authbridge.organization import DEFAULT_ROLES, AccessControl
from authbridge.principal import Principal
from authbridge.testing import FakeIssuer, override_user

CUSTOM_ROLES = {
    **DEFAULT_ROLES,
    "editor": {"task": ["create", "read", "update"]},
    "janitor": {"task": ["delete"]},
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def member_token(issuer: FakeIssuer, role: str | None = "member", org: str | None = "org_1") -> str:
    return issuer.token(activeOrganizationId=org, organizationRole=role)


def build(bridge: AuthBridge) -> FastAPI:
    app = FastAPI()
    bridge.install(app)

    @app.get("/org")
    async def org(organization: ActiveOrganization) -> dict[str, str]:
        return {"organization": organization}

    @app.delete("/org/tasks", dependencies=[Depends(require_org_role("owner", "admin"))])
    async def purge() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/invite")
    async def invite(
        user: Principal = Depends(require_permission("invitation", "create")),  # noqa: B008
    ) -> dict[str, str | None]:
        return {"sub": user.sub, "role": user.organization_role}

    @app.delete(
        "/tasks/{task_id}",
        dependencies=[Depends(require_permission("task", "delete", roles=CUSTOM_ROLES))],
    )
    async def delete_task(task_id: str) -> dict[str, str]:
        return {"deleted": task_id}

    @app.patch(
        "/tasks/{task_id}",
        dependencies=[
            Depends(require_permission({"task": ["read", "update"]}, roles=CUSTOM_ROLES))
        ],
    )
    async def update_task(task_id: str) -> dict[str, str]:
        return {"updated": task_id}

    return app


@pytest.fixture
async def org_client(bridge: AuthBridge) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build(bridge))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def assert_forbidden(response: httpx.Response, code: str) -> None:
    assert response.status_code == 403
    assert response.json()["code"] == code
    assert response.headers["cache-control"] == "no-store"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="authbridge"')
    assert 'error="insufficient_scope"' in challenge
    assert "scope=" not in challenge  # organization roles and permissions are not scopes


# --- ActiveOrganization ----------------------------------------------------------------------


async def test_active_organization_gives_the_id(
    org_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await org_client.get("/org", headers=bearer(member_token(issuer, org="org_42")))
    assert response.status_code == 200
    assert response.json() == {"organization": "org_42"}


async def test_the_organization_id_claim_is_a_fallback(
    org_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = issuer.token(organizationId="org_7", organizationRole="member")
    assert (await org_client.get("/org", headers=bearer(token))).json() == {"organization": "org_7"}


async def test_no_active_organization_is_organization_required(
    org_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    response = await org_client.get("/org", headers=bearer(issuer.token()))
    assert_forbidden(response, "organization_required")
    assert response.json()["detail"] == "The request needs an active organization."


async def test_a_bad_token_is_still_a_401_not_a_403(
    org_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    forged = member_token(FakeIssuer(issuer.base_url), role="owner")
    for method, path in (("GET", "/org"), ("DELETE", "/org/tasks"), ("GET", "/invite")):
        response = await org_client.request(method, path, headers=bearer(forged))
        assert response.status_code == 401
    assert (await org_client.get("/org")).status_code == 401


# --- require_org_role ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("owner", 200),
        ("admin", 200),
        ("member", 403),
        ("member,admin", 200),  # Better Auth stores several roles comma-separated
        ("member, owner", 200),
        ("administrator", 403),  # a role name, not a prefix
        ("", 403),
    ],
)
async def test_org_role(
    org_client: httpx.AsyncClient, issuer: FakeIssuer, role: str, status: int
) -> None:
    response = await org_client.delete("/org/tasks", headers=bearer(member_token(issuer, role)))
    assert response.status_code == status
    if status == 403:
        assert_forbidden(response, "insufficient_scope")


async def test_org_role_without_an_organization(
    org_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = member_token(issuer, role="owner", org=None)
    assert_forbidden(
        await org_client.delete("/org/tasks", headers=bearer(token)), "organization_required"
    )


async def test_the_admin_plugins_user_role_is_not_an_org_role(
    org_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = issuer.token(role="admin", activeOrganizationId="org_1", organizationRole="member")
    assert (await org_client.delete("/org/tasks", headers=bearer(token))).status_code == 403


# --- require_permission ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 200), ("admin", 200), ("member", 403), ("member,admin", 200), ("guest", 403)],
)
async def test_default_role_permissions(
    org_client: httpx.AsyncClient, issuer: FakeIssuer, role: str, status: int
) -> None:
    response = await org_client.get("/invite", headers=bearer(member_token(issuer, role)))
    assert response.status_code == status
    if status == 200:
        assert response.json() == {"sub": issuer.user["id"], "role": role}
    else:
        assert_forbidden(response, "insufficient_scope")


@pytest.mark.parametrize(
    ("role", "delete", "update"),
    [
        ("owner", 403, 403),  # the default roles say nothing about tasks
        ("editor", 403, 200),
        ("janitor", 200, 403),
        ("editor,janitor", 200, 200),
        ("member", 403, 403),
    ],
)
async def test_custom_role_permissions(
    org_client: httpx.AsyncClient, issuer: FakeIssuer, role: str, delete: int, update: int
) -> None:
    headers = bearer(member_token(issuer, role))
    assert (await org_client.delete("/tasks/t1", headers=headers)).status_code == delete
    assert (await org_client.patch("/tasks/t1", headers=headers)).status_code == update


async def test_permission_without_an_organization(
    org_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = member_token(issuer, role="janitor", org=None)
    response = await org_client.delete("/tasks/t1", headers=bearer(token))
    assert_forbidden(response, "organization_required")


async def test_the_audit_log_has_the_precise_reason(
    org_client: httpx.AsyncClient, issuer: FakeIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authbridge.audit")
    await org_client.delete("/org/tasks", headers=bearer(member_token(issuer, "member")))
    await org_client.delete("/tasks/t1", headers=bearer(member_token(issuer, "editor")))
    await org_client.get("/org", headers=bearer(issuer.token()))
    events = [r.audit for r in caplog.records if r.name == "authbridge.audit"]  # type: ignore[attr-defined]
    failures = [e for e in events if e["code"] != "ok"]
    assert [(e["code"], e["status"]) for e in failures] == [
        ("insufficient_org_role", 403),
        ("insufficient_permission", 403),
        ("organization_required", 403),
    ]


def test_guards_refuse_bad_definitions_at_startup() -> None:
    with pytest.raises(ValueError):
        require_org_role()
    with pytest.raises(ValueError):
        require_org_role("owner,admin")
    with pytest.raises(ValueError):
        require_permission("task")
    with pytest.raises(ValueError):
        require_permission({"task": ["delete"]}, "read")
    with pytest.raises(ValueError):
        require_permission("task", "")
    with pytest.raises(ValueError):
        require_permission({})
    with pytest.raises((TypeError, ValueError)):
        require_permission("task", "delete", roles={"editor": {"task": "delete"}})


def test_an_access_control_can_be_shared() -> None:
    access = AccessControl(CUSTOM_ROLES)
    guard = require_permission("task", "delete", roles=access)
    assert guard.access is access
    assert repr(guard) == "require_permission(task:delete)"


# --- verified once, combined -----------------------------------------------------------------


async def test_combined_guards_verify_once(issuer: FakeIssuer) -> None:
    bridge = AuthBridge(issuer.verifier())
    calls: list[str] = []
    real_verify = bridge.verifier.verify

    async def counting_verify(token: str) -> Any:
        calls.append(token)
        return await real_verify(token)

    bridge.verifier.verify = counting_verify  # type: ignore[method-assign]
    bridge.verifier.verify_cached = lambda token: None  # type: ignore[method-assign]
    app = FastAPI()
    bridge.install(app)

    @app.delete(
        "/all",
        dependencies=[Depends(require_org_role("owner")), Depends(require_roles("user"))],
    )
    async def everything(
        organization: ActiveOrganization,
        user: CurrentUser,
        allowed: Principal = Depends(require_permission("organization", "delete")),  # noqa: B008
    ) -> dict[str, Any]:
        return {"organization": organization, "same": user is allowed}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        token = issuer.token(role="user", activeOrganizationId="org_1", organizationRole="owner")
        response = await client.delete("/all", headers=bearer(token))
        assert response.json() == {"organization": "org_1", "same": True}
        assert len(calls) == 1
        token = issuer.token(role="user", activeOrganizationId="org_1", organizationRole="admin")
        assert (await client.delete("/all", headers=bearer(token))).status_code == 403
        assert len(calls) == 2


# --- override_user ---------------------------------------------------------------------------


async def test_override_user_reaches_the_organization_guards(
    bridge: AuthBridge, issuer: FakeIssuer
) -> None:
    app = build(bridge)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with override_user(
            app, issuer.principal(organization_id="org_9", organization_role="admin")
        ):
            assert (await client.get("/org")).json() == {"organization": "org_9"}
            assert (await client.delete("/org/tasks")).status_code == 200
        with override_user(app, issuer.principal()):
            assert (await client.get("/org")).json()["code"] == OrganizationRequired.public_code


# --- OpenAPI ---------------------------------------------------------------------------------


async def test_openapi_describes_the_organization_guards(
    org_client: httpx.AsyncClient,
) -> None:
    schema = (await org_client.get("/openapi.json")).json()
    paths = schema["paths"]
    expected = {
        ("/org", "get"): {"required": True},
        ("/org/tasks", "delete"): {"required": True, "roles": ["owner", "admin"]},
        ("/invite", "get"): {"required": True, "permissions": {"invitation": ["create"]}},
        ("/tasks/{task_id}", "delete"): {"required": True, "permissions": {"task": ["delete"]}},
        ("/tasks/{task_id}", "patch"): {
            "required": True,
            "permissions": {"task": ["read", "update"]},
        },
    }
    for (path, method), organization in expected.items():
        operation = paths[path][method]
        assert operation["x-authbridge-organization"] == organization
        assert "organization_required" in operation["responses"]["403"]["description"]
        assert operation["security"] == [{"bearerAuth": []}]


async def test_openapi_leaves_other_routes_alone(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for item in schema["paths"].values():
        for operation in item.values():
            assert "x-authbridge-organization" not in operation


def test_remembered_decisions_are_right_and_bounded() -> None:
    guard = require_permission("task", "delete", roles=CUSTOM_ROLES)
    for n in range(3000):
        assert guard.allows(f"editor,r{n}") is False
        assert guard.allows(f"r{n},janitor") is True
    assert guard.allows("janitor") is True  # the same answer once the memory is full
    assert guard.allows(None) is False
    assert len(guard._decisions) <= 1024


async def test_an_empty_organization_id_names_no_organization(
    bridge: AuthBridge, issuer: FakeIssuer
) -> None:
    app = build(bridge)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with override_user(app, issuer.principal(organization_id="", organization_role="owner")):
            response = await client.delete("/org/tasks")
    assert response.status_code == 403
    assert response.json()["code"] == "organization_required"
