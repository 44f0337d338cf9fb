"""RemoteJWKS.get_key_sync (Verifier.verify_sync): the async path's key policy, in threads.

The same real local JWKS server and fake clock as test_remote.py; only the calls are
blocking. Single flight across threads is tested with a hanging server: every thread waits
for the one request under way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from jwks_server import FakeClock, IssuerKey, JWKSServer, ed25519_key

from authbridge.errors import KeysUnavailable, UnknownKey
from authbridge.keys.remote import RemoteJWKS


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def jwks(server: JWKSServer, clock: FakeClock) -> Iterator[RemoteJWKS]:
    source = RemoteJWKS(server.url, clock=clock, timeout=5.0)
    yield source
    source.close_sync()


def wait_for_background_refresh(jwks: RemoteJWKS) -> None:
    with jwks._sync_lock:  # the refresh thread holds it until its fetch has ended
        pass


def test_first_use_fetches_once_then_answers_from_memory(
    jwks: RemoteJWKS, server: JWKSServer
) -> None:
    assert jwks.get_key_sync("kid-a", "EdDSA").kid == "kid-a"
    for _ in range(100):
        jwks.get_key_sync("kid-a", "EdDSA")
    assert server.requests == 1


def test_threads_waiting_on_a_slow_issuer_share_one_request(
    jwks: RemoteJWKS, server: JWKSServer
) -> None:
    server.hang()
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(jwks.get_key_sync, "kid-a", "EdDSA") for _ in range(8)]
        server.recover()
        kids = [future.result(timeout=10).kid for future in futures]
    assert kids == ["kid-a"] * 8
    assert server.requests == 1


def test_past_the_ttl_a_known_kid_answers_at_once_and_refreshes_in_a_thread(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock
) -> None:
    jwks.get_key_sync("kid-a", "EdDSA")
    clock.advance(600)
    server.hang()  # the refresh cannot finish: the lookup must not wait for it
    try:
        assert jwks.get_key_sync("kid-a", "EdDSA").kid == "kid-a"
    finally:
        server.recover()
    wait_for_background_refresh(jwks)
    assert server.requests == 2
    assert jwks.last_fetch == clock.now


def test_unknown_kids_refetch_once_per_cooldown_and_a_rotated_key_verifies(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock, key_a: IssuerKey
) -> None:
    jwks.get_key_sync("kid-a", "EdDSA")
    for index in range(200):
        with pytest.raises(UnknownKey):
            jwks.get_key_sync(f"stranger-{index}", "EdDSA")
    assert server.requests == 2  # the first unknown kid refetched; the rest waited
    server.serve_keys(key_a, ed25519_key("kid-b"))
    clock.advance(30)
    assert jwks.get_key_sync("kid-b", "EdDSA").kid == "kid-b"
    assert server.requests == 3


def test_stale_if_error_and_no_keys_at_all(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock
) -> None:
    server.status = 503
    with pytest.raises(KeysUnavailable):
        jwks.get_key_sync("kid-a", "EdDSA")
    assert jwks.last_error == "HTTP 503"
    server.status = 200
    clock.advance(1)  # the first retry comes after 1 s
    jwks.get_key_sync("kid-a", "EdDSA")
    server.status = 503
    clock.advance(600 + 600 + 1)  # past the TTL and max_stale: the lookup waits for the fetch
    assert jwks.get_key_sync("kid-a", "EdDSA").kid == "kid-a"  # which fails: stale keys serve
    assert jwks.last_error == "HTTP 503"


def test_the_async_and_threaded_paths_share_one_cache(jwks: RemoteJWKS, server: JWKSServer) -> None:
    jwks.get_key_sync("kid-a", "EdDSA")
    assert asyncio.run(jwks.get_key("kid-a", "EdDSA")).kid == "kid-a"
    assert server.requests == 1


def test_a_kid_that_cannot_exist_never_fetches(jwks: RemoteJWKS, server: JWKSServer) -> None:
    for kid in (None, "", "k" * 10_000):
        with pytest.raises(UnknownKey):
            jwks.get_key_sync(kid, "EdDSA")
    assert server.requests == 0
