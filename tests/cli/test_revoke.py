"""``authbridge revoke``, driven as a subprocess against the local Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from cli_helpers import CLI

from authbridge import Principal
from authbridge.revocation import RevocationList

REDIS_URL = "redis://127.0.0.1:6379/0"
ISSUER = "http://127.0.0.1:3000"


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"authbridge-test-{uuid.uuid4().hex[:12]}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)
    client.close()


def _principal(sub: str, sid: str | None, iat: float) -> Principal:
    return Principal(sub=sub, issuer=ISSUER, session_id=sid, claims={"iat": iat})


async def _loaded(prefix: str) -> RevocationList:
    revocations = RevocationList(REDIS_URL, prefix=prefix, failure="closed")
    await revocations.start()
    return revocations


def test_revoke_session_reaches_another_instance(cli: CLI, prefix: str) -> None:
    env = {"AUTHBRIDGE_REDIS_URL": REDIS_URL, "AUTHBRIDGE_REDIS_PREFIX": prefix}
    result = cli("revoke", "session", ISSUER, "sid-1", "--json", env=env)
    assert result.code == 0, result.output
    assert result.json() == {"revoked": True, "kind": "session", "issuer": ISSUER, "id": "sid-1"}

    async def check() -> None:
        revocations = await _loaded(prefix)
        try:
            assert not revocations.allows(_principal("u1", "sid-1", time.time()))
            assert revocations.allows(_principal("u1", "sid-2", time.time()))
        finally:
            await revocations.aclose()

    asyncio.run(check())


def test_revoke_user_cuts_off_older_tokens(cli: CLI, prefix: str) -> None:
    env = {"AUTHBRIDGE_REDIS_URL": REDIS_URL, "AUTHBRIDGE_REDIS_PREFIX": prefix}
    cutoff = time.time()
    result = cli("revoke", "user", ISSUER, "u1", "--not-before", str(cutoff), env=env)
    assert result.code == 0, result.output
    assert "revoked user 'u1'" in result.stdout

    async def check() -> None:
        revocations = await _loaded(prefix)
        try:
            assert not revocations.allows(_principal("u1", None, cutoff - 60))
            assert revocations.allows(_principal("u1", None, cutoff + 60))
            assert revocations.allows(_principal("u2", None, cutoff - 60))
        finally:
            await revocations.aclose()

    asyncio.run(check())


def test_revoke_without_redis_is_a_usage_error(cli: CLI) -> None:
    result = cli("revoke", "session", ISSUER, "sid-1", "--json")
    assert result.code == 2
    assert "AUTHBRIDGE_REDIS_URL" in result.json()["message"]


def test_revoke_with_redis_down_is_invalid(cli: CLI, prefix: str) -> None:
    env = {"AUTHBRIDGE_REDIS_URL": "redis://127.0.0.1:1/0", "AUTHBRIDGE_REDIS_PREFIX": prefix}
    result = cli("revoke", "session", ISSUER, "sid-1", "--json", env=env)
    assert result.code == 1
    assert result.json()["revoked"] is False
