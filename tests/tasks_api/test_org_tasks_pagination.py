"""Team task pages: the same cursors, sorts and filters as personal ones, shared by every
member of the organization, and bound to it: a cursor of another organization, of a personal
list, or of another query is 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tasks_support import Caller
from test_tasks_pagination import assert_bad_cursor, expected_order

from conftest import Api, new_organization

ORG = "/api/org/tasks"


async def make_team_tasks(api: Api, members: list[Caller], count: int) -> list[dict[str, Any]]:
    base = datetime(2031, 1, 1, tzinfo=UTC)
    created = []
    for n in range(count):
        fields: dict[str, Any] = {
            "title": f"task {n:03d}",
            "priority": ("low", "normal", "high")[n % 3],
            "completed": n % 4 == 0,
        }
        if n % 5:
            fields["due_at"] = (base + timedelta(days=n % 7)).isoformat()
        created.append(await api.create(members[n % len(members)], path=ORG, **fields))
    return created


async def collect(
    api: Api, callers: list[Caller], params: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    """Every page, each fetched by the next caller in turn: members share cursors."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        caller = callers[pages % len(callers)]
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.client.get(ORG, params=query, headers=caller.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages


@pytest.mark.parametrize("sort", ["created", "due", "priority"])
async def test_team_pages_cover_every_task_once_in_order(api: Api, sort: str) -> None:
    acme = new_organization()
    members = [api.member(acme, "owner"), api.member(acme, "member")]
    tasks = await make_team_tasks(api, members, 23)
    # Noise: another organization's tasks and the members' personal tasks never show up.
    await make_team_tasks(api, [api.member(new_organization())], 4)
    await api.create(members[0], title="personal")
    items, pages = await collect(api, members, {"limit": 5, "sort": sort})
    assert pages == 5
    assert [item["id"] for item in items] == expected_order(tasks, sort)
    assert {item["created_by"] for item in items} == {member.sub for member in members}


async def test_team_filters_and_search_combine_with_paging(api: Api) -> None:
    acme = new_organization()
    member = api.member(acme)
    tasks = await make_team_tasks(api, [member], 20)
    done, _ = await collect(api, [member], {"limit": 3, "completed": "true"})
    assert {t["id"] for t in done} == {t["id"] for t in tasks if t["completed"]}
    found, _ = await collect(api, [member], {"limit": 2, "q": "task 01", "sort": "due"})
    assert sorted(t["title"] for t in found) == [f"task {n:03d}" for n in range(10, 20)]


async def test_team_cursors_are_bound_to_the_organization_and_query(
    api: Api, alice: Caller
) -> None:
    acme, globex = new_organization(), new_organization()
    in_acme = api.member(acme, of=alice)
    await make_team_tasks(api, [in_acme], 3)
    await make_team_tasks(api, [api.member(globex)], 3)
    for n in range(3):
        await api.create(alice, title=f"personal {n}")
    page = await api.client.get(ORG, params={"limit": 1}, headers=in_acme.headers)
    team_cursor = page.json()["next_cursor"]
    personal = await api.client.get("/api/tasks", params={"limit": 1}, headers=alice.headers)
    personal_cursor = personal.json()["next_cursor"]
    assert isinstance(team_cursor, str)
    assert isinstance(personal_cursor, str)
    assert acme not in team_cursor

    in_globex = api.member(globex, of=alice)  # the same user, switched organization
    for path, cursor, params, caller in [
        (ORG, team_cursor, {}, in_globex),  # another organization
        (ORG, team_cursor, {}, api.member(globex)),
        (ORG, team_cursor, {"sort": "due"}, in_acme),  # another query
        (ORG, personal_cursor, {}, in_acme),  # a personal cursor on the team list
        ("/api/tasks", team_cursor, {}, alice),  # and the other way round
    ]:
        response = await api.client.get(
            path, params={"cursor": cursor, **params}, headers=caller.headers
        )
        assert_bad_cursor(response)
    # Another member of the same organization continues the list.
    ok = await api.client.get(
        ORG, params={"cursor": team_cursor, "limit": 50}, headers=api.member(acme).headers
    )
    assert ok.status_code == 200
    assert len(ok.json()["items"]) == 2


async def test_team_page_sizes_and_repeated_parameters(api: Api) -> None:
    member = api.member(new_organization())
    await make_team_tasks(api, [member], 21)
    first = (await api.client.get(ORG, headers=member.headers)).json()
    assert len(first["items"]) == 20
    assert first["next_cursor"] is not None
    for params in ({"limit": 0}, {"limit": 101}, [("sort", "due"), ("sort", "due")]):
        response = await api.client.get(ORG, params=params, headers=member.headers)
        assert response.status_code == 422, params
        assert response.json()["code"] == "validation_error"
        assert response.json()["detail"].split(":")[0] in {"limit", "sort"}
