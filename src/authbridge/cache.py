"""The verified-token cache: a repeated token costs one dict lookup and a time check.

Entries are keyed by the exact token text that passed full verification, so the cache can
never turn a rejected token into an accepted one. Each entry lives until the token's own
deadline, and entries are dropped when the key that verified them leaves its key set.

``verify_sync`` shares the cache between threads. A hit is one ``dict.get`` (atomic under
the GIL) and takes no lock; every change takes one, because the per-key index must never
lose a token: a token missing from it would outlive the eviction of its key.

A full cache is invisible to the garbage collector: an entry is a ``gc=False`` Struct
holding an untracked ``Principal``, every entry of one key shares that key's reference
(``_KeyTokens.ref``), and both dicts of tokens hold only untracked values, so neither is
tracked (a collection never walks their 10,000 tokens). An entry tuple and a ``(issuer,
kid)`` tuple per token were tracked until a collection looked at them, and a full cache
turning over under new tokens makes few collections, so 10,000 new tokens left up to 20,000
tracked tuples for the next full pass.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable
from itertools import islice

import msgspec

from .principal import Principal

__all__ = ["TokenCache"]


class _Entry(msgspec.Struct, gc=False):
    """One verified token: never tracked by the garbage collector (no field can refer back
    to it), and read on every hit as fast as a tuple."""

    deadline: float
    principal: Principal
    key_ref: Hashable


class _KeyTokens(msgspec.Struct, gc=False):
    """The tokens one key verified, and that key's reference, shared by their entries.

    A dict of strings to ``None``, not a set: a set is always tracked, and a collection that
    walks one of 10,000 tokens reads every token's header (about 1 ms), while a dict holding
    only untracked keys and values is never tracked."""

    ref: Hashable
    tokens: dict[str, None]


class TokenCache:
    """Bounded map of token → (deadline, Principal). When full, the oldest 1/64th goes."""

    __slots__ = ("_batch", "_by_key", "_entries", "_lock", "max_entries")

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._batch = max(1, max_entries // 64)
        self._entries: dict[str, _Entry] = {}
        self._by_key: dict[Hashable, _KeyTokens] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, now: float) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if now < entry.deadline:
            return entry.principal
        with self._lock:
            self._drop(token)
        return None

    def put(self, token: str, principal: Principal, deadline: float, key_ref: Hashable) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            entries = self._entries
            if token not in entries and len(entries) >= self.max_entries:
                # The oldest go first, a batch at a time: finding the oldest entry walks over
                # the slots its predecessors left empty at the front of the dict, so one walk
                # per 1/64th of the cache, not one per new token (misses are the slow path).
                for old in list(islice(entries, self._batch)):
                    self._drop(old)
            index = self._by_key.get(key_ref)
            if index is None:
                index = self._by_key[key_ref] = _KeyTokens(key_ref, {})
            index.tokens[token] = None
            entries[token] = _Entry(deadline, principal, index.ref)

    def evict_keys(self, key_refs: Iterable[Hashable]) -> int:
        """Forget every token verified by one of ``key_refs``; return how many."""
        dropped = 0
        with self._lock:
            for ref in key_refs:
                index = self._by_key.pop(ref, None)
                for token in index.tokens if index is not None else ():
                    if self._entries.pop(token, None) is not None:
                        dropped += 1
        return dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_key.clear()

    def _drop(self, token: str) -> None:
        """Forget ``token``; the caller holds the lock."""
        entry = self._entries.pop(token, None)
        if entry is not None:
            index = self._by_key.get(entry.key_ref)
            if index is not None:
                index.tokens.pop(token, None)
                if not index.tokens:
                    del self._by_key[entry.key_ref]
