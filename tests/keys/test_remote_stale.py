"""RemoteJWKS past its TTL: a kid in the cached set is answered at once while one background
refresh runs (stale-while-revalidate); only unknown kids, and a set unchecked for longer than
``max_stale``, wait for the issuer. Real local JWKS server that can hang (issue 16)."""

from __future__ import annotations

import asyncio
import gc
import logging
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from jwks_server import FakeClock, IssuerKey, JWKSServer, ed25519_key, running_jwks_server

from authbridge import Verifier
from authbridge.errors import UnknownKey
from authbridge.keys.remote import RemoteJWKS
from authbridge.verifier import TrustedIssuer
from tokens import AUDIENCE, ISSUER, USER_ID, ba_claims, jwks
from tokens import ed25519_key as signing_key

# The one latency bound issue 16 demands. A known kid is answered from memory in
# microseconds; 100 ms leaves room for a loaded machine, and is 10-50 times below the fetch
# timeouts used here, so a lookup that waited for the hanging issuer cannot pass.
# A known kid that waited for a hanging fetch would wait out its timeout (0.3 s at the
# shortest here); 0.2 s leaves a loaded machine room for scheduling delays and still tells.
KNOWN_KID_BOUND = 0.2


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def key_b() -> IssuerKey:
    return ed25519_key("kid-b")


@pytest.fixture
def asyncio_errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """What asyncio itself reports: "Task was destroyed but it is pending!", "Task exception
    was never retrieved"... Collected after a garbage collection at the end of the test."""
    records: list[logging.LogRecord] = []
    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        yield records
        gc.collect()
        records.extend(r for r in caplog.records if r.name == "asyncio" and r.levelno >= 40)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a condition another thread makes true (a request reaching the server)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def source(server: JWKSServer, clock: FakeClock) -> AsyncIterator[RemoteJWKS]:
    jwks_source = RemoteJWKS(server.url, clock=clock, timeout=0.3)
    yield jwks_source
    await jwks_source.aclose()


# --- the defect: a hanging issuer past a one-second max-age, real time ----------------------


async def test_a_hanging_issuer_never_delays_a_known_kid(
    asyncio_errors: list[logging.LogRecord],
) -> None:
    signer = signing_key("kid-1")
    with running_jwks_server() as server:
        server.document = jwks(signer)
        server.headers = {"Cache-Control": "max-age=1"}
        source = RemoteJWKS(server.url, min_ttl=1, timeout=1.0, cooldown=30)
        verifier = Verifier(TrustedIssuer.create(source, issuer=ISSUER, audience=AUDIENCE))
        try:
            await verifier.start()
            server.hang()  # every request from now on is held without an answer
            await asyncio.sleep(1.05)  # past max-age: the cached set is stale
            latencies = []
            for i in range(30):
                # A fresh token each time: never in the verified-token cache.
                token = signer.sign(ba_claims(time.time(), name=f"user {i}"))
                started = time.perf_counter()
                principal = await verifier.verify(token)
                latencies.append(time.perf_counter() - started)
                assert principal.sub == USER_ID
                assert server.requests <= 2, "more than one refresh at a time"
                await asyncio.sleep(0.05)  # 30 x 50 ms: the refresh times out midway
            await source.wait_for_fetch()  # in case a loaded machine made it end late
        finally:
            await verifier.aclose()
    p50, worst = statistics.median(latencies), max(latencies)
    print(f"known kid, issuer hanging: p50 {p50 * 1000:.3f} ms, max {worst * 1000:.3f} ms")
    assert worst < KNOWN_KID_BOUND, [round(t * 1000, 1) for t in latencies]
    assert server.requests == 2  # the prefetch and one refresh; then the cooldown holds
    assert source.last_error == "no answer within 1 s"
    assert asyncio_errors == []


async def test_an_unknown_kid_still_waits_and_is_bounded_by_the_timeout() -> None:
    signer = signing_key("kid-1")
    with running_jwks_server() as server:
        server.document = jwks(signer)
        server.headers = {"Cache-Control": "max-age=1"}
        source = RemoteJWKS(server.url, min_ttl=1, timeout=0.5, cooldown=30)
        try:
            await source.start()
            server.hang()
            await asyncio.sleep(1.05)
            assert (await source.get_key("kid-1", "EdDSA")).kid == "kid-1"  # starts the refresh

            async def unknown() -> float:
                started = time.perf_counter()
                with pytest.raises(UnknownKey):
                    await source.get_key("kid-2", "EdDSA")
                return time.perf_counter() - started

            async def known() -> list[float]:
                latencies = []
                for _ in range(10):
                    started = time.perf_counter()
                    assert (await source.get_key("kid-1", "EdDSA")).kid == "kid-1"
                    latencies.append(time.perf_counter() - started)
                    await asyncio.sleep(0.02)
                return latencies

            waited, latencies = await asyncio.gather(unknown(), known())
            # The unknown kid joined the refresh under way and gave up with it: no second
            # request, and no longer than the timeout (plus room for a loaded machine).
            assert waited < 0.5 + 2.0
            assert source.last_error == "no answer within 0.5 s"
            assert max(latencies) < KNOWN_KID_BOUND  # while the unknown kid waited
            started = time.perf_counter()
            with pytest.raises(UnknownKey):  # within the cooldown: no fetch, no wait
                await source.get_key("kid-3", "EdDSA")
            assert time.perf_counter() - started < KNOWN_KID_BOUND
            assert server.requests == 2
        finally:
            await source.aclose()


# --- the rules, on a fake clock --------------------------------------------------------------


async def test_concurrent_lookups_past_the_ttl_start_one_refresh(
    source: RemoteJWKS, server: JWKSServer, clock: FakeClock
) -> None:
    await source.start()
    clock.advance(600)
    keys = await asyncio.gather(*(source.get_key("kid-a", "EdDSA") for _ in range(50)))
    assert {key.kid for key in keys} == {"kid-a"}
    assert server.requests == 1  # none of them waited for it
    assert await source.wait_for_fetch() is True
    assert server.requests == 2


async def test_a_removed_key_stops_verifying_once_the_issuer_answers_again(
    source: RemoteJWKS,
    server: JWKSServer,
    clock: FakeClock,
    key_b: IssuerKey,
    asyncio_errors: list[logging.LogRecord],
) -> None:
    heard: list[frozenset[str]] = []
    source.on_keys_removed(heard.append)
    await source.start()
    server.hang()
    server.serve_keys(key_b)  # kid-a revoked, kid-b rotated in, while the issuer hangs
    clock.advance(600)
    assert (await source.get_key("kid-a", "EdDSA")).kid == "kid-a"  # stale, at once
    assert await source.wait_for_fetch() is False  # the refresh timed out
    assert source.last_error == "no answer within 0.3 s"
    clock.advance(29)
    assert (await source.get_key("kid-a", "EdDSA")).kid == "kid-a"  # cooldown: no new fetch
    assert await source.wait_for_fetch() is None
    assert server.requests == 2

    server.recover()
    clock.advance(1)
    assert (await source.get_key("kid-a", "EdDSA")).kid == "kid-a"  # starts the refresh
    assert await source.wait_for_fetch() is True
    with pytest.raises(UnknownKey):
        await source.get_key("kid-a", "EdDSA")
    assert heard == [frozenset({"kid-a"})]  # verified tokens of kid-a are evicted
    assert (await source.get_key("kid-b", "EdDSA")).kid == "kid-b"
    # kid-a, unknown now, spent the immediate refetch the routine refresh re-armed (V31).
    assert server.requests == 4
    assert asyncio_errors == []


@pytest.mark.parametrize(
    ("idle", "answered_at_once"),
    [(600 + 599, True), (600 + 600, False)],
    ids=["within-max-stale", "past-max-stale"],
)
async def test_past_max_stale_a_known_kid_waits_so_a_revoked_key_is_refused(
    server: JWKSServer,
    clock: FakeClock,
    key_b: IssuerKey,
    idle: float,
    answered_at_once: bool,
) -> None:
    source = RemoteJWKS(server.url, clock=clock, max_stale=600)
    try:
        await source.start()
        server.serve_keys(key_b)  # kid-a revoked while the service sat idle
        clock.advance(idle)
        if answered_at_once:
            assert (await source.get_key("kid-a", "EdDSA")).kid == "kid-a"
            assert server.requests == 1
            assert await source.wait_for_fetch() is True
            with pytest.raises(UnknownKey):  # after one more, immediate, unknown-kid refetch
                await source.get_key("kid-a", "EdDSA")
            assert server.requests == 3
        else:  # they all waited for the one refetch that dropped kid-a
            lookups = [source.get_key("kid-a", "EdDSA") for _ in range(10)]
            results = await asyncio.gather(*lookups, return_exceptions=True)
            assert all(isinstance(result, UnknownKey) for result in results), results
            assert server.requests == 2
    finally:
        await source.aclose()


async def test_past_max_stale_a_hanging_issuer_delays_only_the_lookups_of_one_fetch(
    server: JWKSServer, clock: FakeClock
) -> None:
    source = RemoteJWKS(server.url, clock=clock, timeout=0.3, max_stale=600)
    try:
        await source.start()
        server.hang()
        clock.advance(600 + 600)
        # These lookups waited for the refetch (its failure is recorded), then got the stale key.
        keys = await asyncio.gather(*(source.get_key("kid-a", "EdDSA") for _ in range(10)))
        assert {key.kid for key in keys} == {"kid-a"}
        assert source.last_error == "no answer within 0.3 s"
        assert await source.wait_for_fetch() is None
        assert server.requests == 2
        clock.advance(30)  # the cooldown has passed; the last fetch failed 30 s ago
        for _ in range(20):
            started = time.perf_counter()
            assert (await source.get_key("kid-a", "EdDSA")).kid == "kid-a"
            assert time.perf_counter() - started < KNOWN_KID_BOUND
        assert await source.wait_for_fetch() is False  # the one background refresh
        assert server.requests == 3
    finally:
        await source.aclose()


async def test_aclose_cancels_a_pending_background_refresh(
    server: JWKSServer, clock: FakeClock, asyncio_errors: list[logging.LogRecord]
) -> None:
    source = RemoteJWKS(server.url, clock=clock, timeout=30)
    await source.start()
    server.hang()
    clock.advance(600)
    assert (await source.get_key("kid-a", "EdDSA")).kid == "kid-a"
    await until(lambda: server.requests == 2, "the refresh to reach the issuer")
    started = time.perf_counter()
    await source.aclose()
    assert time.perf_counter() - started < 5  # cancelled, not waited out (30 s)
    assert await source.wait_for_fetch() is None
    assert source.last_error is None  # a cancelled refresh is no failure of the issuer
    assert asyncio_errors == []


async def test_an_unexpected_error_in_the_background_refresh_is_recorded_not_lost(
    source: RemoteJWKS,
    server: JWKSServer,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    asyncio_errors: list[logging.LogRecord],
) -> None:
    await source.start()

    def broken(*args: object) -> None:
        raise RuntimeError("a bug while storing the set")

    monkeypatch.setattr(source, "_store", broken)
    clock.advance(600)
    with caplog.at_level(logging.WARNING, logger="authbridge.keys"):
        assert (await source.get_key("kid-a", "EdDSA")).kid == "kid-a"
        assert await source.wait_for_fetch() is False
    assert source.last_error == "unexpected RuntimeError"
    assert "still serving 1 cached keys" in caplog.text
    for _ in range(10):  # rate-limited like any failure: no refresh per lookup
        assert (await source.get_key("kid-a", "EdDSA")).kid == "kid-a"
    assert await source.wait_for_fetch() is None
    assert server.requests == 2
    assert asyncio_errors == []
