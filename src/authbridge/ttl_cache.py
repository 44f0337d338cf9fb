"""A small bounded TTL cache of verified credentials, keyed by the SHA-256 of the credential.

Sessions and API keys share it: only positive answers are stored, an entry lives ``ttl``
seconds and never past the record's own expiry, and the least recently stored entry goes
when the cache is full. The credential text is never a key, so a memory dump of the cache
holds no token and no API key. A ``ttl`` of 0 turns the cache off.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Generic, Protocol, TypeVar

__all__ = ["CredentialCache", "Expiring", "credential_digest"]


class Expiring(Protocol):
    """A verified record that knows its own expiry (a session, an API key)."""

    def is_expired(self, now: datetime | None = None) -> bool: ...


RecordT = TypeVar("RecordT", bound=Expiring)


def credential_digest(credential: str) -> bytes:
    return hashlib.sha256(credential.encode("utf-8")).digest()


class CredentialCache(Generic[RecordT]):
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
        self._entries: OrderedDict[bytes, tuple[float, RecordT]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def get(self, credential: str) -> RecordT | None:
        if not self.enabled or not self._entries:
            return None  # nothing to find: skip the digest
        digest = credential_digest(credential)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        stored_at, record = entry
        if self._clock() - stored_at >= self._ttl or record.is_expired():
            del self._entries[digest]
            return None
        return record

    def put(self, credential: str, record: RecordT) -> None:
        if not self.enabled:
            return
        digest = credential_digest(credential)
        self._entries[digest] = (self._clock(), record)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def discard(self, credential: str) -> None:
        self._entries.pop(credential_digest(credential), None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
