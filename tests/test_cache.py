"""The verified-token cache: bounded, expiring, evicted by key, never holding failures."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Mapping

import pytest

from authbridge import Principal, StaticJWKS, Verifier
from authbridge.cache import TokenCache
from authbridge.errors import InvalidSignature
from authbridge.principal import frozen_claims
from authbridge.verifier import TrustedIssuer
from tokens import AUDIENCE, ISSUER, NOW, FixedClock, ba_claims, ed25519_key, jwks


def _principal(sub: str = "u1") -> Principal:
    return Principal(sub=sub, issuer="https://i.example")


def test_hit_until_the_deadline_then_gone() -> None:
    cache = TokenCache(10)
    principal = _principal()
    cache.put("t1", principal, deadline=NOW + 10, key_ref=("jwks", "k1"))
    assert cache.get("t1", NOW) is principal
    assert cache.get("t1", NOW + 9.999) is principal
    assert cache.get("t1", NOW + 10) is None
    assert len(cache) == 0
    assert cache.evict_keys([("jwks", "k1")]) == 0  # the index was cleaned up too


def test_bounded_oldest_first() -> None:
    cache = TokenCache(3)
    for n in range(5):
        cache.put(f"t{n}", _principal(str(n)), NOW + 100, ("jwks", "k1"))
    assert len(cache) == 3
    assert cache.get("t0", NOW) is None
    assert cache.get("t1", NOW) is None
    assert cache.get("t4", NOW) is not None
    # Re-putting an existing token does not evict anything.
    cache.put("t4", _principal("4"), NOW + 200, ("jwks", "k1"))
    assert len(cache) == 3
    assert cache.get("t2", NOW) is not None


def test_eviction_by_key() -> None:
    cache = TokenCache(10)
    cache.put("a1", _principal(), NOW + 100, ("jwks", "a"))
    cache.put("a2", _principal(), NOW + 100, ("jwks", "a"))
    cache.put("b1", _principal(), NOW + 100, ("jwks", "b"))
    cache.put("h1", _principal(), NOW + 100, ("hs", "a"))
    assert cache.evict_keys([("jwks", "a"), ("jwks", "missing")]) == 2
    assert cache.get("a1", NOW) is None
    assert cache.get("a2", NOW) is None
    assert cache.get("b1", NOW) is not None
    assert cache.get("h1", NOW) is not None  # same kid on another path is untouched


def test_size_zero_disables_caching_and_clear_empties() -> None:
    off = TokenCache(0)
    off.put("t", _principal(), NOW + 100, ("jwks", "k"))
    assert off.get("t", NOW) is None
    cache = TokenCache(5)
    cache.put("t", _principal(), NOW + 100, ("jwks", "k"))
    cache.clear()
    assert len(cache) == 0
    assert cache.evict_keys([("jwks", "k")]) == 0


async def test_the_verifier_never_caches_failures() -> None:
    key = ed25519_key("k1")
    verifier = Verifier(
        TrustedIssuer.create(StaticJWKS(jwks(key)), issuer=ISSUER, audience=AUDIENCE),
        clock=FixedClock(),
    )
    good = key.sign(ba_claims())
    head, payload, _ = good.split(".")
    bad = f"{head}.{payload}.{'A' * 86}"
    for _ in range(3):
        with pytest.raises(InvalidSignature):
            await verifier.verify(bad)
    assert len(verifier.cache) == 0
    await verifier.verify(good)
    assert len(verifier.cache) == 1
    assert verifier.verify_cached(good) is not None
    assert verifier.verify_cached(bad) is None


async def test_cached_entries_expire_with_the_token() -> None:
    key = ed25519_key("k1")
    clock = FixedClock()
    verifier = Verifier(
        TrustedIssuer.create(StaticJWKS(jwks(key)), issuer=ISSUER, audience=AUDIENCE), clock=clock
    )
    token = key.sign(ba_claims())
    await verifier.verify(token)
    assert verifier.verify_cached(token) is not None
    clock.now = ba_claims()["exp"] + 30
    assert verifier.verify_cached(token) is None


async def test_a_full_cache_adds_nothing_the_garbage_collector_tracks() -> None:
    """An entry is a ``gc=False`` Struct holding an untracked Principal (with its untracked
    claims, and the audience, roles and scopes it shares with other tokens) and its key's
    shared reference: filling the cache adds no tracked object per token, even before any
    collection has looked at the new entries (tuples start tracked, frozensets always are,
    and a cache turning over under new tokens makes few collections)."""
    key = ed25519_key("k1")

    async def fill(attempt: int) -> tuple[Verifier, int]:
        """A new verifier's cache filled with 501 tokens; the tracked objects that added."""
        verifier = Verifier(
            TrustedIssuer.create(StaticJWKS(jwks(key)), issuer=ISSUER, audience=AUDIENCE),
            clock=FixedClock(),
        )
        tokens = [
            key.sign(ba_claims(sid=f"s{attempt}-{n}", role="admin,user", scope="read write"))
            for n in range(501)
        ]
        await verifier.verify(tokens[0])  # the key, its index entry and any lazy state
        gc.collect()
        gc.disable()  # no collection may untrack anything while the cache fills
        try:
            before = len(gc.get_objects())
            for token in tokens[1:]:
                await verifier.verify(token)
            added = len(gc.get_objects()) - before
        finally:
            gc.enable()
        assert len(verifier.cache) == 501
        return verifier, added

    # The count is the whole process's: a thread an earlier test left behind (a server's,
    # a driver's) may allocate meanwhile, so the fewest of three fills is what counts.
    fills = [await fill(attempt) for attempt in range(3)]
    verifier = fills[-1][0]
    added = min(count for _, count in fills)
    threads = [thread.name for thread in threading.enumerate()]
    # A constant, not one per token (500 tokens added 1,000 before).
    assert added <= 5, (fills, threads)
    # Neither index of 501 tokens is tracked: no collection walks the tokens one by one.
    assert not gc.is_tracked(verifier.cache._entries)
    assert not any(gc.is_tracked(index.tokens) for index in verifier.cache._by_key.values())
    entries = list(verifier.cache._entries.values())
    assert len({id(entry.key_ref) for entry in entries}) == 1  # one shared key reference
    assert entries[0].principal.roles == {"admin", "user"}
    for shared in ("audience", "roles", "scopes"):
        assert len({id(getattr(entry.principal, shared)) for entry in entries}) == 1
    for entry in entries:
        assert not gc.is_tracked(entry)
        assert not gc.is_tracked(entry.principal)
        assert not gc.is_tracked(entry.principal.claims)
    tracked = {id(obj) for obj in gc.get_objects()}
    assert not tracked & {id(entry.principal.claims) for entry in entries}


def test_claims_read_like_a_mapping_and_cannot_change() -> None:
    claims = frozen_claims({"sub": "u1", "aud": ["a", "b"]})
    assert isinstance(claims, Mapping)
    assert claims == {"sub": "u1", "aud": ["a", "b"]}
    assert dict(claims) == {"sub": "u1", "aud": ["a", "b"]}
    assert claims["sub"] == "u1"
    assert claims.get("nope", 1) == 1
    assert "aud" in claims
    assert sorted(claims) == ["aud", "sub"]
    assert len(claims) == 2
    with pytest.raises(TypeError):
        claims["sub"] = "u2"  # type: ignore[index]
    with pytest.raises(TypeError):
        hash(claims)


def test_threads_never_lose_a_token_from_the_key_index() -> None:
    """verify_sync shares the cache between threads: puts that evict the oldest, expiries and
    key evictions racing one another must leave every cached token findable by its key, so
    evicting a key always forgets every token it verified."""
    cache = TokenCache(64)  # small: every thread's puts keep evicting a batch
    keys = [("jwks", f"k{n}") for n in range(4)]
    start = threading.Barrier(8)
    errors: list[BaseException] = []
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(3_000):
                key = keys[(n + i) % len(keys)]
                cache.put(f"t{n}-{i}", _principal(str(n)), NOW + (i % 3), key)
                cache.get(f"t{n}-{i - 1}", NOW + 1)  # sometimes expired: dropped
                if i % 500 == 0:
                    cache.evict_keys([keys[i % len(keys)]])
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []
    assert 0 < len(cache) <= 64
    evicted = cache.evict_keys(keys)
    assert evicted > 0
    assert len(cache) == 0  # no token outlived the eviction of the key that verified it
