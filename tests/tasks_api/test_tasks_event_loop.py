"""Serving requests never blocks the event loop (``blockbuster``), on either backend.

The app starts (and migrates) before the detector is armed; every request after that runs
under it: database access must go through the store's threads or asyncpg's sockets. The one
exception is allowed by name: a SQLite read runs first on the loop's own read-only connection
(store.py, ``_read_on_loop``), bounded by a budget of SQLite steps and never waiting for a
lock; ``test_tasks_store.py`` checks that a longer read leaves the loop. Every other sqlite3
call on the loop (a write, a read outside that function) still fails this test.
"""

from __future__ import annotations

import time

import pytest
from blockbuster import BlockingError, blockbuster_ctx
from tasks_support import Caller

from conftest import Api


async def test_requests_never_block_the_loop(api: Api, alice: Caller, bob: Caller) -> None:
    with blockbuster_ctx() as detector:
        for name, function in detector.functions.items():
            if name.startswith("sqlite3."):
                function.can_block_in("tasks_api/store.py", "_read_on_loop")
        with pytest.raises(BlockingError):  # the detector is armed
            time.sleep(0.001)
        made = await api.client.post(
            "/api/tasks",
            json={"title": "a", "due_at": "2030-01-01T00:00:00Z"},
            headers=alice.headers,
        )
        assert made.status_code == 201
        path, etag = made.headers["location"], made.headers["etag"]
        assert (await api.client.get(path, headers=alice.headers)).status_code == 200
        assert (await api.client.get(path, headers=bob.headers)).status_code == 404
        patched = await api.client.patch(
            path, json={"completed": True}, headers={**alice.headers, "If-Match": etag}
        )
        assert patched.status_code == 200
        page = await api.client.get(
            "/api/tasks", params={"limit": 1, "q": "a", "sort": "due"}, headers=alice.headers
        )
        assert page.status_code == 200
        admin = api.caller(role="admin")
        assert (await api.client.get("/api/admin/stats", headers=admin.headers)).status_code == 200
        assert (await api.client.get("/readyz")).status_code == 200
        assert (await api.client.delete(path, headers=alice.headers)).status_code == 204
