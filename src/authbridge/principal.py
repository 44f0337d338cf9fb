"""The verified caller: an immutable, typed view of a credential's claims."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["CredentialKind", "Principal"]

CredentialKind = Literal["jwt", "session"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is calling. ``sub`` is the only identity to key data on."""

    sub: str
    issuer: str
    email: str | None = None
    name: str | None = None
    email_verified: bool | None = None
    image: str | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    session_id: str | None = None
    audience: tuple[str, ...] = ()
    expires_at: datetime | None = None
    credential: CredentialKind = "jwt"
    claims: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    def has_scopes(self, required: Iterable[str], *, any_of: bool = False) -> bool:
        wanted = set(required)
        if not wanted:
            return True
        return bool(wanted & self.scopes) if any_of else wanted <= self.scopes

    def has_roles(self, required: Iterable[str], *, any_of: bool = True) -> bool:
        wanted = set(required)
        if not wanted:
            return True
        return bool(wanted & self.roles) if any_of else wanted <= self.roles
