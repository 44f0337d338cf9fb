"""The plugin's validation rules with a fake clock: the decisions alone (``rules.py``), and the
database store applying them to a real SQLite ``apikey`` table (Better Auth's DDL), so that
every boundary (strictly after the window, strictly after the expiry) is tested to the ms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apikeys_support import KEY, T0, Table, aiosqlite_workers_finished, iso

from authbridge.apikeys.cache import ApiKeyCache
from authbridge.apikeys.config import ApiKeyConfig, ApiKeyTables, parse_headers
from authbridge.apikeys.database import DatabaseApiKeyStore
from authbridge.apikeys.records import ApiKeyRecord
from authbridge.apikeys.rules import (
    KeyRow,
    hash_key,
    rate_limit_decision,
    refill_due,
    refusal,
    scopes_from_permissions,
)
from authbridge.apikeys.verifier import ApiKeyVerifier
from authbridge.errors import (
    ApiKeyDisabled,
    ApiKeyExpired,
    ApiKeyRateLimited,
    ApiKeyStoreUnavailable,
    ApiKeyUsageExceeded,
    ConfigError,
    InvalidApiKey,
    UserBanned,
)
from authbridge.sessions.config import SessionTables


def ms(n: int) -> timedelta:
    return timedelta(milliseconds=n)


def row(**changes: Any) -> KeyRow:
    base = KeyRow(
        id="key-1",
        reference_id="user-1",
        config_id="default",
        enabled=True,
        expires_at=None,
        remaining=None,
        refill_amount=None,
        refill_interval=None,
        last_refill_at=None,
        last_refill_at_raw=None,
        created_at=T0,
        rate_limit_enabled=True,
        rate_limit_time_window=1000,
        rate_limit_max=2,
        request_count=0,
        last_request=None,
        permissions=None,
    )
    return replace(base, **changes)


# ---- rules.py ------------------------------------------------------------------------------


def test_hash_is_sha256_base64url_without_padding() -> None:
    # Better Auth stored this hash for this key (seen in a real apikey row).
    assert hash_key("a") == "ypeBEsobvcr6wjGzmiPcTaeG7_gUfE5yuYB3ha_uSLs"
    assert "=" not in hash_key(KEY)


def test_refusals_in_the_plugins_order() -> None:
    assert refusal(row(), T0) is None
    assert isinstance(refusal(row(config_id="other"), T0).error, InvalidApiKey)  # type: ignore[union-attr]
    assert refusal(row(config_id=None), T0) is None  # null is the default configuration
    disabled = refusal(row(enabled=False, expires_at=T0 - ms(1)), T0)
    assert disabled is not None
    assert type(disabled.error) is ApiKeyDisabled  # disabled is checked before expiry
    assert not disabled.delete
    assert refusal(row(enabled=None), T0) is None  # only an explicit false disables
    assert refusal(row(expires_at=T0), T0) is None  # now > expiresAt, strictly
    expired = refusal(row(expires_at=T0 - ms(1)), T0)
    assert expired is not None
    assert type(expired.error) is ApiKeyExpired
    assert expired.delete
    used_up = refusal(row(remaining=0), T0)
    assert used_up is not None
    assert type(used_up.error) is ApiKeyUsageExceeded
    assert used_up.delete
    assert refusal(row(remaining=0, refill_amount=5), T0) is None  # a refill may come


def test_refill_is_due_strictly_after_the_interval() -> None:
    key = row(remaining=0, refill_amount=5, refill_interval=1000)
    assert not refill_due(key, T0 + ms(1000))
    assert refill_due(key, T0 + ms(1001))
    last = replace(key, last_refill_at=T0 + ms(500))
    assert not refill_due(last, T0 + ms(1500))
    assert refill_due(last, T0 + ms(1501))
    assert not refill_due(replace(key, refill_amount=0), T0 + ms(5000))  # JavaScript-falsy


def test_rate_limit_decisions() -> None:
    assert rate_limit_decision(row(), T0).kind == "start"
    assert rate_limit_decision(row(), T0, enabled=False).kind == "touch"
    assert rate_limit_decision(row(rate_limit_enabled=False), T0).kind == "touch"
    assert rate_limit_decision(row(rate_limit_max=None), T0).kind == "skip"
    assert rate_limit_decision(row(rate_limit_time_window=None), T0).kind == "skip"
    used = row(last_request=T0, request_count=2)
    assert rate_limit_decision(used, T0 + ms(1000)).kind == "deny"  # within: not > window
    assert rate_limit_decision(used, T0 + ms(1001)).kind == "reset"
    one = rate_limit_decision(row(last_request=T0, request_count=1), T0 + ms(10))
    assert (one.kind, one.max, one.window_start) == ("increment", 2, T0 + ms(10) - ms(1000))


def test_permissions_become_scopes() -> None:
    assert scopes_from_permissions('{"tasks":["read","write"]}') == {"tasks:read", "tasks:write"}
    assert scopes_from_permissions('"{\\"a\\":[\\"b\\"]}"') == {"a:b"}  # double-stringified
    for bad in (None, "", "not json", "[1]", '{"tasks": "read"}', 7):
        assert scopes_from_permissions(bad) == frozenset()
    assert scopes_from_permissions('{"bad name":["x"],"ok":["a b","c"]}') == {"ok:c"}


def test_header_setting() -> None:
    assert parse_headers(" X-API-Key , x-other,x-api-key") == ("x-api-key", "x-other")
    for bad in ("", " , ", "x api key", "authorization", "Cookie"):
        with pytest.raises(ConfigError) as caught:
            parse_headers(bad)
        assert caught.value.variable == "AUTHBRIDGE_API_KEY_HEADER"


def test_config_names_the_missing_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        ApiKeyConfig(mode="database")
    assert caught.value.variable == "AUTHBRIDGE_SESSION_DATABASE_URL"
    with pytest.raises(ConfigError) as caught:
        ApiKeyConfig(mode="remote")
    assert caught.value.variable == "BETTER_AUTH_URL"
    with pytest.raises(ConfigError) as caught:
        ApiKeyConfig(mode="on")  # type: ignore[arg-type]
    assert caught.value.variable == "AUTHBRIDGE_API_KEYS"


def test_the_cache_keeps_only_unlimited_keys_and_never_past_ttl_or_expiry() -> None:
    now = [0.0]
    cache = ApiKeyCache(5.0, clock=lambda: now[0])
    unlimited = ApiKeyRecord(key_id="k", user_id="u", cacheable=True)
    cache.put(KEY, unlimited)
    cache.put("l" * 64, replace(unlimited, cacheable=False))
    assert len(cache) == 1
    assert cache.get(KEY) is unlimited
    now[0] = 4.99
    assert cache.get(KEY) is unlimited
    now[0] = 5.0
    assert cache.get(KEY) is None
    cache.put(KEY, replace(unlimited, expires_at=datetime.now(UTC) - ms(1)))
    assert cache.get(KEY) is None
    assert all(isinstance(digest, bytes) for digest in cache._entries)  # no key text kept


# ---- database.py with a fake clock -----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, milliseconds: int) -> None:
        self.now += ms(milliseconds)


@pytest.fixture
def table(tmp_path: Path) -> Table:
    return Table(tmp_path / "auth.db")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(table: Table, clock: Clock) -> AsyncIterator[DatabaseApiKeyStore]:
    opened = DatabaseApiKeyStore(str(table.path), ApiKeyTables(), SessionTables(), clock=clock)
    await opened.start()
    yield opened
    await opened.aclose()


async def outcome(store: DatabaseApiKeyStore, key: str = KEY) -> str:
    try:
        await store.validate(hash_key(key))
    except InvalidApiKey as error:
        return error.code
    return "ok"


async def test_a_valid_key_gives_its_user_and_scopes(
    store: DatabaseApiKeyStore, table: Table
) -> None:
    table.add(rateLimitEnabled=0)
    record = await store.validate(hash_key(KEY))
    assert (record.key_id, record.user_id, record.email, record.name) == (
        "key-1",
        "user-1",
        "ada@example.com",
        "Ada",
    )
    assert record.roles == {"admin", "user"}
    assert record.scopes == {"tasks:read"}
    assert record.cacheable  # no remaining, no refill, rate limit off for this key
    principal = record.to_principal("http://ba.test")
    assert (principal.credential, principal.session_id, principal.sub) == (
        "api_key",
        "key-1",
        "user-1",
    )


async def test_the_rate_window_to_the_millisecond(
    store: DatabaseApiKeyStore, table: Table, clock: Clock
) -> None:
    table.add()
    results = [await outcome(store), await outcome(store), await outcome(store)]
    assert results == ["ok", "ok", "api_key_rate_limited"]
    stored = table.get()
    assert stored is not None
    assert (stored["requestCount"], stored["lastRequest"]) == (2, iso(T0))
    clock.advance(1000)  # not yet: the window ends strictly after 1000 ms
    assert await outcome(store) == "api_key_rate_limited"
    clock.advance(1)
    assert await outcome(store) == "ok"
    stored = table.get()
    assert stored is not None
    assert (stored["requestCount"], stored["lastRequest"]) == (1, iso(T0 + ms(1001)))


async def test_remaining_refill_and_deletion(
    store: DatabaseApiKeyStore, table: Table, clock: Clock
) -> None:
    table.add(remaining=1, refillAmount=3, refillInterval=1000, rateLimitEnabled=0)
    assert await outcome(store) == "ok"
    assert await outcome(store) == "api_key_usage_exceeded"  # refill not due: kept
    assert table.get() is not None
    clock.advance(1001)
    assert await outcome(store) == "ok"
    stored = table.get()
    assert stored is not None
    assert (stored["remaining"], stored["lastRefillAt"]) == (2, iso(T0 + ms(1001)))
    assert stored["lastRequest"] == iso(T0 + ms(1001))  # rate limit off: still touched


async def test_used_up_without_refill_is_deleted(store: DatabaseApiKeyStore, table: Table) -> None:
    table.add(remaining=0, rateLimitEnabled=0)
    assert await outcome(store) == "api_key_usage_exceeded"
    assert table.get() is None
    assert await outcome(store) == "invalid_api_key"


async def test_expiry_strictly_after_and_deleted(
    store: DatabaseApiKeyStore, table: Table, clock: Clock
) -> None:
    table.add(expiresAt=iso(T0 + ms(10)), rateLimitEnabled=0)
    clock.advance(10)
    assert await outcome(store) == "ok"
    clock.advance(1)
    assert await outcome(store) == "api_key_expired"
    assert table.get() is None


async def test_disabled_other_config_and_missing_user(
    store: DatabaseApiKeyStore, table: Table
) -> None:
    table.add(enabled=0)
    assert await outcome(store) == "api_key_disabled"
    table.add("o" * 64, id="key-2", configId="other")
    assert await outcome(store, "o" * 64) == "invalid_api_key"
    table.add("g" * 64, id="key-3", referenceId="nobody")
    assert await outcome(store, "g" * 64) == "invalid_api_key"
    assert await outcome(store, "z" * 64) == "invalid_api_key"


async def test_a_banned_users_key_is_refused(table: Table, clock: Clock) -> None:
    table.add(rateLimitEnabled=0)
    config = ApiKeyConfig(mode="database", database_url=str(table.path), cache_ttl=0.0)
    verifier = ApiKeyVerifier(config, clock=clock)
    try:
        assert (await verifier.verify(KEY)).sub == "user-1"
        table.set_user(banned=1)
        with pytest.raises(UserBanned):
            await verifier.verify(KEY)
        table.set_user(banned=1, banExpires=iso(datetime.now(UTC) - timedelta(days=1)))
        assert (await verifier.verify(KEY)).sub == "user-1"  # the ban has expired
    finally:
        await verifier.aclose()


async def test_short_long_and_odd_keys_never_reach_the_store(table: Table) -> None:
    config = ApiKeyConfig(mode="database", database_url=str(table.path / "missing" / "x.db"))
    verifier = ApiKeyVerifier(config)
    try:
        for key in ("k" * 63, "k" * 513, "k" * 63 + " ", "k" * 63 + "é", ""):
            with pytest.raises(InvalidApiKey):
                await verifier.verify(key)
        with pytest.raises(ApiKeyStoreUnavailable):  # a plausible key reaches the (bad) store
            await verifier.verify(KEY)
    finally:
        await verifier.aclose()
        await aiosqlite_workers_finished()  # the failed open's thread (see there)


async def test_a_rate_limited_key_is_never_cached(table: Table, clock: Clock) -> None:
    table.add(rateLimitMax=1)
    config = ApiKeyConfig(mode="database", database_url=str(table.path), cache_ttl=30.0)
    verifier = ApiKeyVerifier(config, clock=clock)
    try:
        await verifier.verify(KEY)
        with pytest.raises(ApiKeyRateLimited):
            await verifier.verify(KEY)
    finally:
        await verifier.aclose()
