"""Revocation shared across instances: sessions and per-user cutoffs, through the local Redis.

Each "instance" is a separate ``Verifier`` with its own ``RevocationList`` (and, in one test,
a separate OS process writes the revocation), as N API workers would be.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from scale_helpers import REDIS_URL, PrivateRedis

from authbridge import Verifier
from authbridge.config import load_settings
from authbridge.errors import ConfigError, TokenRevoked
from authbridge.fastapi import AuthBridge, CurrentUser
from authbridge.revocation import RevocationList, RevocationUnavailable
from authbridge.testing import FakeIssuer

pytestmark = pytest.mark.redis


async def eventually(check: Callable[[], bool], within: float) -> float:
    """Seconds until ``check()`` held; fails if it did not within ``within`` seconds."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(0.005)
    return time.monotonic() - start


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
async def instances(
    issuer: FakeIssuer, prefix: str, redis_client: Redis
) -> AsyncIterator[list[Verifier]]:
    """Two verifiers sharing one revocation list through Redis, started."""
    verifiers = [
        issuer.verifier(revocations=RevocationList(REDIS_URL, prefix=prefix)) for _ in range(2)
    ]
    for verifier in verifiers:
        await verifier.start()
    yield verifiers
    for verifier in verifiers:
        await verifier.aclose()


# --- in memory -------------------------------------------------------------------------------


async def test_revoked_session_is_refused_on_cache_hits_and_misses(issuer: FakeIssuer) -> None:
    revocations = RevocationList()
    verifier = issuer.verifier(revocations=revocations)
    revoked = issuer.token(sid="session-1")
    other = issuer.token(sid="session-2")
    assert (await verifier.verify(revoked)).session_id == "session-1"
    assert verifier.verify_cached(revoked) is not None  # cached now

    await revocations.revoke_session(issuer.issuer, "session-1")

    assert verifier.verify_cached(revoked) is None  # never a revoked principal
    with pytest.raises(TokenRevoked):
        await verifier.verify(revoked)
    assert (await verifier.verify(other)).session_id == "session-2"
    assert verifier.verify_cached(other) is not None


async def test_session_revocation_is_per_issuer(issuer: FakeIssuer) -> None:
    revocations = RevocationList()
    verifier = issuer.verifier(revocations=revocations)
    await revocations.revoke_session("https://other.example.test", "session-1")
    assert (await verifier.verify(issuer.token(sid="session-1"))).session_id == "session-1"


async def test_user_cutoff_refuses_older_tokens_only(issuer: FakeIssuer) -> None:
    revocations = RevocationList()
    verifier = issuer.verifier(revocations=revocations)
    now = time.time()
    old = issuer.token(now=now - 60)
    await verifier.verify(old)
    await revocations.revoke_user(issuer.issuer, issuer.user["id"], not_before=now - 10)

    assert verifier.verify_cached(old) is None
    with pytest.raises(TokenRevoked):
        await verifier.verify(old)
    fresh = issuer.token(now=now)
    assert (await verifier.verify(fresh)).sub == issuer.user["id"]
    someone_else = issuer.token(issuer.make_user(), now=now - 60)
    assert (await verifier.verify(someone_else)).sub != issuer.user["id"]


async def test_user_cutoff_refuses_a_token_without_iat(issuer: FakeIssuer) -> None:
    revocations = RevocationList()
    verifier = issuer.verifier(revocations=revocations, required_claims=["exp", "iss", "aud"])
    token = issuer.token(iat=None)
    await verifier.verify(token)
    await revocations.revoke_user(issuer.issuer, issuer.user["id"])
    with pytest.raises(TokenRevoked):
        await verifier.verify(token)


async def test_revoking_rejects_bad_ids() -> None:
    revocations = RevocationList()
    for issuer, ident in [("", "x"), ("https://a", ""), ("https://a", "x" * 513)]:
        with pytest.raises(ValueError):
            await revocations.revoke_session(issuer, ident)
    with pytest.raises(ValueError):
        await revocations.revoke_user("https://a", "u", not_before=float("nan"))


# --- shared through Redis --------------------------------------------------------------------


async def test_sign_out_everywhere_reaches_every_instance_within_a_second(
    issuer: FakeIssuer, instances: list[Verifier]
) -> None:
    first, second = instances
    token = issuer.token(sid="shared-session")
    for verifier in instances:
        await verifier.verify(token)
        assert verifier.verify_cached(token) is not None

    assert first.revocations is not None
    await first.revocations.revoke_session(issuer.issuer, "shared-session")

    assert first.verify_cached(token) is None  # the revoking instance: at once
    took = await eventually(lambda: second.verify_cached(token) is None, within=1.0)
    with pytest.raises(TokenRevoked):
        await second.verify(token)
    assert took < 1.0


async def test_user_cutoff_from_another_process_reaches_running_instances(
    issuer: FakeIssuer, instances: list[Verifier], prefix: str
) -> None:
    token = issuer.token(now=time.time() - 30)
    for verifier in instances:
        await verifier.verify(token)
    env = {**os.environ, "AUTHBRIDGE_REDIS_URL": REDIS_URL, "AUTHBRIDGE_REDIS_PREFIX": prefix}
    command = [str(Path(sys.executable).with_name("authbridge")), "revoke", "user", issuer.issuer]
    done = await asyncio.to_thread(
        subprocess.run,
        [*command, issuer.user["id"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for verifier in instances:
        await eventually(lambda v=verifier: v.verify_cached(token) is None, within=1.0)
        with pytest.raises(TokenRevoked):
            await verifier.verify(token)


async def test_a_new_instance_loads_earlier_revocations(
    issuer: FakeIssuer, instances: list[Verifier], prefix: str
) -> None:
    assert instances[0].revocations is not None
    await instances[0].revocations.revoke_session(issuer.issuer, "old-session")
    late = issuer.verifier(revocations=RevocationList(REDIS_URL, prefix=prefix))
    await late.start()
    try:
        with pytest.raises(TokenRevoked):
            await late.verify(issuer.token(sid="old-session"))
    finally:
        await late.aclose()


async def test_resync_drops_entries_past_retention_and_malformed_ones(
    issuer: FakeIssuer, prefix: str, redis_client: Redis
) -> None:
    key = f"{prefix}revoked:sessions"
    old = time.time() - 100
    await redis_client.hset(key, f'["{issuer.issuer}","expired"]', repr(old))
    await redis_client.hset(key, f'["{issuer.issuer}","kept"]', repr(time.time()))
    await redis_client.hset(key, "not json", "1")
    await redis_client.hset(key, f'["{issuer.issuer}","bad-time"]', "nan")
    revocations = RevocationList(REDIS_URL, prefix=prefix, retention=50)
    verifier = issuer.verifier(revocations=revocations)
    await verifier.start()
    try:
        await verifier.verify(issuer.token(sid="expired"))
        with pytest.raises(TokenRevoked):
            await verifier.verify(issuer.token(sid="kept"))
        assert set(await redis_client.hkeys(key)) == {f'["{issuer.issuer}","kept"]'}
    finally:
        await verifier.aclose()


async def test_malformed_messages_are_ignored(
    issuer: FakeIssuer, instances: list[Verifier], redis_client: Redis, prefix: str
) -> None:
    revocations = instances[0].revocations
    assert revocations is not None
    for junk in ["not json", "[]", '{"kind": "session"}', '{"kind":"x","iss":"a","id":"b","at":1}']:
        await redis_client.publish(revocations.channel, junk)
    message = f'{{"kind":"session","iss":"{issuer.issuer}","id":"via-channel","at":1e9}}'
    await redis_client.publish(revocations.channel, message)
    token = issuer.token(sid="via-channel")
    await eventually(lambda: instances[1].verify_cached(token) is None, within=1.0)
    assert (await instances[1].verify(issuer.token(sid="fine"))).session_id == "fine"


async def test_lazy_start_on_first_verification(
    issuer: FakeIssuer, prefix: str, redis_client: Redis
) -> None:
    writer = RevocationList(REDIS_URL, prefix=prefix)
    await writer.revoke_session(issuer.issuer, "s")
    await writer.aclose()
    verifier = issuer.verifier(revocations=RevocationList(REDIS_URL, prefix=prefix))
    try:
        with pytest.raises(TokenRevoked):
            await verifier.verify(issuer.token(sid="s"))  # no start(): loads on first use
    finally:
        await verifier.aclose()


# --- Redis failures --------------------------------------------------------------------------


async def test_fail_open_keeps_the_last_list_and_catches_up_after_the_outage(
    issuer: FakeIssuer, private_redis: PrivateRedis
) -> None:
    revocations = RevocationList(private_redis.url, prefix="p:", failure="open", timeout=0.2)
    verifier = issuer.verifier(revocations=revocations)
    await verifier.start()
    try:
        await revocations.revoke_session(issuer.issuer, "before-outage")
        private_redis.stop()
        await eventually(lambda: not revocations.current, within=10)
        # Auth stays up: known revocations still hold, other tokens pass.
        with pytest.raises(TokenRevoked):
            await verifier.verify(issuer.token(sid="before-outage"))
        assert (await verifier.verify(issuer.token(sid="fine"))).session_id == "fine"
        with pytest.raises(RevocationUnavailable):  # the admin hears it was not shared
            await RevocationList(private_redis.url, prefix="p:", timeout=0.2).revoke_session(
                issuer.issuer, "during-outage"
            )
        private_redis.start()  # empty: the fresh server lost everything
        writer = RevocationList(private_redis.url, prefix="p:")
        await writer.revoke_session(issuer.issuer, "after-outage")
        await writer.aclose()
        await eventually(lambda: revocations.current, within=10)
        with pytest.raises(TokenRevoked):
            await verifier.verify(issuer.token(sid="after-outage"))
    finally:
        await verifier.aclose()


async def test_fail_closed_answers_503_during_the_outage_and_recovers(
    issuer: FakeIssuer, private_redis: PrivateRedis
) -> None:
    revocations = RevocationList(private_redis.url, prefix="p:", failure="closed", timeout=0.2)
    bridge = AuthBridge(issuer.verifier(revocations=revocations))
    app = FastAPI()
    bridge.install(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    token = issuer.token(sid="s1")
    await bridge.startup()
    transport = httpx.ASGITransport(app=app)
    get: Callable[[], Awaitable[httpx.Response]]
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

        def get() -> Awaitable[httpx.Response]:
            return client.get("/me", headers={"Authorization": f"Bearer {token}"})

        try:
            assert (await get()).status_code == 200
            private_redis.stop()
            await eventually(lambda: not revocations.current, within=10)
            answer = await get()  # a cache hit, and still refused: the list may be stale
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "1"
            assert "code" in answer.json()
            private_redis.start()
            await eventually(lambda: revocations.current, within=10)
            assert (await get()).status_code == 200
            assert revocations.outages == 1
        finally:
            await bridge.shutdown()


async def test_fail_closed_refuses_until_redis_first_answers(issuer: FakeIssuer) -> None:
    nowhere = "redis://127.0.0.1:1/0"
    verifier = issuer.verifier(revocations=RevocationList(nowhere, failure="closed", timeout=0.1))
    await verifier.start()  # logged, not raised
    try:
        with pytest.raises(RevocationUnavailable) as caught:
            await verifier.verify(issuer.token())
        assert caught.value.status == 503
    finally:
        await verifier.aclose()
    open_verifier = issuer.verifier(revocations=RevocationList(nowhere, timeout=0.1))
    await open_verifier.start()
    try:
        assert (await open_verifier.verify(issuer.token())).sub == issuer.user["id"]
    finally:
        await open_verifier.aclose()


# --- settings --------------------------------------------------------------------------------


def test_settings_build_a_shared_list(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("AUTHBRIDGE_JWT_SECRET", secrets.token_urlsafe(48))
    monkeypatch.setenv("AUTHBRIDGE_JWT_ISSUER", "https://a.example.test")
    monkeypatch.setenv("AUTHBRIDGE_JWT_AUDIENCE", "https://a.example.test")
    monkeypatch.setenv("AUTHBRIDGE_REVOCATION", "true")
    with pytest.raises(ConfigError) as caught:
        Verifier.from_settings(load_settings())
    assert caught.value.variable == "AUTHBRIDGE_REVOCATION"
    monkeypatch.setenv("AUTHBRIDGE_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("AUTHBRIDGE_REDIS_FAILURE", "closed")
    verifier = Verifier.from_settings(load_settings())
    assert verifier.revocations is not None
    assert verifier.revocations.failure == "closed"
    monkeypatch.setenv("AUTHBRIDGE_REDIS_FAILURE", "sometimes")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert bad.value.variable == "AUTHBRIDGE_REDIS_FAILURE"
