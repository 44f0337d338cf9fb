"""Database mode against Better Auth itself: twin keys, the same requests, the same verdicts.

Each scenario creates two keys with identical properties in a real Better Auth server
(``@better-auth/api-key`` 1.7.5, ``enableSessionForAPIKeys``). Key A is only ever shown to
Better Auth's get-session (its hook runs the plugin's ``validateApiKey``); key B only to
authbridge's database mode, which reads and writes the same ``apikey`` table. Every step asks
both, back to back, and the two sequences of verdicts must be identical, reason included;
so must the rows' counters afterwards. Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from apikeys_support import PG_URL, ab_outcome, ba_outcome, open_verifier

from authbridge.apikeys.verifier import ApiKeyVerifier
from harness.better_auth import BAApiKey, BAUser, BetterAuthServer, ServerPool

pytestmark = pytest.mark.interop

WINDOW_MS = 1500
# Every server: a rate limit of 3 requests per 1.5 s unless a key says otherwise.
SERVER_ENV = {"APIKEY": 1, "APIKEY_RATE_LIMIT_MAX": 3, "APIKEY_RATE_LIMIT_WINDOW": WINDOW_MS}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, better_auth_module_factory: ServerPool
) -> BetterAuthServer:
    if request.param == "postgres":
        return better_auth_module_factory(DATABASE_URL=PG_URL, **SERVER_ENV)
    return better_auth_module_factory(**SERVER_ENV)


@pytest.fixture
async def verifier(server: BetterAuthServer) -> AsyncIterator[ApiKeyVerifier]:
    opened = await open_verifier(server)
    yield opened
    await opened.aclose()


Step = str | Callable[[BetterAuthServer, BAApiKey], None] | float


class Twins:
    def __init__(self, server: BetterAuthServer, user: BAUser, **options: Any) -> None:
        self.server = server
        self.a = server.create_api_key(user.id, **options)  # Better Auth's
        self.b = server.create_api_key(user.id, **options)  # authbridge's

    async def run(self, verifier: ApiKeyVerifier, steps: list[Step]) -> tuple[list[str], list[str]]:
        ba: list[str] = []
        ab: list[str] = []
        for step in steps:
            if step == "use":
                ba.append(ba_outcome(self.server, self.a.key))
                ab.append(await ab_outcome(verifier, self.b.key))
            elif isinstance(step, float):
                await asyncio.sleep(step)
            elif callable(step):
                step(self.server, self.a)
                step(self.server, self.b)
        return ba, ab

    def counters(self, key: BAApiKey) -> tuple[Any, ...] | None:
        row = self.server.api_key_row(key)
        if row is None:
            return None
        return (row["remaining"], row["requestCount"], row["enabled"], row["lastRefillAt"] is None)


async def assert_same(
    twins: Twins, verifier: ApiKeyVerifier, steps: list[Step], expected: list[str]
) -> None:
    ba, ab = await twins.run(verifier, steps)
    assert ba == expected, "the scenario no longer does what it tests on Better Auth"
    assert ab == ba
    assert twins.counters(twins.b) == twins.counters(twins.a)


def disable(server: BetterAuthServer, key: BAApiKey) -> None:
    server.update_api_key(key, enabled=False)


def enable(server: BetterAuthServer, key: BAApiKey) -> None:
    server.update_api_key(key, enabled=True)


def expire(server: BetterAuthServer, key: BAApiKey) -> None:
    server.set_api_key_columns(key, expiresAt="2020-01-01T00:00:00.000Z")


def delete(server: BetterAuthServer, key: BAApiKey) -> None:
    server.delete_api_key(key)


async def test_remaining_runs_out_then_the_key_is_deleted(
    server: BetterAuthServer, verifier: ApiKeyVerifier
) -> None:
    twins = Twins(server, server.sign_up(), remaining=3, rateLimitEnabled=False)
    await assert_same(
        twins,
        verifier,
        ["use"] * 5,
        ["ok", "ok", "ok", "USAGE_EXCEEDED", "INVALID_API_KEY"],
    )
    assert server.api_key_row(twins.b) is None  # deleted, as Better Auth deleted its twin


async def test_rate_limit_hit_then_the_window_resets(
    server: BetterAuthServer, verifier: ApiKeyVerifier
) -> None:
    twins = Twins(server, server.sign_up())
    steps: list[Step] = ["use"] * 4 + [WINDOW_MS / 1000 + 0.3] + ["use"] * 4
    expected = ["ok", "ok", "ok", "RATE_LIMITED", "ok", "ok", "ok", "RATE_LIMITED"]
    await assert_same(twins, verifier, steps, expected)


async def test_a_rate_limited_request_still_uses_one_of_remaining(
    server: BetterAuthServer, verifier: ApiKeyVerifier
) -> None:
    twins = Twins(server, server.sign_up(), remaining=10, rateLimitMax=2)
    await assert_same(twins, verifier, ["use"] * 4, ["ok", "ok", "RATE_LIMITED", "RATE_LIMITED"])
    row = server.api_key_row(twins.b)
    assert row is not None
    assert row["remaining"] == 6


async def test_refill_after_the_interval(
    server: BetterAuthServer, verifier: ApiKeyVerifier
) -> None:
    twins = Twins(
        server,
        server.sign_up(),
        remaining=2,
        refillAmount=2,
        refillInterval=1000,
        rateLimitEnabled=False,
    )
    steps: list[Step] = ["use"] * 3 + [1.3] + ["use"] * 3
    expected = ["ok", "ok", "USAGE_EXCEEDED", "ok", "ok", "USAGE_EXCEEDED"]
    await assert_same(twins, verifier, steps, expected)


async def test_disabled_then_enabled(server: BetterAuthServer, verifier: ApiKeyVerifier) -> None:
    twins = Twins(server, server.sign_up(), rateLimitEnabled=False)
    await assert_same(
        twins,
        verifier,
        ["use", disable, "use", "use", enable, "use"],
        ["ok", "KEY_DISABLED", "KEY_DISABLED", "ok"],
    )


async def test_expired_is_refused_then_deleted(
    server: BetterAuthServer, verifier: ApiKeyVerifier
) -> None:
    twins = Twins(server, server.sign_up(), rateLimitEnabled=False)
    await assert_same(
        twins, verifier, ["use", expire, "use", "use"], ["ok", "KEY_EXPIRED", "INVALID_API_KEY"]
    )


async def test_deleted(server: BetterAuthServer, verifier: ApiKeyVerifier) -> None:
    twins = Twins(server, server.sign_up())
    await assert_same(twins, verifier, ["use", delete, "use"], ["ok", "INVALID_API_KEY"])


async def test_unknown_and_short_keys(server: BetterAuthServer, verifier: ApiKeyVerifier) -> None:
    for key in ("x" * 64, "short-key", "y" * 63):
        assert await ab_outcome(verifier, key) == ba_outcome(server, key) == "INVALID_API_KEY"


async def test_concurrent_uses_never_exceed_remaining(
    server: BetterAuthServer, verifier: ApiKeyVerifier
) -> None:
    """Twenty requests at once on a key with five uses: never more than five pass, whatever
    the interleaving, because every decrement is guarded in the database.

    Fewer may, even none: as in the plugin, a request that reads ``remaining == 0`` deletes
    the key, and a request that had already taken its use then finds no row for its final
    ``updatedAt`` write and is refused (``INVALID_API_KEY``). So what holds whatever the
    interleaving is: exactly five requests take a use (the guarded decrement), and each of
    them ends ``ok`` or ``INVALID_API_KEY``; whoever deleted the key answered
    ``USAGE_EXCEEDED``. Sequential use gives exactly five ``ok`` (above)."""
    key = server.create_api_key(server.sign_up().id, remaining=5, rateLimitEnabled=False)
    outcomes = await asyncio.gather(*(ab_outcome(verifier, key.key) for _ in range(20)))
    assert outcomes.count("ok") <= 5
    assert outcomes.count("ok") + outcomes.count("INVALID_API_KEY") >= 5
    assert outcomes.count("USAGE_EXCEEDED") >= 1
    assert set(outcomes) <= {"ok", "USAGE_EXCEEDED", "INVALID_API_KEY"}
    assert server.api_key_row(key) is None  # used up: deleted


async def test_concurrent_uses_never_exceed_the_rate_limit(
    server: BetterAuthServer, verifier: ApiKeyVerifier
) -> None:
    key = server.create_api_key(server.sign_up().id, rateLimitMax=4, rateLimitTimeWindow=60_000)
    assert await ab_outcome(verifier, key.key) == "ok"  # opens the window
    outcomes = await asyncio.gather(*(ab_outcome(verifier, key.key) for _ in range(12)))
    assert outcomes.count("ok") == 3
    assert set(outcomes) == {"ok", "RATE_LIMITED"}
    row = server.api_key_row(key)
    assert row is not None
    assert row["requestCount"] == 4


async def test_better_auth_and_two_instances_share_one_count(
    server: BetterAuthServer, verifier: ApiKeyVerifier
) -> None:
    """One key used at once through Better Auth's get-session and two authbridge instances
    (two engines, as two processes would have): together they never pass more than its
    ``remaining``, because every instance and Better Auth decrement under the same guard.
    As above, exactly twelve take a use, and each of those ends ``ok`` or, when the key was
    deleted before its last write, ``INVALID_API_KEY`` (Better Auth does the same)."""
    key = server.create_api_key(server.sign_up().id, remaining=12, rateLimitEnabled=False)
    other = await open_verifier(server)
    try:
        mine = [ab_outcome(v, key.key) for v in (verifier, other) for _ in range(8)]
        theirs = [asyncio.to_thread(ba_outcome, server, key.key) for _ in range(8)]
        outcomes = await asyncio.gather(*mine, *theirs)
    finally:
        await other.aclose()
    assert outcomes.count("ok") <= 12
    assert outcomes.count("ok") + outcomes.count("INVALID_API_KEY") >= 12
    assert outcomes.count("USAGE_EXCEEDED") >= 1
    assert set(outcomes) <= {"ok", "USAGE_EXCEEDED", "INVALID_API_KEY"}
