"""Ownership: a user sees, changes and deletes only their own tasks; anything else is a 404
byte-identical to a task that never existed."""

from __future__ import annotations

import uuid

import httpx
from tasks_support import Caller

from conftest import Api


def _fingerprint(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, sorted(response.headers.multi_items()), response.content


async def test_users_see_only_their_own_tasks(api: Api, alice: Caller, bob: Caller) -> None:
    mine = {str((await api.create(alice, title=f"alice {n}"))["id"]) for n in range(3)}
    theirs = {str((await api.create(bob, title=f"bob {n}"))["id"]) for n in range(2)}
    listed_a = (await api.client.get("/api/tasks", headers=alice.headers)).json()["items"]
    listed_b = (await api.client.get("/api/tasks", headers=bob.headers)).json()["items"]
    assert {item["id"] for item in listed_a} == mine
    assert {item["id"] for item in listed_b} == theirs
    searched = await api.client.get("/api/tasks", params={"q": "bob"}, headers=alice.headers)
    assert searched.json()["items"] == []


async def test_foreign_task_404_is_byte_identical_to_a_missing_one(
    api: Api, alice: Caller, bob: Caller
) -> None:
    task = await api.create(alice, title="private")
    foreign = f"/api/tasks/{task['id']}"
    missing = f"/api/tasks/{uuid.uuid4()}"
    malformed = "/api/tasks/not-a-uuid"
    for method, body in [("GET", None), ("PATCH", {"title": "stolen"}), ("DELETE", None)]:
        answers = [
            await api.client.request(method, url, json=body, headers=bob.headers)
            for url in (foreign, missing, malformed)
        ]
        assert answers[0].status_code == 404
        assert _fingerprint(answers[0]) == _fingerprint(answers[1]) == _fingerprint(answers[2])
        assert answers[0].json() == {"detail": "Task not found.", "code": "not_found"}
    # With If-Match too: no 412 that would reveal the task exists.
    conditional = await api.client.patch(
        foreign, json={"title": "x"}, headers={**bob.headers, "If-Match": '"nope"'}
    )
    assert conditional.status_code == 404
    # The task is untouched.
    still = await api.client.get(foreign, headers=alice.headers)
    assert still.status_code == 200
    assert still.json() == task


async def test_owner_cannot_be_set_or_moved_by_the_client(
    api: Api, alice: Caller, bob: Caller
) -> None:
    for field in ("owner_id", "owner", "sub", "id", "created_at", "version"):
        response = await api.client.post(
            "/api/tasks", json={"title": "x", field: bob.sub}, headers=alice.headers
        )
        assert response.status_code == 422, field
        assert field in response.json()["detail"]
    task = await api.create(alice)
    response = await api.client.patch(
        f"/api/tasks/{task['id']}", json={"owner_id": bob.sub}, headers=alice.headers
    )
    assert response.status_code == 422
    assert (await api.client.get("/api/tasks", headers=bob.headers)).json()["items"] == []


async def test_uuid_spellings_other_than_canonical_are_404(api: Api, alice: Caller) -> None:
    task = await api.create(alice)
    canonical = str(task["id"])
    hex_only = canonical.replace("-", "")
    for spelling in (hex_only, "{" + canonical + "}", f"urn:uuid:{canonical}", canonical + "x"):
        response = await api.client.get(f"/api/tasks/{spelling}", headers=alice.headers)
        assert response.status_code == 404, spelling
    upper = await api.client.get(f"/api/tasks/{canonical.upper()}", headers=alice.headers)
    assert upper.status_code == 200
