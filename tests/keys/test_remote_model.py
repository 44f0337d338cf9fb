"""Property test: random rotations, outages, clock jumps and lookups against a real server.

After every step the cache must agree with a simple oracle:

* a kid in the cached set is answered at once, from that set, while the set is within its TTL
  or less than ``MAX_STALE`` past it (counted from the later of its expiry and the last failed
  request); the background refresh such a lookup may start lands before the next step;
* otherwise ``get_key(kid)`` succeeds exactly when ``kid`` is in the set of the last successful
  fetch, counting the one this lookup made (stale keys are never evicted; removed keys stop
  working once a fetch succeeds), and raises ``KeysUnavailable`` only while no fetch ever
  succeeded;
* a key the issuer has published for a whole cooldown, while it was up, always verifies (V31);
* once keys exist, no three requests fall within one cooldown (rate limit, V29): one routine
  fetch plus the one immediate refetch an unknown kid may cause.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jwks_server import IssuerKey, JWKSServer, ed25519_key, running_jwks_server

from authbridge.errors import KeysUnavailable, UnknownKey
from authbridge.keys.remote import RemoteJWKS

COOLDOWN = 30.0
TTL = 600.0  # the server sends no Cache-Control
MAX_STALE = 300.0
KEY_POOL = [ed25519_key(f"kid-{i}") for i in range(8)]


@dataclass
class Advance:
    seconds: float


@dataclass
class Publish:
    index: int  # into KEY_POOL


@dataclass
class Withdraw:
    index: int


@dataclass
class Outage:
    down: bool


@dataclass
class Lookup:
    index: int  # into KEY_POOL, or -1 for a kid that never exists


Step = Advance | Publish | Withdraw | Outage | Lookup

advances = st.builds(
    Advance, st.sampled_from([0.0, 1.0, 5.0, 29.0, 30.0, 31.0, 59.0, 61.0, 600.0, 600.0])
)
lookups = st.builds(Lookup, st.integers(-1, len(KEY_POOL) - 1))
steps = st.one_of(
    advances,
    advances,
    st.builds(Publish, st.integers(0, len(KEY_POOL) - 1)),
    st.builds(Withdraw, st.integers(0, len(KEY_POOL) - 1)),
    st.builds(Outage, st.booleans()),
    lookups,
    lookups,
    lookups,
)


@dataclass
class World:
    """What the issuer did, tracked independently of the code under test."""

    now: float = 0.0
    published: dict[str, float] = field(default_factory=dict)  # kid -> since
    up_since: float | None = 0.0  # None while down
    last_good: set[str] | None = None  # kids of the last successful fetch
    expires: float = float("-inf")  # TTL end of the last successful fetch
    last_failure: float = float("-inf")  # the last request made while the issuer was down
    request_times: list[float] = field(default_factory=list)
    first_good_request: int = 0

    def clock(self) -> float:
        return self.now


async def run(scenario: list[Step], server: JWKSServer) -> None:
    world = World()
    first = KEY_POOL[0]
    world.published[first.kid] = 0.0
    live: dict[str, IssuerKey] = {first.kid: first}
    server.serve_keys(first)
    source = RemoteJWKS(
        server.url,
        clock=world.clock,
        ttl=TTL,
        cooldown=COOLDOWN,
        max_stale=MAX_STALE,
        timeout=2.0,
    )

    def note_requests(before: int) -> None:
        made = source.fetch_count - before
        assert made <= 1, "one call made more than one request"
        if made:
            world.request_times.append(world.now)
            if world.up_since is None:
                world.last_failure = world.now
            else:
                if world.last_good is None:
                    world.first_good_request = len(world.request_times) - 1
                world.last_good = set(live)
                world.expires = world.now + TTL

    try:
        for step in scenario:
            if isinstance(step, Advance):
                world.now += step.seconds
            elif isinstance(step, Publish):
                key = KEY_POOL[step.index]
                if key.kid not in live:
                    live[key.kid] = key
                    world.published[key.kid] = world.now
                    server.serve_keys(*live.values())
            elif isinstance(step, Withdraw):
                kid = KEY_POOL[step.index].kid
                if kid in live and len(live) > 1:  # an issuer always publishes a key
                    del live[kid]
                    del world.published[kid]
                    server.serve_keys(*live.values())
            elif isinstance(step, Outage):
                if step.down and world.up_since is not None:
                    server.status, world.up_since = 500, None
                elif not step.down and world.up_since is None:
                    server.status, world.up_since = 200, world.now
            else:
                kid = KEY_POOL[step.index].kid if step.index >= 0 else "never-published"
                at_once = (
                    world.last_good is not None
                    and kid in world.last_good
                    and world.now < max(world.expires, world.last_failure) + MAX_STALE
                )
                before = source.fetch_count
                try:
                    key = await source.get_key(kid, "EdDSA")
                    outcome = "key"
                except UnknownKey:
                    outcome = "unknown"
                except KeysUnavailable:
                    outcome = "unavailable"
                await source.wait_for_fetch()  # a background refresh lands before the world moves
                note_requests(before)

                if world.last_good is None:
                    assert outcome == "unavailable"
                elif at_once:
                    assert outcome == "key", "a known kid within max_stale is answered at once"
                else:
                    assert outcome == ("key" if kid in world.last_good else "unknown")
                if outcome == "key":
                    assert key.kid == kid
                since = world.published.get(kid)
                if (
                    since is not None
                    and world.up_since is not None
                    and world.now - max(since, world.up_since) >= COOLDOWN
                ):
                    assert outcome == "key", "a key published a cooldown ago must verify"

            # Before any keys exist, retries back off from 1 s; the cooldown rule starts with
            # the first successful fetch.
            times = world.request_times[world.first_good_request :]
            for earlier, later in zip(times, times[2:], strict=False):
                assert later - earlier >= COOLDOWN, f"three requests within a cooldown: {times}"
    finally:
        await source.aclose()


@example([Lookup(0), Outage(True), Advance(600.0), Lookup(0)])  # stale keys outlive an outage
@example([Lookup(0), Outage(True), Lookup(1), Lookup(0)])  # a failed miss evicts nothing
@example([Lookup(0), Publish(1), Lookup(1), Publish(2), Advance(29.0), Lookup(2)])  # rotation
@example([Lookup(0), Publish(1), Withdraw(0), Advance(600.0), Lookup(0), Lookup(0)])  # removal
# Past max_stale, a known kid waits for the refetch, so a removed key is refused at once.
@example([Lookup(0), Publish(1), Withdraw(0), Advance(600.0), Advance(600.0), Lookup(0)])
# During an outage a known kid is answered at once, however stale, once a fetch has failed.
@example([Lookup(0), Outage(True), Advance(600.0), Advance(600.0), Lookup(0), Lookup(0)])
@example([Outage(True), Lookup(0), Advance(1.0), Outage(False), Lookup(0), Lookup(-1)])
# A kid refused during the cooldown must not stay refused past it (V31).
@example([Lookup(0), Lookup(-1), Publish(1), Advance(29.0), Lookup(1), Advance(1.0), Lookup(1)])
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(steps, min_size=1, max_size=40))
def test_cache_agrees_with_the_oracle(scenario: list[Step]) -> None:
    with running_jwks_server() as server:
        asyncio.run(run(scenario, server))
