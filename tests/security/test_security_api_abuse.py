"""API abuse against the Tasks API on SQLite with two real identities: IDOR/BOLA on every
route with byte-identical 404s (V54), mass assignment of ``owner_id``/``id``, cursor
tampering, and 413 on big bodies.

(``tests/tasks_api`` covers the same service's validation rules in depth; these tests take the
attacker's side: Bob holds a valid token and goes after Alice's data.)
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator

import httpx
from security_support import TasksApi

MISSING_ID = "00000000-0000-4000-8000-000000000000"


def _answer(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "date"]
    return response.status_code, response.content, headers


async def _id_routes(
    api: TasksApi, task_id: str, headers: dict[str, str]
) -> AsyncIterator[tuple[str, httpx.Response]]:
    client = api.client
    yield "GET", await client.get(f"/api/tasks/{task_id}", headers=headers)
    yield (
        "PATCH",
        await client.patch(f"/api/tasks/{task_id}", json={"title": "pwned"}, headers=headers),
    )
    yield "PATCH empty", await client.patch(f"/api/tasks/{task_id}", json={}, headers=headers)
    yield (
        "PATCH If-Match *",
        await client.patch(
            f"/api/tasks/{task_id}", json={"completed": True}, headers={**headers, "If-Match": "*"}
        ),
    )
    yield (
        "PATCH If-Match etag",
        await client.patch(
            f"/api/tasks/{task_id}",
            json={"completed": True},
            headers={**headers, "If-Match": '"guess"'},
        ),
    )
    yield (
        "DELETE If-Match *",
        await client.delete(f"/api/tasks/{task_id}", headers={**headers, "If-Match": "*"}),
    )
    yield "DELETE", await client.delete(f"/api/tasks/{task_id}", headers=headers)


async def test_v54_bola_every_id_route_answers_bob_exactly_like_a_missing_task(
    tasks_api: TasksApi,
) -> None:
    alice, bob = tasks_api.alice, tasks_api.bob
    task = await tasks_api.create(alice, title="alice's secret plan", description="top secret")
    foreign = [a async for a in _id_routes(tasks_api, task["id"], bob.headers)]
    missing = [a async for a in _id_routes(tasks_api, MISSING_ID, bob.headers)]
    for (name, on_foreign), (_, on_missing) in zip(foreign, missing, strict=True):
        assert on_foreign.status_code == 404, name
        assert _answer(on_foreign) == _answer(on_missing), name
        assert b"alice" not in on_foreign.content
    # Alice's task is untouched and still hers.
    mine = await tasks_api.client.get(f"/api/tasks/{task['id']}", headers=alice.headers)
    assert mine.status_code == 200
    assert mine.json()["title"] == "alice's secret plan"
    assert mine.json()["completed"] is False


async def test_v54_listing_search_and_filters_never_show_another_users_tasks(
    tasks_api: TasksApi,
) -> None:
    alice, bob = tasks_api.alice, tasks_api.bob
    for i in range(5):
        await tasks_api.create(alice, title=f"alice-only {i}", completed=i % 2 == 0)
    own = await tasks_api.create(bob, title="bob's")
    for params in (
        {},
        {"q": "alice"},
        {"q": "%"},
        {"q": "_"},
        {"completed": "true"},
        {"completed": "false"},
        {"sort": "due"},
        {"sort": "priority"},
        {"limit": "100"},
    ):
        page = await tasks_api.client.get("/api/tasks", params=params, headers=bob.headers)
        assert page.status_code == 200, params
        ids = {item["id"] for item in page.json()["items"]}
        assert ids <= {own["id"]}, params
        assert "alice" not in page.text


async def test_v54_stats_and_me_are_per_caller(tasks_api: TasksApi) -> None:
    alice, bob = tasks_api.alice, tasks_api.bob
    me = await tasks_api.client.get("/api/me", headers=bob.headers)
    assert me.json()["sub"] == bob.sub != alice.sub
    # Only an admin reads the cross-user stats.
    assert (await tasks_api.client.get("/api/admin/stats", headers=bob.headers)).status_code == 403


async def test_mass_assignment_of_owner_and_id_is_refused(tasks_api: TasksApi) -> None:
    alice, bob = tasks_api.alice, tasks_api.bob
    victim = await tasks_api.create(alice)
    smuggled = [
        {"owner_id": alice.sub},
        {"ownerId": alice.sub},
        {"owner": alice.sub},
        {"sub": alice.sub},
        {"user_id": alice.sub},
        {"id": victim["id"]},
        {"id": str(uuid.uuid4())},
        {"version": 99},
        {"created_at": "2000-01-01T00:00:00Z"},
        {"updated_at": "2000-01-01T00:00:00Z"},
    ]
    for extra in smuggled:
        created = await tasks_api.client.post(
            "/api/tasks", json={"title": "x", **extra}, headers=bob.headers
        )
        assert created.status_code == 422, extra
        patched = await tasks_api.client.patch(
            f"/api/tasks/{victim['id']}", json={"title": "y", **extra}, headers=alice.headers
        )
        assert patched.status_code == 422, extra
    # Bob has nothing; Alice's task kept its id, owner and title.
    assert (await tasks_api.client.get("/api/tasks", headers=bob.headers)).json()["items"] == []
    again = await tasks_api.client.get(f"/api/tasks/{victim['id']}", headers=alice.headers)
    assert again.json()["title"] == victim["title"]
    assert again.json()["created_at"] == victim["created_at"]


async def test_owner_comes_from_the_token_not_from_duplicate_json_keys(tasks_api: TasksApi) -> None:
    raw = b'{"title":"x","title":"y"}'
    response = await tasks_api.client.post(
        "/api/tasks",
        content=raw,
        headers={**tasks_api.bob.headers, "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_cursor_tampering_is_422_and_never_shows_foreign_rows(tasks_api: TasksApi) -> None:
    alice, bob = tasks_api.alice, tasks_api.bob
    for i in range(3):
        await tasks_api.create(alice, title=f"alice {i}")
        await tasks_api.create(bob, title=f"bob {i}")
    first = await tasks_api.client.get("/api/tasks", params={"limit": 1}, headers=alice.headers)
    cursor = first.json()["next_cursor"]
    assert cursor
    payload, mac = cursor.split(".")
    position = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered = {
        "bob replays alice's cursor": (cursor, bob),
        "edited position": (f"{_b64(json.dumps([*position[:-1], 'x']).encode())}.{mac}", alice),
        "empty position": (f"{_b64(b'[]')}.{mac}", alice),
        "object position": (f"{_b64(b'{}')}.{mac}", alice),
        "sql in position": (_b64(json.dumps(["' OR 1=1 --"]).encode()) + "." + mac, alice),
        "no mac": (payload, alice),
        "empty mac": (f"{payload}.", alice),
        "zero mac": (f"{payload}.{_b64(bytes(16))}", alice),
        "extra segment": (f"{cursor}.AAAA", alice),
        "padding": (cursor + "==", alice),
        "unicode": (cursor + "é", alice),
        "nul": (cursor + "\x00", alice),
        "huge": ("A" * 600, alice),
        "garbage": ("%%%", alice),
    }
    for position_index in range(len(cursor)):  # every single-character edit
        char = cursor[position_index]
        swapped = "B" if char != "B" else "C"
        tampered[f"edit@{position_index}"] = (
            cursor[:position_index] + swapped + cursor[position_index + 1 :],
            alice,
        )
    genuine = await tasks_api.client.get(
        "/api/tasks", params={"limit": 1, "cursor": cursor}, headers=alice.headers
    )
    assert genuine.status_code == 200
    respelled = []
    for name, (value, caller) in tampered.items():
        response = await tasks_api.client.get(
            "/api/tasks", params={"limit": 1, "cursor": value}, headers=caller.headers
        )
        if response.status_code == 200 and caller is alice:
            # A re-spelling of the same bytes (base64 padding bits, "=") decodes to the very
            # same signed position: it may only ever show the page the real cursor shows.
            assert response.json()["items"] == genuine.json()["items"], name
            respelled.append(name)
            continue
        assert response.status_code == 422, (name, response.status_code)
        assert response.json()["code"] in ("invalid_cursor", "validation_error"), name
        assert "alice" not in response.text
        assert "bob " not in response.text
    assert len(respelled) <= 4, respelled  # a handful of spellings, never a forgery
    # The cursor with another query's filters is refused too.
    other_query = await tasks_api.client.get(
        "/api/tasks", params={"limit": 1, "cursor": cursor, "sort": "due"}, headers=alice.headers
    )
    assert other_query.status_code == 422


async def test_413_on_big_bodies_on_every_write_route(tasks_api: TasksApi) -> None:
    alice = tasks_api.alice
    task = await tasks_api.create(alice)
    big = json.dumps({"title": "x", "description": "a" * (1 << 20)}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b"a" * 16384

    for method, path in (("POST", "/api/tasks"), ("PATCH", f"/api/tasks/{task['id']}")):
        for headers in (alice.headers, {}):
            declared = await tasks_api.client.request(
                method,
                path,
                content=big,
                headers={**headers, "Content-Type": "application/json"},
            )
            assert declared.status_code in ((413,) if headers else (401, 413)), declared.text
            streamed = await tasks_api.client.request(
                method,
                path,
                content=chunks(),
                headers={**headers, "Content-Type": "application/json"},
            )
            assert streamed.status_code in ((413,) if headers else (401, 413))
    # Nothing was stored by any of them.
    listed = await tasks_api.client.get("/api/tasks", headers=alice.headers)
    assert [t["id"] for t in listed.json()["items"]] == [task["id"]]


async def test_path_tricks_do_not_reach_other_rows(tasks_api: TasksApi) -> None:
    alice, bob = tasks_api.alice, tasks_api.bob
    task = await tasks_api.create(alice)
    upper = task["id"].upper()
    for path in (
        f"/api/tasks/{task['id']}/",
        f"/api/tasks/{task['id']}%00",
        f"/api/tasks/{task['id']}' OR '1'='1",
        f"/api/tasks/{upper}",
        f"/api/tasks/{{{task['id']}}}",
        f"/api/tasks/..%2F{task['id']}",
        "/api/tasks/%2A",
        "/api/tasks/*",
    ):
        response = await tasks_api.client.get(path, headers=bob.headers)
        assert response.status_code in (404, 405, 307, 422), (path, response.status_code)
        assert task["title"] not in response.text or response.status_code != 200
