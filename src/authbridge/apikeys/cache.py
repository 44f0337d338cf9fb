"""The short cache of verified API keys: only keys whose uses nothing counts.

A key with a ``remaining`` count, a refill or an enforced rate limit is never cached: every
one of its uses must reach the store, which counts it. For the others (unlimited, rate limit
off), a verified key is remembered for ``ttl`` seconds, and never past its own expiry. That
is the bound: disabling, deleting or expiring such a key in Better Auth takes effect here
within ``ttl`` seconds (``AUTHBRIDGE_API_KEY_CACHE_TTL``, default 5, at most 60), and so does a
new ban on the key's user (a cached ban's expiry is decided on every hit). Keys are held as
SHA-256 digests, never as text.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from authbridge.apikeys.records import ApiKeyRecord

__all__ = ["ApiKeyCache"]


class ApiKeyCache:
    def __init__(
        self,
        ttl: float,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max(1, max_entries)
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, ApiKeyRecord]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def get(self, key: str) -> ApiKeyRecord | None:
        if not self.enabled or not self._entries:
            return None
        digest = _digest(key)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        stored_at, record = entry
        if self._clock() - stored_at >= self._ttl or record.is_expired():
            del self._entries[digest]
            return None
        return record

    def put(self, key: str, record: ApiKeyRecord) -> None:
        if not self.enabled or not record.cacheable:
            return
        digest = _digest(key)
        self._entries[digest] = (self._clock(), record)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()
