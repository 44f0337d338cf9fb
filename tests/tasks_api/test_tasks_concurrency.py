"""ETags and If-Match (412 on mismatch, 400 when malformed), parallel creates, and racing
conditional writes."""

from __future__ import annotations

import asyncio

import pytest
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


IF_MATCH_REFUSED = {
    "detail": 'If-Match: must be * or a comma-separated list of entity-tags ("..." or W/"...")',
    "code": "invalid_if_match",
}


@pytest.mark.parametrize(
    "value",
    [
        "",  # no entity-tag at all (it was a 412)
        " ",
        ",",
        ", ,",
        "stale",  # not quoted
        '"stale',
        'stale"',
        "'stale'",
        '"sta"le"',
        'w/"stale"',  # the weak prefix is case-sensitive
        'W/ "stale"',
        '"a" "b"',  # no comma between the tags
        '*, "a"',  # `*` stands alone
        "*, *",
        "**",
        '"tab\tinside"',
        '"space inside"',
    ],
)
async def test_malformed_if_match_is_400_naming_the_header(
    api: Api, alice: Caller, bob: Caller, value: str
) -> None:
    created = await api.client.post("/api/tasks", json={"title": "a"}, headers=alice.headers)
    path = created.headers["location"]
    conditional = alice.with_headers(If_Match=value)
    patched = await api.client.patch(path, json={"title": "b"}, headers=conditional)
    deleted = await api.client.delete(path, headers=conditional)
    for response in (patched, deleted):
        assert response.status_code == 400, (value, response.text)
        assert response.json() == IF_MATCH_REFUSED
    # Decided before the task is looked up: bob gets the same 400 for alice's task as for none.
    foreign = await api.client.delete(path, headers=bob.with_headers(If_Match=value))
    missing = await api.client.delete(
        "/api/tasks/00000000-0000-4000-8000-000000000000", headers=bob.with_headers(If_Match=value)
    )
    assert (foreign.status_code, foreign.content) == (missing.status_code, missing.content)
    assert foreign.status_code == 400
    # ...and after authentication: without a token it is the 401.
    anonymous = await api.client.delete(path, headers={"If-Match": value})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "token_missing"
    assert (await api.client.get(path, headers=alice.headers)).json()["title"] == "a"


@pytest.mark.parametrize(
    "template",
    [
        "{etag}",
        '"other", {etag}',
        'W/"other" ,\t{etag}',
        ", {etag},",  # empty list elements are ignored (RFC 9110 §5.6.1.2)
        '"a,b", {etag}',  # a comma inside an entity-tag does not split it
        '"\xe9t\xe9", {etag}',  # obs-text (%x80-FF) inside an entity-tag
        "  {etag}  ",
    ],
)
async def test_well_formed_if_match_lists(api: Api, alice: Caller, template: str) -> None:
    created = await api.client.post("/api/tasks", json={"title": "a"}, headers=alice.headers)
    path, etag = created.headers["location"], created.headers["etag"]
    value = template.format(etag=etag).encode("latin-1")
    patched = await api.client.patch(
        path, json={"title": "b"}, headers={**alice.headers, "If-Match": value}
    )
    assert patched.status_code == 200, (template, patched.text)
    stale = template.format(etag='"stale"').encode("latin-1")
    refused = await api.client.delete(path, headers={**alice.headers, "If-Match": stale})
    assert refused.status_code == 412, (template, refused.text)


async def test_if_match_field_lines_combine(api: Api, alice: Caller) -> None:
    """Several ``If-Match`` lines are one list (RFC 9110 §5.3)."""
    created = await api.client.post("/api/tasks", json={"title": "a"}, headers=alice.headers)
    path, etag = created.headers["location"], created.headers["etag"]
    token = alice.headers["Authorization"]
    lines = [("Authorization", token), ("If-Match", '"stale"'), ("If-Match", etag)]
    patched = await api.client.patch(path, json={"title": "b"}, headers=lines)
    assert patched.status_code == 200, patched.text
    # A line that is not a list makes the whole field malformed.
    broken = [("Authorization", token), ("If-Match", patched.headers["etag"]), ("If-Match", "*")]
    refused = await api.client.delete(path, headers=broken)
    assert refused.status_code == 400
    assert refused.json() == IF_MATCH_REFUSED
