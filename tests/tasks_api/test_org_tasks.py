"""Team tasks (``/api/org/tasks``): the active organization's tasks, shared by its members.

Any member lists, reads, creates and updates; only ``owner`` and ``admin`` delete. No active
organization is 403 ``organization_required``. Another organization's task, and a personal
task, answer exactly like a task that does not exist; so does every task of an organization
the caller has switched away from.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from tasks_support import Caller, make_caller, running_api

from authbridge import Principal
from authbridge.testing import FakeIssuer, override_user
from conftest import Api, new_organization, settings_for
from tasks_api.settings import ServiceSettings

ORG = "/api/org/tasks"


def _fingerprint(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k, v) for k, v in response.headers.multi_items() if k != "date")
    return response.status_code, headers, response.content


async def test_members_share_the_organizations_tasks(api: Api) -> None:
    acme = new_organization()
    owner, member = api.member(acme, "owner"), api.member(acme, "member")
    response = await api.client.post(
        ORG,
        json={"title": "  Ship it  ", "priority": "high", "due_at": "2031-03-04T09:30:00+02:00"},
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["title"] == "Ship it"
    assert created["priority"] == "high"
    assert created["due_at"] == "2031-03-04T07:30:00Z"
    assert created["created_by"] == member.sub
    assert set(created) == {
        *("id", "title", "description", "completed", "due_at", "priority"),
        *("created_at", "updated_at", "created_by"),
    }
    location = response.headers["location"]
    assert location == f"{ORG}/{created['id']}"
    etag = response.headers["etag"]

    # The owner reads it, with the same ETag, and changes it.
    fetched = await api.client.get(location, headers=owner.headers)
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert fetched.headers["etag"] == etag
    patched = await api.client.patch(location, json={"completed": True}, headers=owner.headers)
    assert patched.status_code == 200
    assert patched.json()["completed"] is True
    assert patched.json()["created_by"] == member.sub  # the creator stays
    assert patched.headers["etag"] != etag

    # The member sees the change in the list; a stale If-Match is refused.
    listed = (await api.client.get(ORG, headers=member.headers)).json()
    assert listed == {"items": [patched.json()], "next_cursor": None}
    stale = await api.client.patch(
        location, json={"title": "x"}, headers=member.with_headers(If_Match=etag)
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"

    # Team tasks are not personal tasks: neither collection lists the other's.
    assert (await api.client.get("/api/tasks", headers=member.headers)).json()["items"] == []
    assert (
        await api.client.get(f"/api/tasks/{created['id']}", headers=member.headers)
    ).status_code == 404

    deleted = await api.client.delete(
        location, headers=owner.with_headers(If_Match=patched.headers["etag"])
    )
    assert deleted.status_code == 204
    assert (await api.client.get(location, headers=member.headers)).status_code == 404


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("owner", True),
        ("admin", True),
        ("member", False),
        ("member,admin", True),  # several roles: any one that may is enough
        ("viewer", False),
    ],
)
async def test_only_owners_and_admins_delete(api: Api, role: str, allowed: bool) -> None:
    acme = new_organization()
    task = await api.create(api.member(acme), path=ORG)
    caller = api.member(acme, role)
    # Every member reads and updates.
    path = f"{ORG}/{task['id']}"
    assert (await api.client.get(path, headers=caller.headers)).status_code == 200
    assert (
        await api.client.patch(path, json={"title": "renamed"}, headers=caller.headers)
    ).status_code == 200
    response = await api.client.delete(path, headers=caller.headers)
    if allowed:
        assert response.status_code == 204
        return
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    # Refused before any lookup: a missing task is the same 403, telling nothing.
    missing = await api.client.delete(f"{ORG}/{uuid.uuid4()}", headers=caller.headers)
    assert _fingerprint(missing)[::2] == _fingerprint(response)[::2]
    assert (await api.client.get(path, headers=caller.headers)).status_code == 200


async def test_no_active_organization_is_403_organization_required(api: Api, alice: Caller) -> None:
    task_path = f"{ORG}/{uuid.uuid4()}"
    requests = [
        ("GET", ORG, None),
        ("POST", ORG, {"title": "x"}),
        ("GET", task_path, None),
        ("PATCH", task_path, {"title": "x"}),
        ("DELETE", task_path, None),
    ]
    empty_org = api.caller(activeOrganizationId="", organizationRole="owner")
    for caller in (alice, empty_org):
        for method, path, body in requests:
            response = await api.client.request(method, path, json=body, headers=caller.headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["code"] == "organization_required", (method, path)
    # Personal tasks need no organization.
    assert (await api.client.get("/api/tasks", headers=alice.headers)).status_code == 200


async def test_no_token_is_401_before_the_organization_check(api: Api) -> None:
    response = await api.client.get(ORG)
    assert response.status_code == 401
    assert response.json()["code"] == "token_missing"
    assert "www-authenticate" in response.headers


async def test_another_organizations_task_is_byte_identical_to_a_missing_one(
    api: Api,
) -> None:
    acme, globex = new_organization(), new_organization()
    theirs = await api.create(api.member(acme, "owner"), path=ORG, title="acme only")
    intruder = api.member(globex, "owner")
    personal = await api.create(intruder, title="personal")
    foreign = f"{ORG}/{theirs['id']}"
    missing = f"{ORG}/{uuid.uuid4()}"
    malformed = f"{ORG}/not-a-uuid"
    own_personal = f"{ORG}/{personal['id']}"  # a personal task's id on the team routes
    for method, body in [("GET", None), ("PATCH", {"title": "stolen"}), ("DELETE", None)]:
        answers = [
            await api.client.request(method, url, json=body, headers=intruder.headers)
            for url in (foreign, missing, malformed, own_personal)
        ]
        assert answers[0].status_code == 404
        assert answers[0].json() == {"detail": "Task not found.", "code": "not_found"}
        assert len({repr(_fingerprint(answer)) for answer in answers}) == 1, method
    # With If-Match too: no 412 that would reveal the task exists.
    conditional = await api.client.patch(
        foreign, json={"title": "x"}, headers=intruder.with_headers(If_Match='"nope"')
    )
    assert conditional.status_code == 404
    # The personal route says the same of the team task.
    personal_route = await api.client.get(f"/api/tasks/{theirs['id']}", headers=intruder.headers)
    personal_missing = await api.client.get(f"/api/tasks/{uuid.uuid4()}", headers=intruder.headers)
    assert _fingerprint(personal_route) == _fingerprint(personal_missing)
    # Nothing leaked into the intruder's list, and the task is untouched.
    assert (await api.client.get(ORG, headers=intruder.headers)).json()["items"] == []
    still = await api.client.get(foreign, headers=api.member(acme).headers)
    assert still.json() == theirs


async def test_switching_organization_hides_the_old_ones_tasks(api: Api, alice: Caller) -> None:
    acme, globex = new_organization(), new_organization()
    in_acme = api.member(acme, "owner", of=alice)
    task = await api.create(in_acme, path=ORG, title="acme plan")
    in_globex = api.member(globex, "owner", of=alice)  # the same user, another active org
    path = f"{ORG}/{task['id']}"
    assert (await api.client.get(ORG, headers=in_globex.headers)).json()["items"] == []
    hidden = await api.client.get(path, headers=in_globex.headers)
    missing = await api.client.get(f"{ORG}/{uuid.uuid4()}", headers=in_globex.headers)
    assert hidden.status_code == 404
    assert _fingerprint(hidden) == _fingerprint(missing)
    assert (await api.client.delete(path, headers=in_globex.headers)).status_code == 404
    # Back in acme, it is there.
    assert (await api.client.get(path, headers=in_acme.headers)).status_code == 200


async def test_the_owner_key_cannot_be_set_by_the_client(api: Api) -> None:
    acme, globex = new_organization(), new_organization()
    member = api.member(acme)
    for field in ("organization_id", "owner_id", "owner_type", "created_by", "id"):
        response = await api.client.post(
            ORG, json={"title": "x", field: globex}, headers=member.headers
        )
        assert response.status_code == 422, field
        assert field in response.json()["detail"]
    task = await api.create(member, path=ORG)
    response = await api.client.patch(
        f"{ORG}/{task['id']}", json={"organization_id": globex}, headers=member.headers
    )
    assert response.status_code == 422
    assert (await api.client.get(ORG, headers=api.member(globex).headers)).json()["items"] == []


async def test_a_user_whose_sub_equals_an_organization_id_owns_none_of_its_tasks(
    api: Api,
) -> None:
    """The owner key is the pair (type, id): equal strings of different kinds never meet."""
    acme = new_organization()
    team_task = await api.create(api.member(acme), path=ORG)
    user = api.issuer.make_user(id=acme)
    namesake = {"Authorization": f"Bearer {api.issuer.token(user)}"}
    assert (await api.client.get("/api/me", headers=namesake)).json()["sub"] == acme
    assert (await api.client.get("/api/tasks", headers=namesake)).json()["items"] == []
    response = await api.client.get(f"/api/tasks/{team_task['id']}", headers=namesake)
    assert response.status_code == 404
    # And the other way round: the namesake's personal task is not the organization's.
    mine = await api.client.post("/api/tasks", json={"title": "mine"}, headers=namesake)
    assert mine.status_code == 201
    listed = (await api.client.get(ORG, headers=api.member(acme).headers)).json()["items"]
    assert [item["id"] for item in listed] == [team_task["id"]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def scoped_settings(request: pytest.FixtureRequest, tmp_path: Path) -> ServiceSettings:
    return settings_for(str(request.param), request, tmp_path, require_scopes=True)


async def test_team_routes_need_the_personal_routes_scopes(
    scoped_settings: ServiceSettings,
) -> None:
    """tasks:read to read, tasks:write to write, on top of the organization rules."""
    issuer = FakeIssuer()
    acme = new_organization()

    def member(scope: str | None, role: str = "owner", organization: str = acme) -> Caller:
        claims = {"activeOrganizationId": organization, "organizationRole": role}
        return make_caller(issuer, **claims, **({"scope": scope} if scope else {}))

    async with running_api(scoped_settings, issuer) as (_, client):
        none, reader = member(None), member("tasks:read")
        writer, both = member("tasks:write"), member("tasks:read tasks:write")
        assert (await client.get(ORG, headers=none.headers)).status_code == 403
        assert (await client.get(ORG, headers=reader.headers)).status_code == 200
        assert (await client.get(ORG, headers=writer.headers)).status_code == 403
        refused = await client.post(ORG, json={"title": "x"}, headers=reader.headers)
        assert refused.status_code == 403
        assert refused.json()["code"] == "insufficient_scope"
        assert 'scope="tasks:write"' in refused.headers["www-authenticate"]
        made = await client.post(ORG, json={"title": "x"}, headers=writer.headers)
        assert made.status_code == 201
        path = made.headers["location"]
        assert (await client.get(path, headers=both.headers)).status_code == 200
        assert (await client.patch(path, json={}, headers=reader.headers)).status_code == 403
        assert (await client.delete(path, headers=reader.headers)).status_code == 403
        # tasks:write is not enough for a plain member, nor is the role without the scope.
        member_writer = member("tasks:read tasks:write", role="member")
        assert (await client.delete(path, headers=member_writer.headers)).status_code == 403
        assert (await client.delete(path, headers=both.headers)).status_code == 204
        # Scopes but no organization: organization_required, whatever the scopes.
        no_org = make_caller(issuer, scope="tasks:read tasks:write")
        answer = await client.get(ORG, headers=no_org.headers)
        assert answer.status_code == 403
        assert answer.json()["code"] == "organization_required"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "x", "priority": "urgent"}, "priority"),
        ({"title": "x", "due_at": "2030-01-01T10:00:00"}, "due_at"),
        ({"title": "x", "completed": "yes"}, "completed"),
        ({"title": "x", "description": "bell \x07"}, "description"),
        ({}, "title"),
    ],
)
async def test_team_bodies_are_validated_like_personal_ones(
    api: Api, body: dict[str, object], field: str
) -> None:
    member = api.member(new_organization(), "owner")
    for path in ("/api/tasks", ORG):
        response = await api.client.post(path, json=body, headers=member.headers)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["code"] == "validation_error"
        assert response.json()["detail"].startswith(f"{field}:"), response.text
    task = await api.create(member, path=ORG)
    patched = await api.client.patch(
        f"{ORG}/{task['id']}", json={"title": None}, headers=member.headers
    )
    assert patched.status_code == 422
    assert patched.json()["detail"].startswith("title:")
    malformed = await api.client.delete(
        f"{ORG}/{task['id']}", headers=member.with_headers(If_Match="nope")
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "invalid_if_match"


async def test_principals_from_any_credential_follow_the_same_rules(api: Api) -> None:
    """The routes read only the Principal: a session-mode caller (whose organization comes from
    the session) is treated like a JWT one. A caller whose role is unknown (``None``: a session
    store that does not read the member's role) reads and writes but does not delete; a caller
    without an organization, such as an API key (which carries none), is 403
    ``organization_required`` whatever its scopes."""
    acme = new_organization()

    def principal(**fields: Any) -> Principal:
        return Principal(sub="u-1", issuer="https://auth.example.test", **fields)

    session_admin = principal(credential="session", organization_id=acme, organization_role="admin")
    with override_user(api.app, session_admin):
        made = await api.client.post(ORG, json={"title": "from a session"})
        assert made.status_code == 201, made.text
        assert made.json()["created_by"] == "u-1"
        assert (await api.client.delete(made.headers["location"])).status_code == 204
    unknown_role = principal(credential="session", organization_id=acme)
    with override_user(api.app, unknown_role):
        made = await api.client.post(ORG, json={"title": "x"})
        assert made.status_code == 201
        assert (await api.client.get(made.headers["location"])).status_code == 200
        assert (await api.client.delete(made.headers["location"])).status_code == 403
    keyed = principal(scopes=frozenset({"tasks:read", "tasks:write"}))
    with override_user(api.app, keyed):
        for method in ("GET", "POST"):
            answer = await api.client.request(method, ORG, json={"title": "x"})
            assert answer.status_code == 403
            assert answer.json()["code"] == "organization_required"
        assert (await api.client.get("/api/tasks")).status_code == 200
