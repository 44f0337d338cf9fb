"""RemoteJWKS caching against a real local JWKS server: TTL, rotation, floods, single flight.

Time is an injected fake clock, so TTLs and cooldowns are crossed without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator

import pytest
from jwks_server import FakeClock, IssuerKey, JWKSServer, ec_p256_key, ed25519_key

from authbridge.errors import UnknownKey
from authbridge.jose.b64 import b64url_decode
from authbridge.jose.sign import sign_compact
from authbridge.keys.jwk import VerificationKey
from authbridge.keys.remote import RemoteJWKS


@pytest.fixture
def key_b() -> IssuerKey:
    return ed25519_key("kid-b")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
async def jwks(server: JWKSServer, clock: FakeClock) -> AsyncIterator[RemoteJWKS]:
    source = RemoteJWKS(server.url, clock=clock)
    yield source
    await source.aclose()


def verifies(key: VerificationKey, signer: IssuerKey) -> bool:
    """Sign a token with the issuer's private key and check it with the fetched public key."""
    token = sign_compact({"sub": "user-1"}, signer.private, signer.alg, kid=signer.kid)
    head, payload, signature = token.split(".")
    return key.algorithm.verify(key.key, f"{head}.{payload}".encode(), b64url_decode(signature))


async def test_first_fetch_serves_the_issuers_keys(
    jwks: RemoteJWKS, server: JWKSServer, key_a: IssuerKey
) -> None:
    await jwks.start()
    key = await jwks.get_key("kid-a", "EdDSA")
    assert key.alg == "EdDSA"
    assert verifies(key, key_a)
    assert jwks.cached_key("kid-a", "EdDSA") is key
    assert server.requests == 1
    assert jwks.fetch_count == 1
    assert jwks.last_error is None
    assert set(jwks.keys) == {"kid-a"}
    assert jwks.algorithms == frozenset({"EdDSA"})


async def test_keys_load_lazily_without_start(jwks: RemoteJWKS, server: JWKSServer) -> None:
    assert jwks.cached_key("kid-a", "EdDSA") is None
    key = await jwks.get_key("kid-a", "EdDSA")
    assert key.kid == "kid-a"
    assert server.requests == 1


async def test_a_key_of_another_algorithm_is_returned_for_the_verifier_to_refuse(
    jwks: RemoteJWKS,
) -> None:
    # Lookup is by kid alone; the key stays bound to its own algorithm.
    key = await jwks.get_key("kid-a", "RS256")
    assert key.alg == "EdDSA"


async def test_v29_ttl_expiry_refetches(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock
) -> None:
    await jwks.start()
    clock.advance(599)
    assert jwks.cached_key("kid-a", "EdDSA") is not None
    await jwks.get_key("kid-a", "EdDSA")
    assert server.requests == 1
    clock.advance(1)
    assert jwks.cached_key("kid-a", "EdDSA") is None  # past its TTL: the fast path declines
    assert (await jwks.get_key("kid-a", "EdDSA")).kid == "kid-a"  # the stale set, at once
    assert server.requests == 1  # get_key did not wait: the refresh runs in the background
    assert await jwks.wait_for_fetch() is True
    assert server.requests == 2
    assert jwks.last_fetch == clock.now
    assert jwks.cached_key("kid-a", "EdDSA") is not None


@pytest.mark.parametrize(
    ("cache_control", "expected_ttl"),
    [
        ("max-age=120", 120),
        ("public, max-age=900, must-revalidate", 900),
        ('max-age="300"', 300),
        ("max-age=5", 60),  # below min_ttl
        ("max-age=0", 60),
        ("max-age=999999", 3600),  # above max_ttl
        ("max-age=99999999999999999999999", 3600),
        ("no-store", 60),
        ("no-cache", 60),
        ("max-age=-5", 600),  # not a number: the default
        ("private", 600),
    ],
)
async def test_cache_control_sets_the_ttl_within_bounds(
    server: JWKSServer, clock: FakeClock, cache_control: str, expected_ttl: float
) -> None:
    server.headers = {"Cache-Control": cache_control}
    source = RemoteJWKS(server.url, clock=clock)
    try:
        await source.start()
        assert source.expires_at == clock.now + expected_ttl
        clock.advance(expected_ttl - 1)
        await source.get_key("kid-a", "EdDSA")
        assert server.requests == 1
        clock.advance(1)
        await source.get_key("kid-a", "EdDSA")  # starts the background refresh
        assert await source.wait_for_fetch() is True
        assert server.requests == 2
    finally:
        await source.aclose()


async def test_custom_ttl_bounds_apply(server: JWKSServer, clock: FakeClock) -> None:
    server.headers = {"Cache-Control": "max-age=10"}
    source = RemoteJWKS(server.url, clock=clock, min_ttl=5, max_ttl=20, ttl=15)
    try:
        await source.start()
        assert source.expires_at == clock.now + 10
    finally:
        await source.aclose()


async def test_v31_rotation_new_kid_verifies_on_the_first_miss_then_cooldown_applies(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock, key_a: IssuerKey, key_b: IssuerKey
) -> None:
    await jwks.start()
    server.serve_keys(key_a, key_b)  # the issuer rotates in key B

    key = await jwks.get_key("kid-b", "EdDSA")  # the very next token after rotation
    assert verifies(key, key_b)
    assert server.requests == 2

    key_c = ec_p256_key("kid-c")
    server.serve_keys(key_a, key_b, key_c)
    clock.advance(29)
    with pytest.raises(UnknownKey):
        await jwks.get_key("kid-c", "ES256")  # second unknown kid within the cooldown
    assert server.requests == 2

    clock.advance(1)  # the cooldown since the unknown-kid fetch has passed
    key = await jwks.get_key("kid-c", "ES256")
    assert verifies(key, key_c)
    assert server.requests == 3


async def test_a_routine_fetch_rearms_the_immediate_refetch(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock, key_a: IssuerKey, key_b: IssuerKey
) -> None:
    await jwks.start()
    with pytest.raises(UnknownKey):
        await jwks.get_key("stranger", "EdDSA")  # spends the immediate refetch
    assert server.requests == 2
    clock.advance(600)  # TTL: a routine fetch, in the background
    await jwks.get_key("kid-a", "EdDSA")
    assert await jwks.wait_for_fetch() is True
    assert server.requests == 3
    server.serve_keys(key_a, key_b)
    key = await jwks.get_key("kid-b", "EdDSA")  # within the old cooldown, yet refetched
    assert verifies(key, key_b)
    assert server.requests == 4


async def test_v29_unknown_kid_is_negatively_cached_for_the_cooldown(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock, key_a: IssuerKey, key_b: IssuerKey
) -> None:
    await jwks.start()
    for _ in range(100):
        with pytest.raises(UnknownKey):
            await jwks.get_key("kid-b", "EdDSA")
    assert server.requests == 2
    server.serve_keys(key_a, key_b)
    clock.advance(600)  # a routine fetch happens and now lists kid-b
    assert verifies(await jwks.get_key("kid-b", "EdDSA"), key_b)
    assert server.requests == 3


async def test_a_known_bad_kid_does_not_spend_the_rearmed_refetch(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock, key_a: IssuerKey, key_b: IssuerKey
) -> None:
    await jwks.start()
    with pytest.raises(UnknownKey):
        await jwks.get_key("replayed-bad-kid", "EdDSA")
    assert server.requests == 2
    clock.advance(5)
    assert await jwks.refresh(reason="operator")  # a routine fetch re-arms the refetch
    assert server.requests == 3
    with pytest.raises(UnknownKey):
        await jwks.get_key("replayed-bad-kid", "EdDSA")  # remembered: no I/O
    assert server.requests == 3
    server.serve_keys(key_a, key_b)
    assert verifies(await jwks.get_key("kid-b", "EdDSA"), key_b)  # the re-armed refetch
    assert server.requests == 4


async def test_v29_a_flood_of_random_kids_costs_at_most_two_fetches(
    jwks: RemoteJWKS, server: JWKSServer
) -> None:
    for _ in range(1000):
        with pytest.raises(UnknownKey):
            await jwks.get_key(secrets.token_urlsafe(16), "EdDSA")
    assert server.requests <= 2
    assert jwks.fetch_count == server.requests
    assert (await jwks.get_key("kid-a", "EdDSA")).kid == "kid-a"
    assert server.requests <= 2


async def test_a_flood_after_start_costs_one_extra_fetch_per_cooldown(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock
) -> None:
    await jwks.start()
    for _ in range(500):
        with pytest.raises(UnknownKey):
            await jwks.get_key(secrets.token_hex(8), "EdDSA")
    assert server.requests == 2
    clock.advance(30)
    for _ in range(500):
        with pytest.raises(UnknownKey):
            await jwks.get_key(secrets.token_hex(8), "EdDSA")
    assert server.requests == 3


async def test_v29_concurrent_misses_share_one_request(
    jwks: RemoteJWKS, server: JWKSServer, key_a: IssuerKey, key_b: IssuerKey
) -> None:
    await jwks.start()
    server.serve_keys(key_a, key_b)
    server.delay = 0.2  # keep the request in flight while all 50 arrive
    keys = await asyncio.gather(*(jwks.get_key("kid-b", "EdDSA") for _ in range(50)))
    assert {key.kid for key in keys} == {"kid-b"}
    assert server.requests == 2


async def test_concurrent_unknown_kids_share_one_request(
    jwks: RemoteJWKS, server: JWKSServer
) -> None:
    await jwks.start()
    server.delay = 0.2
    results = await asyncio.gather(
        *(jwks.get_key(f"nobody-{i}", "EdDSA") for i in range(50)), return_exceptions=True
    )
    assert all(isinstance(result, UnknownKey) for result in results)
    assert server.requests == 2


async def test_concurrent_first_use_shares_one_request(
    jwks: RemoteJWKS, server: JWKSServer
) -> None:
    server.delay = 0.2
    keys = await asyncio.gather(*(jwks.get_key("kid-a", "EdDSA") for _ in range(50)))
    assert len(keys) == 50
    assert server.requests == 1


async def test_a_cancelled_caller_does_not_cancel_the_shared_fetch(
    jwks: RemoteJWKS, server: JWKSServer
) -> None:
    server.delay = 0.3
    first = asyncio.create_task(jwks.get_key("kid-a", "EdDSA"))
    second = asyncio.create_task(jwks.get_key("kid-a", "EdDSA"))
    await asyncio.sleep(0.05)
    first.cancel()
    key = await second
    assert key.kid == "kid-a"
    assert first.cancelled()
    assert server.requests == 1


async def test_kids_that_cannot_exist_never_cause_a_fetch(
    jwks: RemoteJWKS, server: JWKSServer
) -> None:
    await jwks.start()
    for kid in (None, "", "k" * 257):
        with pytest.raises(UnknownKey):
            await jwks.get_key(kid, "EdDSA")
    with pytest.raises(UnknownKey):
        await jwks.get_key(123, "EdDSA")  # type: ignore[arg-type]
    assert server.requests == 1


async def test_v31_listeners_hear_of_removed_and_replaced_kids(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock, key_a: IssuerKey, key_b: IssuerKey
) -> None:
    heard: list[frozenset[str]] = []
    jwks.on_keys_removed(heard.append)
    server.serve_keys(key_a, key_b)
    await jwks.start()
    assert heard == []  # the first set removes nothing

    server.serve_keys(key_b)
    clock.advance(600)
    await jwks.get_key("kid-b", "EdDSA")  # starts the background refresh
    assert await jwks.wait_for_fetch() is True
    assert heard == [frozenset({"kid-a"})]
    with pytest.raises(UnknownKey):
        await jwks.get_key("kid-a", "EdDSA")  # a removed key stops verifying

    impostor = ed25519_key("kid-b")  # same kid, different key material
    server.serve_keys(impostor)
    clock.advance(600)
    assert verifies(await jwks.get_key("kid-b", "EdDSA"), key_b)  # stale until the refresh
    assert await jwks.wait_for_fetch() is True
    assert verifies(await jwks.get_key("kid-b", "EdDSA"), impostor)
    assert heard == [frozenset({"kid-a"}), frozenset({"kid-b"})]


async def test_a_failing_listener_does_not_break_refresh(
    jwks: RemoteJWKS, server: JWKSServer, clock: FakeClock, key_b: IssuerKey
) -> None:
    heard: list[frozenset[str]] = []

    def broken(_: frozenset[str]) -> None:
        raise RuntimeError("listener bug")

    jwks.on_keys_removed(broken)
    jwks.on_keys_removed(heard.append)
    await jwks.start()
    server.serve_keys(key_b)
    assert await jwks.refresh(reason="test")
    assert heard == [frozenset({"kid-a"})]
    assert set(jwks.keys) == {"kid-b"}


async def test_a_bad_key_is_reported_and_the_others_still_work(
    jwks: RemoteJWKS, server: JWKSServer, key_a: IssuerKey, caplog: pytest.LogCaptureFixture
) -> None:
    private_member = {**ed25519_key("kid-private").jwk, "d": "AAAA"}
    server.document = {"keys": [key_a.jwk, private_member, {"kty": "oct", "k": "c2VjcmV0"}]}
    with caplog.at_level(logging.WARNING, logger="authbridge.keys"):
        await jwks.start()
    assert set(jwks.keys) == {"kid-a"}
    assert {problem.kid for problem in jwks.problems} == {"kid-private", None}
    assert "kid-private" in caplog.text
    assert "AAAA" not in caplog.text
    assert "c2VjcmV0" not in caplog.text


async def test_hostile_kids_are_logged_escaped_and_truncated(
    jwks: RemoteJWKS, caplog: pytest.LogCaptureFixture
) -> None:
    await jwks.start()
    hostile = "evil\nFAKE LOG LINE\u202e" + "x" * 200
    with caplog.at_level(logging.DEBUG, logger="authbridge.keys"), pytest.raises(UnknownKey):
        await jwks.get_key(hostile, "EdDSA")
    assert "unknown kid" in caplog.text
    assert "\nFAKE LOG LINE" not in caplog.text
    assert "\u202e" not in caplog.text
    assert "x" * 100 not in caplog.text


async def test_aclose_closes_only_a_client_it_created(server: JWKSServer) -> None:
    import httpx

    own = RemoteJWKS(server.url)
    await own.start()
    client = own._client
    assert client is not None
    await own.aclose()
    assert client.is_closed

    async with httpx.AsyncClient() as shared:
        borrowed = RemoteJWKS(server.url, client=shared)
        await borrowed.start()
        await borrowed.aclose()
        assert not shared.is_closed
        assert (await shared.get(server.url)).status_code == 200


async def test_real_clock_end_to_end(server: JWKSServer, key_a: IssuerKey) -> None:
    source = RemoteJWKS(server.url, ttl=60, cooldown=30)
    try:
        await source.start()
        assert verifies(await source.get_key("kid-a", "EdDSA"), key_a)
        assert source.last_fetch is not None
        assert source.expires_at - source.last_fetch == pytest.approx(60)  # float clock
    finally:
        await source.aclose()
