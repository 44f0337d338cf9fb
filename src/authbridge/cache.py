"""The verified-token cache: a repeated token costs one dict lookup and a time check.

Entries are keyed by the exact token text that passed full verification, so the cache can
never turn a rejected token into an accepted one. Each entry lives until the token's own
deadline, and entries are dropped when the key that verified them leaves its key set.

``verify_sync`` shares the cache between threads. A hit is one ``dict.get`` (atomic under
the GIL) and takes no lock; every change takes one, because the per-key index must never
lose a token: a token missing from it would outlive the eviction of its key.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable
from itertools import islice

from .principal import Principal

__all__ = ["TokenCache"]


class TokenCache:
    """Bounded map of token → (deadline, Principal). When full, the oldest 1/64th goes."""

    __slots__ = ("_batch", "_by_key", "_entries", "_lock", "max_entries")

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._batch = max(1, max_entries // 64)
        self._entries: dict[str, tuple[float, Principal, Hashable]] = {}
        self._by_key: dict[Hashable, set[str]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, now: float) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if now < entry[0]:
            return entry[1]
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
            entries[token] = (deadline, principal, key_ref)
            self._by_key.setdefault(key_ref, set()).add(token)

    def evict_keys(self, key_refs: Iterable[Hashable]) -> int:
        """Forget every token verified by one of ``key_refs``; return how many."""
        dropped = 0
        with self._lock:
            for ref in key_refs:
                for token in self._by_key.pop(ref, ()):
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
            tokens = self._by_key.get(entry[2])
            if tokens is not None:
                tokens.discard(token)
                if not tokens:
                    del self._by_key[entry[2]]
