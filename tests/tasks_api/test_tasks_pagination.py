"""Cursor pagination: every task exactly once, in order, even with inserts between pages;
filters; and cursors that are opaque and tamper-evident."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tasks_support import Caller

from conftest import Api

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2}


async def collect(
    api: Api, caller: Caller, params: dict[str, Any], *, between_pages: Any = None
) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.client.get("/api/tasks", params=query, headers=caller.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        if between_pages is not None:
            await between_pages(pages)


def expected_order(tasks: list[dict[str, Any]], sort: str) -> list[str]:
    if sort == "due":
        ordered = sorted(tasks, key=lambda t: (t["due_at"] is None, t["due_at"] or "", t["id"]))
        return [t["id"] for t in ordered]
    if sort == "priority":
        ordered = sorted(
            tasks,
            key=lambda t: (PRIORITY_RANK[t["priority"]], t["created_at"], t["id"]),
            reverse=True,
        )
        return [t["id"] for t in ordered]
    ordered = sorted(tasks, key=lambda t: (t["created_at"], t["id"]), reverse=True)
    return [t["id"] for t in ordered]


async def make_tasks(api: Api, caller: Caller, count: int) -> list[dict[str, Any]]:
    base = datetime(2031, 1, 1, tzinfo=UTC)
    created = []
    for n in range(count):
        fields: dict[str, Any] = {
            "title": f"task {n:03d}",
            "priority": ("low", "normal", "high")[n % 3],
            "completed": n % 4 == 0,
        }
        if n % 5:  # some have no due date; several share one
            fields["due_at"] = (base + timedelta(days=n % 7)).isoformat()
        created.append(await api.create(caller, **fields))
    return created


@pytest.mark.parametrize("sort", ["created", "due", "priority"])
async def test_pages_cover_every_task_once_in_order(api: Api, alice: Caller, sort: str) -> None:
    tasks = await make_tasks(api, alice, 23)
    items, pages = await collect(api, alice, {"limit": 5, "sort": sort})
    assert pages == 5
    assert [item["id"] for item in items] == expected_order(tasks, sort)


async def test_default_and_maximum_page_sizes(api: Api, alice: Caller) -> None:
    await make_tasks(api, alice, 25)
    first = (await api.client.get("/api/tasks", headers=alice.headers)).json()
    assert len(first["items"]) == 20
    assert first["next_cursor"] is not None
    everything = await api.client.get("/api/tasks", params={"limit": 100}, headers=alice.headers)
    assert len(everything.json()["items"]) == 25
    assert everything.json()["next_cursor"] is None


@pytest.mark.parametrize("sort", ["created", "due", "priority"])
async def test_stable_under_inserts_between_pages(api: Api, alice: Caller, sort: str) -> None:
    tasks = await make_tasks(api, alice, 12)
    inserted: list[dict[str, Any]] = []

    async def insert_more(page: int) -> None:
        for n in range(2):
            due = (datetime(2031, 1, 1, tzinfo=UTC) + timedelta(days=n)).isoformat()
            inserted.append(
                await api.create(alice, title=f"late {page}.{n}", priority="high", due_at=due)
            )

    items, _ = await collect(api, alice, {"limit": 4, "sort": sort}, between_pages=insert_more)
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), "a task appeared twice"
    original = {task["id"] for task in tasks}
    assert original <= set(ids), "a task that existed before paging was skipped"
    seen_original = [i for i in ids if i in original]
    assert seen_original == expected_order(tasks, sort)
    if sort == "created":  # newest first: later inserts land before the cursor, never after
        assert not set(ids) & {task["id"] for task in inserted}


async def test_filters_and_search_combine_with_paging(api: Api, alice: Caller) -> None:
    tasks = await make_tasks(api, alice, 20)
    done, _ = await collect(api, alice, {"limit": 3, "completed": "true"})
    assert {t["id"] for t in done} == {t["id"] for t in tasks if t["completed"]}
    open_, _ = await collect(api, alice, {"limit": 3, "completed": "false"})
    assert {t["id"] for t in open_} == {t["id"] for t in tasks if not t["completed"]}
    found, _ = await collect(api, alice, {"limit": 2, "q": "task 01", "sort": "due"})
    assert sorted(t["title"] for t in found) == [f"task {n:03d}" for n in range(10, 20)]


async def first_cursor(api: Api, caller: Caller, **params: Any) -> str:
    page = await api.client.get("/api/tasks", params={"limit": 1, **params}, headers=caller.headers)
    cursor = page.json()["next_cursor"]
    assert isinstance(cursor, str)
    return cursor


def assert_bad_cursor(response: Any) -> None:
    assert response.status_code == 422, response.text
    assert response.json() == {
        "detail": "cursor: is invalid or does not match this query",
        "code": "invalid_cursor",
    }


async def test_tampered_cursors_are_422(api: Api, alice: Caller) -> None:
    await make_tasks(api, alice, 3)
    cursor = await first_cursor(api, alice)
    payload, mac = cursor.split(".")
    position = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    position[0] = "2000-01-01T00:00:00+00:00"
    forged_payload = base64.urlsafe_b64encode(json.dumps(position).encode()).rstrip(b"=")
    bad = [
        "garbage",
        "",
        "a.b.c",
        "...",
        "é.é",
        f"{forged_payload.decode()}.{mac}",  # edited position, old MAC
        # An edited MAC: its first character. Setting the last two to "AA" left one MAC
        # in 256 unchanged (16 bytes: the last character takes one of 4 values).
        f"{payload}.{'B' if mac[0] == 'A' else 'A'}{mac[1:]}",
        f"{payload}.",
        f".{mac}",
        f"{payload}!.{mac}",
    ]
    for text in bad:
        response = await api.client.get(
            "/api/tasks", params={"cursor": text}, headers=alice.headers
        )
        assert_bad_cursor(response)


async def test_cursor_is_bound_to_its_user_and_query(api: Api, alice: Caller, bob: Caller) -> None:
    await make_tasks(api, alice, 3)
    await make_tasks(api, bob, 3)
    cursor = await first_cursor(api, alice)
    for params, caller in [
        ({}, bob),  # another user
        ({"sort": "due"}, alice),  # another sort
        ({"completed": "true"}, alice),  # another filter
        ({"q": "task"}, alice),  # another search
    ]:
        response = await api.client.get(
            "/api/tasks", params={"cursor": cursor, **params}, headers=caller.headers
        )
        assert_bad_cursor(response)
    # The same query with another page size is fine.
    ok = await api.client.get(
        "/api/tasks", params={"cursor": cursor, "limit": 50}, headers=alice.headers
    )
    assert ok.status_code == 200
    assert len(ok.json()["items"]) == 2


async def test_cursor_does_not_leak_fields_in_the_clear(api: Api, alice: Caller) -> None:
    await make_tasks(api, alice, 2)
    cursor = await first_cursor(api, alice)
    assert alice.sub not in cursor
    assert "task" not in cursor
