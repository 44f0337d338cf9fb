"""The cache of resolved sessions: the shared credential cache (``authbridge.ttl_cache``)
holding ``SessionRecord`` values, keyed by the SHA-256 of the session token."""

from __future__ import annotations

from authbridge.sessions.records import SessionRecord
from authbridge.ttl_cache import CredentialCache

__all__ = ["SessionCache"]


class SessionCache(CredentialCache[SessionRecord]):
    """Only positive answers are cached, and never past the session's own expiry."""
