"""The verified caller: an immutable, typed view of a credential's claims."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

import msgspec

__all__ = ["CredentialKind", "Principal"]

CredentialKind = Literal["jwt", "session", "api_key"]


def _no_claims() -> Mapping[str, Any]:
    return MappingProxyType({})


# A frozen msgspec Struct rather than a frozen dataclass: one is built for every new token,
# and a Struct is built in C, ten times faster than a dataclass's per-field ``__setattr__``.
# ``gc=False``: the garbage collector never tracks a Principal. The token cache holds one per
# cached token (10,000 by default), and tracked, each would lengthen every full collection.
# A Principal holds only strings, frozensets, a datetime and the decoded JSON claims, none of
# which can refer back to it, so it can never be part of a reference cycle.
class Principal(msgspec.Struct, frozen=True, kw_only=True, eq=False, gc=False):
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
    # The caller's active organization and their role in it, and who is impersonating them
    # (Better Auth's admin plugin), where the credential says so.
    organization_id: str | None = None
    organization_role: str | None = None
    impersonator: str | None = None
    audience: tuple[str, ...] = ()
    expires_at: datetime | None = None
    credential: CredentialKind = "jwt"
    claims: Mapping[str, Any] = msgspec.field(default_factory=_no_claims)

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

    # ``claims`` is neither compared, hashed nor shown: it is the raw payload, not identity.
    def _identity(self) -> tuple[Any, ...]:
        return (
            self.sub,
            self.issuer,
            self.email,
            self.name,
            self.email_verified,
            self.image,
            self.roles,
            self.scopes,
            self.session_id,
            self.organization_id,
            self.organization_role,
            self.impersonator,
            self.audience,
            self.expires_at,
            self.credential,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Principal) or type(other) is not type(self):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{n}={getattr(self, n)!r}" for n in self.__struct_fields__ if n != "claims"
        )
        return f"Principal({shown})"
