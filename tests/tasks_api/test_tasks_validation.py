"""Every input rule: bad input is a 4xx with ``{"detail", "code"}`` naming the field, never 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tasks_support import Caller

from conftest import Api

JSON = {"Content-Type": "application/json"}


def assert_invalid(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "validation_error"
    # The field itself, not a pydantic union branch ("title.function-after[...]: ...").
    assert body["detail"].startswith(f"{field}: "), body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   \t "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "bell\x07"}, "title"),
        ({"title": "null\x00byte"}, "title"),
        ({"title": "line\nbreak"}, "title"),
        ({"title": "escape\x1b[31m"}, "title"),
        ({"title": "del\x7f"}, "title"),
        ({"title": "line\u2028separator"}, "title"),
        ({"title": 5}, "title"),
        ({"title": ["a"]}, "title"),
        ({"title": None}, "title"),
        ({"title": "ok", "description": "x" * 10_001}, "description"),
        ({"title": "ok", "description": "nul\x00"}, "description"),
        ({"title": "ok", "description": 3}, "description"),
        ({"title": "ok", "completed": "true"}, "completed"),
        ({"title": "ok", "completed": 1}, "completed"),
        ({"title": "ok", "completed": None}, "completed"),
        ({"title": "ok", "priority": "urgent"}, "priority"),
        ({"title": "ok", "priority": "HIGH"}, "priority"),
        ({"title": "ok", "priority": None}, "priority"),
        ({"title": "ok", "due_at": "2030-01-01T00:00:00"}, "due_at"),  # no timezone
        ({"title": "ok", "due_at": "tomorrow"}, "due_at"),
        ({"title": "ok", "due_at": 1893456000}, "due_at"),  # numbers are not dates here
        ({"title": "ok", "due_at": "0001-01-01T00:00:00+05:00"}, "due_at"),  # before year 1 in UTC
        ({"title": "ok", "due_at": "9999-12-31T23:00:00-05:00"}, "due_at"),  # past 9999 in UTC
        ({"title": "ok", "due_at": "1800-01-01T00:00:00Z"}, "due_at"),
        ({"title": "ok", "extra": 1}, "extra"),
        ({"title": "ok", "owner_id": "someone"}, "owner_id"),
    ],
)
async def test_create_rejects(api: Api, alice: Caller, body: dict[str, Any], field: str) -> None:
    assert_invalid(await api.client.post("/api/tasks", json=body, headers=alice.headers), field)


async def test_limits_are_inclusive(api: Api, alice: Caller) -> None:
    created = await api.create(
        alice, title="t" * 200, description="d" * 10_000, due_at="9999-12-30T00:00:00Z"
    )
    assert len(str(created["title"])) == 200
    assert len(str(created["description"])) == 10_000
    tabbed = await api.create(alice, title="émoji 🚀 ok", description="tab\tand\r\nnewlines")
    assert tabbed["title"] == "émoji 🚀 ok"
    assert tabbed["description"] == "tab\tand\r\nnewlines"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": None}, "title"),
        ({"completed": None}, "completed"),
        ({"priority": None}, "priority"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"owner_id": "x"}, "owner_id"),
        ({"id": "x"}, "id"),
        ({"updated_at": "2030-01-01T00:00:00Z"}, "updated_at"),
        ({"due_at": "2030-01-01"}, "due_at"),
    ],
)
async def test_patch_rejects(api: Api, alice: Caller, body: dict[str, Any], field: str) -> None:
    task = await api.create(alice)
    path = f"/api/tasks/{task['id']}"
    assert_invalid(await api.client.patch(path, json=body, headers=alice.headers), field)
    assert (await api.client.get(path, headers=alice.headers)).json() == task


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": NaN}',
        b'{"title": "ok", "completed": Infinity}',
        b'{"title": "ok", "completed": -Infinity}',
        b'{"title": "ok", "completed": 1' + b"0" * 5000 + b"}",  # past Python's int limit
        b'{"title": "ok", "completed": 1e999}',
        b'{"title": "\\ud800"}',  # a lone surrogate
        b'{"title": "ok", "description": "\\udfff tail"}',
        b'{"title": "ok", "\\ud800": 1}',  # a lone surrogate in a key
        b'{"title": "a", "title": "b"}',  # duplicate keys
        b'{"title": "ok"',
        b"\xff\xfe{}",
        b"[" * 100_000 + b"]" * 100_000,  # deep nesting, over the size limit: 413
        b'"just a string"',
        b"[]",
        b"null",
    ],
)
async def test_hostile_json_is_refused_without_a_500(api: Api, alice: Caller, raw: bytes) -> None:
    response = await api.client.post("/api/tasks", content=raw, headers={**alice.headers, **JSON})
    assert response.status_code in (413, 422), response.text
    assert set(response.json()) == {"detail", "code"}


async def test_deep_nesting_under_the_size_limit(api: Api, alice: Caller) -> None:
    raw = b'{"title": "ok", "description": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    response = await api.client.post("/api/tasks", content=raw, headers={**alice.headers, **JSON})
    assert response.status_code == 422


async def test_body_over_64_kib_is_413_by_content_length(api: Api, alice: Caller) -> None:
    body = b'{"title": "x", "description": "' + b"a" * 70_000 + b'"}'
    response = await api.client.post("/api/tasks", content=body, headers={**alice.headers, **JSON})
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    ok = b'{"title": "x", "description": "' + b"a" * 9_000 + b'"}'
    assert (
        await api.client.post("/api/tasks", content=ok, headers={**alice.headers, **JSON})
    ).status_code == 201


async def test_streamed_body_over_64_kib_is_413(api: Api, alice: Caller) -> None:
    sent: list[int] = []

    async def chunks() -> Any:  # no Content-Length: chunked transfer
        yield b'{"title": "x", "description": "'
        for _ in range(20):
            sent.append(8192)
            yield b"a" * 8192
        yield b'"}'

    response = await api.client.post(
        "/api/tasks", content=chunks(), headers={**alice.headers, **JSON}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert (await api.client.get("/api/tasks", headers=alice.headers)).json()["items"] == []


async def test_unauthenticated_big_body_is_refused_before_reading(api: Api) -> None:
    response = await api.client.post(
        "/api/tasks", content=b"x" * 200_000, headers={**JSON, "Content-Length": "200000"}
    )
    assert response.status_code == 413


async def test_bad_content_length_is_400(api: Api, alice: Caller) -> None:
    response = await api.client.post(
        "/api/tasks",
        content=b'{"title": "x"}',
        headers={**alice.headers, **JSON, "Content-Length": "abc"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1" + "0" * 50}, "limit"),
        ({"sort": "title"}, "sort"),
        ({"completed": "maybe"}, "completed"),
        ({"q": "x" * 201}, "q"),
        ({"q": "nul\x00"}, "q"),
        ({"q": "bell\x07"}, "q"),
        ({"cursor": "x" * 513}, "cursor"),
    ],
)
async def test_list_query_rejects(
    api: Api, alice: Caller, params: dict[str, str], field: str
) -> None:
    response = await api.client.get("/api/tasks", params=params, headers=alice.headers)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


async def test_lone_surrogate_bytes_in_query_do_not_500(api: Api, alice: Caller) -> None:
    response = await api.client.get("/api/tasks?q=%ED%A0%80", headers=alice.headers)
    assert response.status_code in (200, 422)


async def test_search_treats_like_wildcards_literally(api: Api, alice: Caller) -> None:
    await api.create(alice, title="100% done")
    await api.create(alice, title="1000 done")
    await api.create(alice, title="snake_case")
    await api.create(alice, title="snakeXcase")
    await api.create(alice, title="either/or")  # "/" is the LIKE escape character
    await api.create(alice, title="eitheror")

    async def titles(q: str) -> list[str]:
        answer = await api.client.get("/api/tasks", params={"q": q}, headers=alice.headers)
        return sorted(item["title"] for item in answer.json()["items"])

    assert await titles("0%") == ["100% done"]
    assert await titles("e_c") == ["snake_case"]
    assert await titles("DONE") == ["100% done", "1000 done"]  # case-insensitive
    assert await titles("r/o") == ["either/or"]
    assert await titles("/") == ["either/or"]
    assert await titles("//") == []


async def test_broken_body_without_a_token_is_401_not_422(api: Api, alice: Caller) -> None:
    broken = b'{"title": '
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Bearer not.a.jwt"}, 401),
        (dict(alice.headers), 422),
    ]:
        response = await api.client.post("/api/tasks", content=broken, headers={**headers, **JSON})
        assert response.status_code == status, response.text
    task = await api.create(alice)
    anonymous = await api.client.patch(f"/api/tasks/{task['id']}", content=broken, headers=JSON)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


async def test_broken_body_honours_override_user(api: Api) -> None:
    from authbridge.testing import override_user

    with override_user(api.app, api.issuer.principal()):
        response = await api.client.post("/api/tasks", content=b"{", headers=JSON)
        assert response.status_code == 422
        made = await api.client.post("/api/tasks", json={"title": "via override"})
        assert made.status_code == 201
