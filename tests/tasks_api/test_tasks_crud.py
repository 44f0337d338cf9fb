"""CRUD round trips, /api/me, and the health probes, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from tasks_support import Caller

from conftest import Api


async def test_create_read_update_delete_round_trip(api: Api, alice: Caller) -> None:
    response = await api.client.post(
        "/api/tasks",
        json={
            "title": "  Write the report  ",
            "description": "Two pages.\nWith a list.",
            "due_at": "2031-03-04T09:30:00+02:00",
            "priority": "high",
        },
        headers=alice.headers,
    )
    assert response.status_code == 201
    created = response.json()
    assert created["title"] == "Write the report"  # trimmed
    assert created["description"] == "Two pages.\nWith a list."
    assert created["completed"] is False
    assert created["priority"] == "high"
    assert created["due_at"] == "2031-03-04T07:30:00Z"  # stored and answered in UTC
    assert created["created_at"] == created["updated_at"]
    assert "owner_id" not in created
    location = response.headers["location"]
    assert location == f"/api/tasks/{created['id']}"
    etag = response.headers["etag"]

    fetched = await api.client.get(location, headers=alice.headers)
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert fetched.headers["etag"] == etag

    patched = await api.client.patch(
        location, json={"completed": True, "description": None}, headers=alice.headers
    )
    assert patched.status_code == 200
    body = patched.json()
    assert body["completed"] is True
    assert body["description"] is None
    assert body["title"] == "Write the report"
    assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(
        created["updated_at"]
    )
    assert patched.headers["etag"] != etag

    listed = await api.client.get("/api/tasks", headers=alice.headers)
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]

    deleted = await api.client.delete(location, headers=alice.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await api.client.get(location, headers=alice.headers)).status_code == 404
    assert (await api.client.delete(location, headers=alice.headers)).status_code == 404


async def test_defaults_for_a_minimal_task(api: Api, alice: Caller) -> None:
    created = await api.create(alice, title="just a title")
    assert created["description"] is None
    assert created["due_at"] is None
    assert created["priority"] == "normal"
    assert created["completed"] is False


async def test_empty_patch_changes_nothing(api: Api, alice: Caller) -> None:
    created = await api.create(alice)
    response = await api.client.patch(f"/api/tasks/{created['id']}", json={}, headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == created


async def test_patch_can_clear_and_set_due_at(api: Api, alice: Caller) -> None:
    created = await api.create(alice, due_at="2030-01-01T00:00:00Z")
    path = f"/api/tasks/{created['id']}"
    cleared = await api.client.patch(path, json={"due_at": None}, headers=alice.headers)
    assert cleared.json()["due_at"] is None
    moved = await api.client.patch(
        path, json={"due_at": "2030-06-01T12:00:00-05:00"}, headers=alice.headers
    )
    assert moved.json()["due_at"] == "2030-06-01T17:00:00Z"


async def test_me_reports_the_verified_principal(api: Api) -> None:
    caller = api.caller(role="admin,editor", scope="tasks:read tasks:write")
    response = await api.client.get("/api/me", headers=caller.headers)
    assert response.status_code == 200
    me = response.json()
    assert me["sub"] == caller.sub
    assert me["email"] == caller.user["email"]
    assert me["name"] == caller.user["name"]
    assert me["roles"] == ["admin", "editor"]
    assert me["scopes"] == ["tasks:read", "tasks:write"]
    assert me["issuer"] == api.issuer.issuer
    assert me["credential"] == "jwt"
    assert me["session_id"] is None
    assert (me["organization_id"], me["organization_role"], me["impersonator"]) == (None,) * 3
    expires = datetime.fromisoformat(me["expires_at"])
    assert 0 < (expires - datetime.now(UTC)).total_seconds() <= 900


async def test_me_reports_the_organization_and_the_impersonator(api: Api) -> None:
    caller = api.caller(
        activeOrganizationId="org-acme", organizationRole="admin,member", impersonatedBy="adm-1"
    )
    me = (await api.client.get("/api/me", headers=caller.headers)).json()
    assert me["organization_id"] == "org-acme"
    assert me["organization_role"] == "admin,member"
    assert me["impersonator"] == "adm-1"


async def test_every_api_route_needs_a_token(api: Api, alice: Caller) -> None:
    created = await api.create(alice)
    path = f"/api/tasks/{created['id']}"
    calls = [
        ("GET", "/api/me", None),
        ("GET", "/api/tasks", None),
        ("POST", "/api/tasks", {"title": "x"}),
        ("GET", path, None),
        ("PATCH", path, {"title": "x"}),
        ("DELETE", path, None),
        ("GET", "/api/admin/stats", None),
    ]
    for method, url, body in calls:
        response = await api.client.request(method, url, json=body)
        assert response.status_code == 401, (method, url)
        assert response.json()["code"] == "token_missing"
        assert response.headers["www-authenticate"].startswith("Bearer ")
        forged = await api.client.request(
            method, url, json=body, headers={"Authorization": "Bearer a.b.c"}
        )
        assert forged.status_code == 401, (method, url)
        assert forged.json()["code"] == "invalid_token"
    # Nothing was changed by the refused calls.
    assert (await api.client.get(path, headers=alice.headers)).json() == created


async def test_token_from_another_issuer_is_refused(api: Api) -> None:
    from authbridge.testing import FakeIssuer

    stranger = FakeIssuer("https://evil.example.test")
    token = stranger.token()
    response = await api.client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_health_and_readiness(api: Api) -> None:
    live = await api.client.get("/healthz")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": True, "keys": True}}


async def test_unknown_route_and_method_use_the_error_shape(api: Api, alice: Caller) -> None:
    missing = await api.client.get("/api/nothing-here", headers=alice.headers)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found.", "code": "not_found"}
    wrong = await api.client.put("/api/tasks", headers=alice.headers, json={})
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"
