"""A verified API key joined to its user: what the Principal is built from. Holds no key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from authbridge.bans import ban_in_force
from authbridge.errors import UserBanned
from authbridge.principal import Principal

__all__ = ["ApiKeyRecord"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyRecord:
    """``key_id`` is the ``apikey`` row's id (the Principal's ``session_id``, as the plugin
    makes it the session id); ``expires_at`` the key's own expiry, None when it has none."""

    key_id: str
    user_id: str
    expires_at: datetime | None = None
    email: str | None = None
    name: str | None = None
    email_verified: bool | None = None
    image: str | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    banned: bool = False
    ban_expires: object = field(default=None, repr=False, compare=False)
    # Only a key without remaining/refill and without an enforced rate limit may be cached.
    cacheable: bool = False
    user: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at < (now or datetime.now(UTC))

    def check_ban(self, now: datetime | None = None) -> None:
        """Raise ``UserBanned`` while the admin plugin's ban on the key's user is in force."""
        if self.banned and ban_in_force(self.ban_expires, (now or datetime.now(UTC)).timestamp()):
            raise UserBanned()

    def to_principal(self, issuer: str) -> Principal:
        return Principal(
            sub=self.user_id,
            issuer=issuer,
            email=self.email,
            name=self.name,
            email_verified=self.email_verified,
            image=self.image,
            roles=self.roles,
            scopes=self.scopes,
            session_id=self.key_id,
            expires_at=self.expires_at,
            credential="api_key",
            claims=self.user,
        )
