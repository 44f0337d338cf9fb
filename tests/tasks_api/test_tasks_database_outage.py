"""PostgreSQL becoming unreachable mid-run: 503 ``database_unavailable`` (never 500), readiness
fails, and the API recovers by itself once the server is back.

The outage is simulated with a TCP proxy (``PostgresProxy``) in front of the shared server,
which the test can cut (dropping every open connection and refusing new ones) and restore,
so no other test loses its database.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from tasks_support import make_caller, running_api

from authbridge.testing import FakeIssuer
from harness.postgres_proxy import PostgresProxy
from tasks_api.settings import ServiceSettings

pytestmark = pytest.mark.postgres


async def test_outage_is_503_and_recovery_is_automatic(postgres_schema: str) -> None:
    proxy = PostgresProxy()
    port = await proxy.start()
    settings = ServiceSettings(
        database_url=proxy.url(port),
        database_schema=postgres_schema,
        connect_timeout=2,
        pool_timeout=2,
    )
    issuer = FakeIssuer()
    caller = make_caller(issuer)
    try:
        async with running_api(settings, issuer) as (_, client):
            made = await client.post("/api/tasks", json={"title": "before"}, headers=caller.headers)
            assert made.status_code == 201

            proxy.sever()
            member = make_caller(issuer, activeOrganizationId="acme", organizationRole="owner")
            for method, path, body in [
                ("GET", "/api/tasks", None),
                ("POST", "/api/tasks", {"title": "during"}),
                ("GET", "/api/org/tasks", None),
                ("POST", "/api/org/tasks", {"title": "during"}),
            ]:
                answer = await client.request(method, path, json=body, headers=member.headers)
                assert answer.status_code == 503, answer.text
                assert answer.json()["code"] == "database_unavailable"
                assert int(answer.headers["retry-after"]) > 0
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] is False

            proxy.cut = False  # the server is back
            # Recovery needs no restart: within seconds every call succeeds again. A stale
            # pooled connection may still cost a 503 on the way, never a 500.
            deadline = time.monotonic() + 15
            while True:
                listed = await client.get("/api/tasks", headers=caller.headers)
                ready = await client.get("/readyz")
                assert listed.status_code in (200, 503), listed.text
                if listed.status_code == ready.status_code == 200:
                    break
                assert time.monotonic() < deadline, (listed.text, ready.text)
                await asyncio.sleep(0.2)
            assert [t["title"] for t in listed.json()["items"]] == ["before"]
            again = await client.post("/api/tasks", json={"title": "after"}, headers=caller.headers)
            assert again.status_code == 201, again.text
    finally:
        await proxy.close()
