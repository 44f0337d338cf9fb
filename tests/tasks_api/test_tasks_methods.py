"""405 Method Not Allowed: the API's error body, and an ``Allow`` that lists every method the
path serves (RFC 9110 §15.5.6), not only those of the first route Starlette matched."""

from __future__ import annotations

import pytest
from tasks_support import Caller

from conftest import Api

TASK = "/api/tasks/00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("path", "methods", "allow"),
    [
        ("/api/tasks", ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"], "GET, POST"),
        (TASK, ["PUT", "POST", "OPTIONS", "HEAD"], "GET, PATCH, DELETE"),
        ("/api/tasks/not-a-uuid", ["PUT", "POST"], "GET, PATCH, DELETE"),
        ("/api/me", ["POST", "DELETE"], "GET"),
        ("/api/admin/stats", ["PUT"], "GET"),
        ("/healthz", ["POST"], "GET"),
        ("/openapi.json", ["POST"], "GET, HEAD"),
    ],
)
async def test_405_lists_every_method_of_the_path(
    api: Api, alice: Caller, path: str, methods: list[str], allow: str
) -> None:
    for method in methods:
        for headers in (alice.headers, {}):  # routing decides before authentication
            response = await api.client.request(method, path, headers=headers)
            assert response.status_code == 405, (method, path, response.text)
            assert response.headers["allow"] == allow, (method, path)
            if method != "HEAD":
                assert response.json() == {
                    "detail": "Method Not Allowed",
                    "code": "method_not_allowed",
                }


async def test_every_method_in_allow_is_served(api: Api, alice: Caller) -> None:
    """The other direction: no method in ``Allow`` is itself a 405."""
    task = await api.create(alice)
    path = f"/api/tasks/{task['id']}"
    refused = await api.client.put(path, headers=alice.headers)
    for method in refused.headers["allow"].split(", "):
        body = {"title": "still here"} if method == "PATCH" else None
        response = await api.client.request(method, path, json=body, headers=alice.headers)
        assert response.status_code in (200, 204), (method, response.text)
