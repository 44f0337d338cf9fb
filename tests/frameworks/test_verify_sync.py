"""``Verifier.verify_sync``: the async verifier's policy for threads, one JWKS fetch for all."""

from __future__ import annotations

import asyncio
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from authbridge import Verifier
from authbridge.errors import InvalidSignature, TokenExpired, TokenRevoked, UnknownKey
from authbridge.revocation import RevocationList
from authbridge.testing import FakeIssuer
from authbridge.verifier.sync import SyncCallInEventLoop, _following_on_portal

THREADS = 8
PER_THREAD = 1_000


def test_threads_share_one_fetch_and_never_see_another_principal(
    online_issuer: FakeIssuer,
) -> None:
    verifier = Verifier.from_env()
    users = [online_issuer.make_user() for _ in range(THREADS)]
    # Fresh tokens: every one is a cache miss (a distinct jti), so each is fully verified.
    tokens = [
        [online_issuer.token(users[t], jti=f"{t}-{i}") for i in range(PER_THREAD)]
        for t in range(THREADS)
    ]
    start = threading.Barrier(THREADS)

    def run(index: int) -> list[str]:
        start.wait()  # all threads hit the empty key cache together
        return [verifier.verify_sync(token).sub for token in tokens[index]]

    with ThreadPoolExecutor(THREADS) as pool:
        seen = list(pool.map(run, range(THREADS)))

    assert online_issuer.server is not None
    assert online_issuer.server.requests == 1
    for index, subs in enumerate(seen):
        assert subs == [users[index]["id"]] * PER_THREAD
    assert len(verifier.cache) == THREADS * PER_THREAD


def test_same_strictness_as_verify(online_issuer: FakeIssuer) -> None:
    verifier = Verifier.from_env()
    expired = online_issuer.token(now=online_issuer.clock() - 3600)
    with pytest.raises(TokenExpired):
        verifier.verify_sync(expired)
    forged = FakeIssuer(online_issuer.base_url).token(header={"kid": "not-published"})
    with pytest.raises(UnknownKey):
        verifier.verify_sync(forged)
    good = online_issuer.token()
    head, payload, _ = good.split(".")
    other = online_issuer.token(sub="someone-else").split(".")[2]
    with pytest.raises(InvalidSignature):
        verifier.verify_sync(f"{head}.{payload}.{other}")
    assert verifier.verify_sync(good) == asyncio.run(verifier.verify(good))


def test_a_rotated_key_is_fetched_once(online_issuer: FakeIssuer) -> None:
    verifier = Verifier.from_env()
    assert verifier.verify_sync(online_issuer.token()).sub == online_issuer.user["id"]
    online_issuer.rotate()
    assert verifier.verify_sync(online_issuer.token()).sub == online_issuer.user["id"]
    assert online_issuer.server is not None
    assert online_issuer.server.requests == 2


def test_refused_inside_a_running_event_loop(online_issuer: FakeIssuer) -> None:
    verifier = Verifier.from_env()
    token = online_issuer.token()

    async def inside() -> None:
        verifier.verify_sync(token)

    with pytest.raises(SyncCallInEventLoop, match=r"await verifier\.verify"):
        asyncio.run(inside())
    assert online_issuer.server is not None
    assert online_issuer.server.requests == 0


def test_revocations_apply_to_verify_sync() -> None:
    issuer = FakeIssuer()
    revocations = RevocationList()
    verifier = issuer.verifier(revocations=revocations)
    token = issuer.token(now=issuer.clock() - 60)
    assert verifier.verify_sync(token).sub == issuer.user["id"]  # now cached
    asyncio.run(revocations.revoke_user(issuer.issuer, issuer.user["id"]))
    with pytest.raises(TokenRevoked):
        verifier.verify_sync(token)  # the cache hit is checked too


@pytest.mark.redis
def test_a_redis_revocation_list_starts_once_on_the_verifiers_loop() -> None:
    issuer = FakeIssuer()
    prefix = f"authbridge-test-{secrets.token_hex(6)}:"
    revocations = RevocationList("redis://127.0.0.1:6379/0", prefix=prefix)
    verifier = issuer.verifier(revocations=revocations)
    token = issuer.token(now=issuer.clock() - 60)
    for _ in range(3):
        assert verifier.verify_sync(token).sub == issuer.user["id"]
    assert _following_on_portal(verifier, revocations)  # started once, on the portal loop
    other = RevocationList("redis://127.0.0.1:6379/0", prefix=prefix)

    async def revoke_elsewhere() -> None:  # another instance revokes the user
        await other.start()
        await other.revoke_user(issuer.issuer, issuer.user["id"])
        await other.aclose()

    asyncio.run(revoke_elsewhere())
    pause = threading.Event()
    for _ in range(50):  # the follower applies the published revocation
        try:
            verifier.verify_sync(token)
        except TokenRevoked:
            break
        pause.wait(0.1)
    else:
        pytest.fail("the revocation published through Redis never reached verify_sync")
