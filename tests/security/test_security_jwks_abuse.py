"""Attack corpus, the issuer's JWKS endpoint: a random-kid flood (fetches counted), and a JWKS
that is down, answers 500, answers garbage, answers 5 MB, or hangs. Real HTTP on 127.0.0.1.

The verifier must stay bounded in requests, time and memory, and answer with its own errors
(``UnknownKey``; ``KeysUnavailable`` = 503 only while no good set was ever fetched).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from security_support import UvicornThread, refused, running_tasks_api, sqlite_settings

from authbridge import Verifier
from authbridge.errors import KeysUnavailable, UnknownKey
from authbridge.fastapi import AuthBridge
from authbridge.keys.remote import RemoteJWKS
from authbridge.verifier import TrustedIssuer
from keys.jwks_server import JWKSServer, running_jwks_server
from security.log_guard import watch_token
from tasks_api.app import create_app
from tokens import AUDIENCE, ISSUER, FixedClock, ba_claims, dumps, ed25519_key, jwks, sign_raw


class MovableClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _verifier(url: str, clock: Callable[[], float] = time.monotonic, **options: float) -> Verifier:
    source = RemoteJWKS(url, clock=clock, timeout=options.pop("timeout", 2.0), **options)
    return Verifier(
        TrustedIssuer.create(source, issuer=ISSUER, audience=AUDIENCE), clock=FixedClock()
    )


async def test_random_kid_flood_costs_at_most_one_extra_fetch_per_cooldown() -> None:
    real = ed25519_key("real")
    clock = MovableClock()
    with running_jwks_server() as server:
        server.document = jwks(real)
        verifier = _verifier(server.url, clock, cooldown=30)
        try:
            await verifier.start()
            assert server.requests == 1
            attacker = ed25519_key("x")
            tokens = [
                sign_raw(
                    dumps({"alg": "EdDSA", "kid": secrets.token_urlsafe(12)}),
                    dumps(ba_claims()),
                    attacker.private,
                    "EdDSA",
                )
                for _ in range(2000)
            ]
            started = time.perf_counter()
            errors = await asyncio.gather(*(refused(verifier, t) for t in tokens))
            elapsed = time.perf_counter() - started
            assert all(isinstance(e, UnknownKey) for e in errors)
            assert server.requests <= 2, server.requests
            # A second wave inside the cooldown costs nothing.
            await asyncio.gather(*(refused(verifier, t) for t in tokens[:500]))
            assert server.requests <= 2
            # After the cooldown, one more fetch at most, however large the wave.
            clock.now += 31
            await asyncio.gather(*(refused(verifier, t + "A") for t in tokens[:500]))
            assert server.requests <= 3
            assert elapsed < 10
            # The real key still works throughout.
            assert await verifier.verify(real.sign(ba_claims()))
        finally:
            await verifier.aclose()


def _closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/api/auth/jwks"


def _break(server: JWKSServer, how: str) -> None:
    if how == "500":
        server.status = 500
        server.body = b'{"error":"internal"}'
    elif how == "garbage-html":
        server.body = b"<html><body>Bad gateway</body></html>"
    elif how == "garbage-binary":
        server.body = bytes(range(256)) * 8
    elif how == "garbage-json-array":
        server.body = b'[{"keys":[]}]'
    elif how == "garbage-keys-string":
        server.body = b'{"keys":"eyJhbGciOiJub25lIn0"}'
    elif how == "garbage-bad-keys":
        server.body = b'{"keys":[{"kty":"OKP"},{"kid":[1]},{"kid":{"a":1}},1,null,"x"]}'
    elif how == "5MB":
        server.body = (
            b'{"keys":[' + b'{"kty":"OKP","crv":"Ed25519","x":"AAAA"},' * 120_000 + b"{}]}"
        )
    elif how == "5MB-no-length":
        server.endless = True
    elif how == "slow":
        server.delay = 5
    elif how == "gzip-bomb":  # ~50 KB on the wire, 50 MB inflated
        server.body = b'{"keys":[' + b" " * 50_000_000 + b"]}"
        server.encoding = "gzip"
    else:
        raise AssertionError(how)


OUTAGES = [
    "down",
    "500",
    "garbage-html",
    "garbage-binary",
    "garbage-json-array",
    "garbage-keys-string",
    "garbage-bad-keys",
    "5MB",
    "5MB-no-length",
    "slow",
    "gzip-bomb",
]


@pytest.mark.parametrize("how", OUTAGES)
async def test_a_broken_jwks_with_no_keys_yet_is_a_bounded_503(how: str) -> None:
    real = ed25519_key("real")
    token = real.sign(ba_claims())
    with running_jwks_server() as server:
        url = server.url
        if how == "down":
            url = _closed_port_url()
        else:
            _break(server, how)
        verifier = _verifier(url, timeout=1.0)
        started = time.perf_counter()
        try:
            await verifier.start()  # logged, not raised
            for _ in range(20):
                error = await refused(verifier, token)
                assert isinstance(error, KeysUnavailable), error
                assert error.status == 503
                assert error.retry_after >= 1
        finally:
            await verifier.aclose()
        # Failed fetches are rate-limited too: 21 attempts cost a couple of requests.
        assert server.requests <= 3
        assert time.perf_counter() - started < 6


@pytest.mark.parametrize("how", [h for h in OUTAGES if h != "down"])
async def test_a_jwks_that_breaks_later_keeps_serving_the_last_good_keys(how: str) -> None:
    real = ed25519_key("real")
    clock = MovableClock()
    with running_jwks_server() as server:
        server.document = jwks(real)
        verifier = _verifier(server.url, clock, timeout=1.0, ttl=60, min_ttl=60, cooldown=30)
        try:
            await verifier.start()
            _break(server, how)
            clock.now += 3600  # far past the TTL: a refetch is due, and fails
            for _ in range(5):
                assert (await verifier.verify(real.sign(ba_claims()))).sub
            # An unknown kid during the outage is still just an unknown kid.
            other = ed25519_key("other")
            assert isinstance(await refused(verifier, other.sign(ba_claims())), UnknownKey)
        finally:
            await verifier.aclose()
        assert server.requests <= 3


@pytest.mark.parametrize("bad_kid", [[1], {"a": 1}, ["real"]], ids=repr)
async def test_a_key_with_an_unhashable_kid_does_not_break_the_rest(bad_kid: object) -> None:
    """V32: one malformed entry (here a kid that is a JSON array or object) is dropped with a
    reason; the real key beside it still verifies."""
    real = ed25519_key("real")
    with running_jwks_server() as server:
        server.document = {"keys": [{**ed25519_key("x").jwk, "kid": bad_kid}, real.jwk]}
        verifier = _verifier(server.url)
        try:
            assert (await verifier.verify(real.sign(ba_claims()))).sub
        finally:
            await verifier.aclose()


# --- the same through HTTP, against the Tasks API ------------------------------------------


async def test_http_random_kid_flood_and_outage_answers(tmp_path: Path) -> None:
    """Over HTTP: a kid flood is 401s for one extra fetch at most; with the issuer down and no
    keys yet, a genuine token is a 503 with Retry-After (never a 500), a garbage one a 401."""
    real = ed25519_key("real")
    attacker = ed25519_key("x")
    with running_jwks_server() as server:
        server.document = jwks(real)
        verifier = Verifier(
            TrustedIssuer.create(
                RemoteJWKS(server.url, cooldown=3600, timeout=1.0), issuer=ISSUER, audience=AUDIENCE
            )
        )
        async with running_tasks_api(tmp_path / "up", verifier=verifier) as api:
            genuine = real.sign(ba_claims(now=time.time()))
            ok = await api.client.get("/api/me", headers={"Authorization": f"Bearer {genuine}"})
            assert ok.status_code == 200
            flood = [
                sign_raw(
                    dumps({"alg": "EdDSA", "kid": secrets.token_hex(8)}),
                    dumps(ba_claims(now=time.time())),
                    attacker.private,
                    "EdDSA",
                )
                for _ in range(300)
            ]
            answers = await asyncio.gather(
                *(
                    api.client.get("/api/tasks", headers={"Authorization": f"Bearer {t}"})
                    for t in flood
                )
            )
            assert {a.status_code for a in answers} == {401}
            assert server.requests <= 2

    down = Verifier(
        TrustedIssuer.create(
            RemoteJWKS(_closed_port_url(), timeout=1.0), issuer=ISSUER, audience=AUDIENCE
        )
    )
    async with running_tasks_api(tmp_path / "down", verifier=down) as api:
        token = real.sign(ba_claims(now=time.time()))
        unavailable = await api.client.get(
            "/api/tasks", headers={"Authorization": f"Bearer {token}"}
        )
        assert unavailable.status_code == 503
        assert int(unavailable.headers["retry-after"]) >= 1
        assert unavailable.json()["code"] == "keys_unavailable"
        garbage = await api.client.get("/api/tasks", headers={"Authorization": "Bearer a.b.c"})
        assert garbage.status_code == 401


async def test_unauthenticated_readiness_probes_cannot_drive_jwks_fetches(tmp_path: Path) -> None:
    """``/readyz`` needs no credentials. While the issuer fails, hammering it must not turn
    into one JWKS request per probe (an amplifier against the issuer)."""
    with running_jwks_server() as server:
        server.status = 500
        verifier = Verifier(
            TrustedIssuer.create(
                RemoteJWKS(server.url, timeout=1.0), issuer=ISSUER, audience=AUDIENCE
            )
        )
        async with running_tasks_api(tmp_path, verifier=verifier) as api:
            started = server.requests
            answers = [(await api.client.get("/readyz")).status_code for _ in range(50)]
            probes = server.requests - started
    assert set(answers) == {503}
    assert probes <= 5, f"{probes} JWKS requests for 50 unauthenticated probes"


async def test_a_jwks_that_hangs_past_its_ttl_delays_no_request_over_http(tmp_path: Path) -> None:
    """Issue 16 through a real socket (uvicorn, the Tasks API, the real ``AuthBridge``): the
    JWKS answers once with ``max-age=1``, then hangs. Past the TTL, fresh tokens are verified
    with the cached keys while one background refresh waits out the 5 s timeout. Before the
    fix every request of a burst waited for it (30 of 30 at p50 5,016 ms)."""
    real = ed25519_key("real")
    with running_jwks_server() as server:
        server.document = jwks(real)
        server.headers = {"Cache-Control": "max-age=1"}
        verifier = Verifier(
            TrustedIssuer.create(
                RemoteJWKS(server.url, min_ttl=1, timeout=5.0), issuer=ISSUER, audience=AUDIENCE
            )
        )
        app = create_app(sqlite_settings(tmp_path), bridge=AuthBridge(verifier))
        with UvicornThread(app) as origin:
            async with httpx.AsyncClient(base_url=origin, timeout=30) as client:

                async def fresh_token_round_trip(i: int) -> float:
                    token = watch_token(real.sign(ba_claims(time.time(), name=f"user {i}")))
                    started = time.perf_counter()
                    answer = await client.get(
                        "/api/me", headers={"Authorization": f"Bearer {token}"}
                    )
                    elapsed = time.perf_counter() - started
                    assert answer.status_code == 200, answer.text
                    return elapsed

                await fresh_token_round_trip(-1)  # the keys were prefetched at startup
                server.hang()
                await asyncio.sleep(1.05)  # past max-age
                burst = await asyncio.gather(*(fresh_token_round_trip(i) for i in range(30)))
                one_by_one = [await fresh_token_round_trip(30 + i) for i in range(30)]
            stopping = time.perf_counter()
        # uvicorn's shutdown closed the verifier, which cancelled the refresh still hanging.
        stopped_in = time.perf_counter() - stopping
    print(
        f"HTTP, issuer hanging: burst of 30 p50 {statistics.median(burst) * 1000:.1f} ms, "
        f"max {max(burst) * 1000:.1f} ms; one by one p50 "
        f"{statistics.median(one_by_one) * 1000:.1f} ms, max {max(one_by_one) * 1000:.1f} ms"
    )
    assert max(one_by_one) < 0.1, [round(t * 1000, 1) for t in one_by_one]
    # 30 requests at once queue on one worker; what matters is that none of them waited for
    # the issuer: each answered far below the 5 s fetch timeout.
    assert max(burst) < 1.0, [round(t * 1000, 1) for t in burst]
    assert server.requests == 2  # the prefetch and one refresh, which was still hanging
    assert stopped_in < 4.0  # not the rest of the 5 s timeout
