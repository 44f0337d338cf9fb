"""Fixtures for the scale-out tests: the local Redis (unique key prefix per test), a
private ``redis-server`` that a test may stop and restart, and an issuer serving its JWKS."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from scale_helpers import REDIS_URL, PrivateRedis

from authbridge.testing import FakeIssuer


@pytest.fixture
def prefix() -> str:
    return f"authbridge-test:{secrets.token_hex(6)}:"


@pytest.fixture
async def redis_client(prefix: str) -> AsyncIterator[Redis]:
    """The local Redis; every key under this test's prefix is deleted afterwards."""
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    await client.ping()  # no Redis: the test fails here, it is never skipped
    yield client
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def jwks_issuer() -> Iterator[FakeIssuer]:
    """A FakeIssuer whose JWKS is served over HTTP on a free loopback port."""
    fake = FakeIssuer(base_url=None)
    fake.start_server()
    try:
        yield fake
    finally:
        fake.stop_server()
