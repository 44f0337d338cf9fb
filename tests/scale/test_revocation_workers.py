"""End to end: ``tasks-api serve --workers 2`` configured from the environment with Redis.
A revocation made from a shell reaches both worker processes within a second, on cache hits;
the shared JWKS copy means the workers fetch the issuer's keys once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from scale_helpers import REDIS_URL, authbridge_serve, clean_env

from authbridge.testing import FakeIssuer

pytestmark = [pytest.mark.redis]


@pytest.fixture
def issuer(jwks_issuer: FakeIssuer) -> FakeIssuer:
    return jwks_issuer


@pytest.fixture
def server(issuer: FakeIssuer, prefix: str, tmp_path: Path) -> Iterator[str]:
    env = clean_env(
        AUTHBRIDGE_JWKS_URL=issuer.jwks_url,
        AUTHBRIDGE_ISSUER=issuer.issuer,
        AUTHBRIDGE_AUDIENCE=issuer.issuer,
        AUTHBRIDGE_REDIS_URL=REDIS_URL,
        AUTHBRIDGE_REDIS_PREFIX=prefix,
        AUTHBRIDGE_REVOCATION="true",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}",
    )
    with authbridge_serve(env, tmp_path, "--workers", "2", "--log-level", "warning") as served:
        yield served.origin


async def statuses(client: httpx.AsyncClient, token: str, count: int) -> set[int]:
    """Statuses of ``count`` requests over fresh connections (so both workers answer)."""

    async def one() -> int:
        answer = await client.get(
            "/api/tasks", headers={"Authorization": f"Bearer {token}", "Connection": "close"}
        )
        return answer.status_code

    return set(await asyncio.gather(*(one() for _ in range(count))))


async def test_sign_out_everywhere_reaches_every_worker(
    server: str, issuer: FakeIssuer, prefix: str, redis_client: Redis
) -> None:
    token = issuer.token(now=time.time() - 30)
    other_user = issuer.token(issuer.make_user(), now=time.time() - 30)
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        assert await statuses(client, token, 40) == {200}  # both workers have it cached now
        env = {**os.environ, "AUTHBRIDGE_REDIS_URL": REDIS_URL, "AUTHBRIDGE_REDIS_PREFIX": prefix}
        done = await asyncio.to_thread(
            subprocess.run,
            [
                str(Path(sys.executable).with_name("authbridge")),
                "revoke",
                "user",
                issuer.issuer,
                issuer.user["id"],
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        await asyncio.sleep(1.0)
        assert await statuses(client, token, 40) == {401}
        assert await statuses(client, other_user, 10) == {200}
        fresh = issuer.token(now=time.time() + 1)  # a new sign-in, next second
        assert await statuses(client, fresh, 10) == {200}
    # Two workers, one fetch of the issuer's keys (the other took the shared copy).
    assert issuer.server is not None
    assert issuer.server.requests == 1
