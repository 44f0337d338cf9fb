"""A tiny bounded TTL cache of resolved sessions, keyed by SHA-256 of the token.

Only positive answers are cached, and never past the session's own expiry.
The raw token is never a key, so a memory dump of the cache holds no credential.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from authbridge.sessions.records import SessionRecord

__all__ = ["SessionCache", "token_key"]


def token_key(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class SessionCache:
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
        self._entries: OrderedDict[bytes, tuple[float, SessionRecord]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def get(self, token: str) -> SessionRecord | None:
        if not self.enabled:
            return None
        key = token_key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, record = entry
        if self._clock() - stored_at >= self._ttl or record.is_expired(datetime.now(UTC)):
            del self._entries[key]
            return None
        return record

    def put(self, token: str, record: SessionRecord) -> None:
        if not self.enabled:
            return
        key = token_key(token)
        self._entries[key] = (self._clock(), record)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def discard(self, token: str) -> None:
        self._entries.pop(token_key(token), None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
