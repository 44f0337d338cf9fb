"""ETags and If-Match (412 on mismatch), parallel creates, and racing conditional writes."""

from __future__ import annotations

import asyncio

from tasks_support import Caller

from conftest import Api


async def test_etag_follows_every_write(api: Api, alice: Caller) -> None:
    created = await api.client.post("/api/tasks", json={"title": "a"}, headers=alice.headers)
    path = created.headers["location"]
    tags = [created.headers["etag"]]
    for title in ("b", "c"):
        patched = await api.client.patch(path, json={"title": title}, headers=alice.headers)
        tags.append(patched.headers["etag"])
    assert len(set(tags)) == 3
    assert all(tag.startswith('"') and tag.endswith('"') for tag in tags)
    current = await api.client.get(path, headers=alice.headers)
    assert current.headers["etag"] == tags[-1]
    # Reading does not change the tag.
    again = await api.client.get(path, headers=alice.headers)
    assert again.headers["etag"] == tags[-1]


async def test_if_match_on_patch(api: Api, alice: Caller) -> None:
    created = await api.client.post("/api/tasks", json={"title": "a"}, headers=alice.headers)
    path, etag = created.headers["location"], created.headers["etag"]
    stale = await api.client.patch(
        path, json={"title": "b"}, headers=alice.with_headers(If_Match='"stale"')
    )
    assert stale.status_code == 412
    assert stale.json() == {
        "detail": "The task has changed; fetch it again.",
        "code": "precondition_failed",
    }
    weak = await api.client.patch(
        path, json={"title": "b"}, headers=alice.with_headers(If_Match=f"W/{etag}")
    )
    assert weak.status_code == 412  # If-Match uses the strong comparison
    fresh = await api.client.patch(
        path, json={"title": "b"}, headers=alice.with_headers(If_Match=f'"other", {etag}')
    )
    assert fresh.status_code == 200
    assert fresh.json()["title"] == "b"
    reused = await api.client.patch(
        path, json={"title": "c"}, headers=alice.with_headers(If_Match=etag)
    )
    assert reused.status_code == 412  # the tag moved on with the first write
    star = await api.client.patch(
        path, json={"title": "d"}, headers=alice.with_headers(If_Match="*")
    )
    assert star.status_code == 200
    # Even an empty PATCH honours the precondition.
    empty = await api.client.patch(path, json={}, headers=alice.with_headers(If_Match=etag))
    assert empty.status_code == 412
    assert (await api.client.get(path, headers=alice.headers)).json()["title"] == "d"


async def test_if_match_on_delete(api: Api, alice: Caller) -> None:
    created = await api.client.post("/api/tasks", json={"title": "a"}, headers=alice.headers)
    path, etag = created.headers["location"], created.headers["etag"]
    await api.client.patch(path, json={"completed": True}, headers=alice.headers)
    stale = await api.client.delete(path, headers=alice.with_headers(If_Match=etag))
    assert stale.status_code == 412
    assert (await api.client.get(path, headers=alice.headers)).status_code == 200
    current = (await api.client.get(path, headers=alice.headers)).headers["etag"]
    deleted = await api.client.delete(path, headers=alice.with_headers(If_Match=current))
    assert deleted.status_code == 204
    gone = await api.client.delete(path, headers=alice.with_headers(If_Match=current))
    assert gone.status_code == 404


async def test_parallel_creates(api: Api, alice: Caller, bob: Caller) -> None:
    async def create(caller: Caller, n: int) -> str:
        response = await api.client.post(
            "/api/tasks", json={"title": f"parallel {n}"}, headers=caller.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    ids = await asyncio.gather(
        *(create(alice, n) for n in range(40)), *(create(bob, n) for n in range(20))
    )
    assert len(set(ids)) == 60
    listed = await api.client.get("/api/tasks", params={"limit": 100}, headers=alice.headers)
    titles = sorted(item["title"] for item in listed.json()["items"])
    assert titles == sorted(f"parallel {n}" for n in range(40))


async def test_racing_conditional_patches_let_exactly_one_win(api: Api, alice: Caller) -> None:
    created = await api.client.post("/api/tasks", json={"title": "race"}, headers=alice.headers)
    path, etag = created.headers["location"], created.headers["etag"]

    async def attempt(n: int) -> int:
        response = await api.client.patch(
            path, json={"title": f"winner {n}"}, headers=alice.with_headers(If_Match=etag)
        )
        return response.status_code

    statuses = await asyncio.gather(*(attempt(n) for n in range(10)))
    assert sorted(statuses) == [200] + [412] * 9
    final = (await api.client.get(path, headers=alice.headers)).json()
    assert final["title"].startswith("winner ")


async def test_unconditional_patches_all_apply(api: Api, alice: Caller) -> None:
    created = await api.client.post("/api/tasks", json={"title": "count"}, headers=alice.headers)
    path = created.headers["location"]
    results = await asyncio.gather(
        *(
            api.client.patch(path, json={"description": str(n)}, headers=alice.headers)
            for n in range(10)
        )
    )
    assert all(result.status_code == 200 for result in results)
    tags = {result.headers["etag"] for result in results}
    assert len(tags) == 10  # each write produced a distinct version
