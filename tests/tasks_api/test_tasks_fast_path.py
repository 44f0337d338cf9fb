"""The task routes' fast path (strict_json.py, routes/tasks.py) answers exactly as FastAPI's
own path does: the same status, headers that matter and body, for plain requests (which it
answers itself) and for every other one (which it hands to FastAPI).

FastAPI's path is forced by setting a dependency override that nothing uses: the fast path
stands aside whenever ``app.dependency_overrides`` is set."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from tasks_support import Caller

from conftest import Api
from tasks_api.routes.tasks import ListQuery, plain_list_query

JSON = {"Content-Type": "application/json"}


def _never_used() -> None:  # the key of an override no route depends on
    raise AssertionError("not a dependency of any route")


@contextmanager
def fastapi_path(api: Api) -> Iterator[None]:
    api.app.dependency_overrides[_never_used] = _never_used
    try:
        yield
    finally:
        api.app.dependency_overrides.pop(_never_used)


def _answer(response: httpx.Response) -> tuple[int, Any, dict[str, str | None]]:
    headers = {
        name: response.headers.get(name)
        for name in ("content-type", "cache-control", "vary", "www-authenticate", "etag")
    }
    body = response.json() if response.content else None
    return response.status_code, body, headers


async def both_ways(api: Api, method: str, url: str, **kwargs: Any) -> Any:
    """The answer of the fast path, after checking FastAPI's path gives the same one."""
    fast = _answer(await api.client.request(method, url, **kwargs))
    with fastapi_path(api):
        slow = _answer(await api.client.request(method, url, **kwargs))
    assert fast == slow, (method, url)
    return fast


LIST_QUERIES = [
    "",
    "limit=5",
    "limit=100",
    "limit=101",
    "limit=0",
    "limit=05",
    "limit=+5",
    "limit=%205",
    "limit=abc",
    "limit=",
    "limit=5&limit=6",
    "completed=true",
    "completed=false",
    "completed=1",
    "completed=TRUE",
    "completed=maybe",
    "completed=",
    "sort=due",
    "sort=priority",
    "sort=bad",
    "sort=",
    "q=task",
    "q=",
    "q=%20",
    "q=%01",
    "q=" + "x" * 200,
    "q=" + "x" * 201,
    "cursor=",
    "cursor=abc.def",
    "cursor=not-a-cursor",
    "cursor=" + "a" * 513,
    "sort=due&completed=false&limit=3&q=task",
    "unknown=1&limit=2",
]


@pytest.mark.parametrize("query", LIST_QUERIES)
async def test_list_answers_alike(api: Api, alice: Caller, query: str) -> None:
    for number in range(3):
        await api.create(alice, title=f"task {number}", completed=number == 1)
    for path in ("/api/tasks", "/api/org/tasks"):
        caller = api.member("org-fast", of=alice) if path == "/api/org/tasks" else alice
        await both_ways(api, "GET", f"{path}?{query}", headers=caller.headers)
    await both_ways(api, "GET", f"/api/tasks?{query}")  # no token: 401 before 422
    await both_ways(api, "GET", f"/api/tasks?{query}", headers={"Authorization": "Bearer x.y.z"})


async def test_a_cursor_pages_alike(api: Api, alice: Caller, bob: Caller) -> None:
    for number in range(5):
        await api.create(alice, title=f"task {number}")
    status, page, _ = await both_ways(api, "GET", "/api/tasks?limit=2", headers=alice.headers)
    assert status == 200
    assert page["next_cursor"]
    cursor = page["next_cursor"]
    status, second, _ = await both_ways(
        api, "GET", f"/api/tasks?limit=2&cursor={cursor}", headers=alice.headers
    )
    assert status == 200
    assert [task["id"] for task in second["items"]] != [task["id"] for task in page["items"]]
    # Another query, or another caller: the cursor is refused the same way by both paths.
    status, _, _ = await both_ways(
        api, "GET", f"/api/tasks?limit=2&sort=due&cursor={cursor}", headers=alice.headers
    )
    assert status == 422
    status, _, _ = await both_ways(
        api, "GET", f"/api/tasks?limit=2&cursor={cursor}", headers=bob.headers
    )
    assert status == 422


def test_plain_queries_take_the_fast_path() -> None:
    def query_of(raw: str) -> ListQuery | None:
        from starlette.requests import Request

        return plain_list_query(Request({"type": "http", "query_string": raw.encode()}))

    assert query_of("") == ListQuery()
    assert query_of("limit=100&sort=due&completed=false&q=a&cursor=x.y") == ListQuery(
        100, "x.y", False, "a", "due"
    )
    for odd in ("limit=101", "limit=05", "completed=1", "sort=x", "limit=1&limit=1"):
        assert query_of(odd) is None, odd


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"title": "fine", "priority": "high", "due_at": "2030-01-02T03:04:05Z"}', JSON),
        (b'{"title": ""}', JSON),
        (b'{"title": "x", "extra": 1}', JSON),
        (b'{"title": "x", "title": "y"}', JSON),
        (b'{"title": NaN}', JSON),
        (b"[]", JSON),
        (b"null", JSON),
        (b"", JSON),
        (b'{"title": "no content type"}', {}),
        (b'{"title": "text"}', {"Content-Type": "text/plain"}),
        (b'{"title": "charset"}', {"Content-Type": "application/json; charset=utf-8"}),
    ],
)
async def test_writes_answer_alike(
    api: Api, alice: Caller, body: bytes, headers: dict[str, str]
) -> None:
    def same_shape(answer: Any) -> Any:
        status, payload, found = answer
        if status in (200, 201) and isinstance(payload, dict):
            payload = {k: v for k, v in payload.items() if k not in ("id", "created_at", "etag")}
            payload.pop("updated_at", None)
            found = {**found, "etag": None}
        return status, payload, found

    async def twice(method: str, url: str, caller_headers: dict[str, str]) -> None:
        fast = same_shape(
            _answer(await api.client.request(method, url, content=body, headers=caller_headers))
        )
        with fastapi_path(api):
            slow = same_shape(
                _answer(await api.client.request(method, url, content=body, headers=caller_headers))
            )
        assert fast == slow, (method, body)

    await twice("POST", "/api/tasks", {**alice.headers, **headers})
    await twice("POST", "/api/tasks", dict(headers))  # no token
    task = await api.create(alice)
    await twice("PATCH", f"/api/tasks/{task['id']}", {**alice.headers, **headers})
    await twice("PATCH", f"/api/tasks/{task['id']}", dict(headers))


async def test_reads_and_deletes_answer_alike(api: Api, alice: Caller, bob: Caller) -> None:
    task = await api.create(alice)
    url = f"/api/tasks/{task['id']}"
    for target in (url, "/api/tasks/not-a-uuid", "/api/tasks/" + "0" * 36):
        for headers in (alice.headers, bob.headers, {}):
            await both_ways(api, "GET", target, headers=headers)
    for if_match in ('"stale"', "garbage", 'W/"weak"'):
        await both_ways(api, "DELETE", url, headers={**alice.headers, "If-Match": if_match})
        await both_ways(
            api,
            "PATCH",
            url,
            content=b'{"title": "changed"}',
            headers={**alice.headers, **JSON, "If-Match": if_match},
        )
    await both_ways(api, "DELETE", url, headers=bob.headers)  # another owner's: 404
    status, _, _ = await api_delete(api, url, alice)
    assert status == 204
    await both_ways(api, "DELETE", url, headers=alice.headers)  # gone: 404 both ways


async def test_me_answers_alike(api: Api, alice: Caller) -> None:
    """``/api/me`` has a fast path too (routes/account.py): the same answer for a caller, one
    of an organization, no credential, a malformed one and an unknown scheme."""
    member = api.member("org-me", of=alice)
    callers = [
        alice.headers,
        member.headers,
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic YTpi"},
    ]
    for headers in callers:
        for url in ("/api/me", "/api/me?extra=1"):
            status, _, _ = await both_ways(api, "GET", url, headers=headers)
            assert status == (200 if headers in (alice.headers, member.headers) else 401)


async def api_delete(api: Api, url: str, caller: Caller) -> Any:
    return _answer(await api.client.delete(url, headers=caller.headers))


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"content-type", b"application/json")],
        [(b"vary", b"Authorization")],
        [(b"vary", b"Accept"), (b"etag", b'"x"'), (b"vary", b"Authorization, Cookie")],
        [(b"cache-control", b"no-store"), (b"vary", b"*")],
    ],
)
async def test_cors_without_origin_answers_as_starlette(headers: list[tuple[bytes, bytes]]) -> None:
    """The CORS middleware's pass for requests without ``Origin`` (cors.py) sends the headers
    Starlette's own CORS middleware sends."""
    from starlette.middleware.cors import CORSMiddleware

    from tasks_api.cors import JSONErrorCORSMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    async def answer(middleware: type[CORSMiddleware]) -> list[Any]:
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        async def receive() -> Any:
            return {"type": "http.request", "body": b"", "more_body": False}

        scope = {"type": "http", "method": "GET", "headers": [(b"host", b"tasks.test")]}
        wrapped = middleware(app, allow_origins=["http://web.test"], allow_credentials=True)
        await wrapped(scope, receive, send)
        return sent

    assert await answer(JSONErrorCORSMiddleware) == await answer(CORSMiddleware)
