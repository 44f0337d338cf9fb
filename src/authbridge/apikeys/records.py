"""A verified API key joined to its user: what the Principal is built from. Holds no key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from authbridge.principal import Principal
from authbridge.sessions.records import UserRecord

__all__ = ["ApiKeyRecord"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRecord(UserRecord):
    """``key_id`` is the ``apikey`` row's id (the Principal's ``session_id``, as the plugin
    makes it the session id); ``expires_at`` the key's own expiry, None when it has none."""

    key_id: str
    expires_at: datetime | None = None
    scopes: frozenset[str] = frozenset()
    # Only a key without remaining/refill and without an enforced rate limit may be cached.
    cacheable: bool = False

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at < (now or datetime.now(UTC))

    def to_principal(self, issuer: str) -> Principal:
        return self.principal(
            issuer,
            "api_key",
            scopes=self.scopes,
            session_id=self.key_id,
            expires_at=self.expires_at,
        )
