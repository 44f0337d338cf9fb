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

from authbridge.apikeys.records import ApiKeyRecord
from authbridge.ttl_cache import CredentialCache

__all__ = ["ApiKeyCache"]


class ApiKeyCache(CredentialCache[ApiKeyRecord]):
    def put(self, credential: str, record: ApiKeyRecord) -> None:
        if record.cacheable:  # a key whose uses are counted must reach the store every time
            super().put(credential, record)
