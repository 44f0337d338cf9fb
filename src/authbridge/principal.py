"""The verified caller: an immutable, typed view of a credential's claims."""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, cast

import msgspec

__all__ = ["CredentialKind", "Principal", "frozen_claims"]

CredentialKind = Literal["jwt", "session", "api_key"]


def _no_claims() -> Mapping[str, Any]:
    return MappingProxyType({})


# A token's decoded claims, read-only, as ``MappingProxyType`` would show them, but never
# tracked by the garbage collector (``gc=False``): the token cache holds one per cached token
# (10,000 by default) and a mappingproxy is always tracked, so a full cache added 10,000
# objects to every full collection. It holds one dict of decoded JSON (strings, numbers,
# lists, dicts), which cannot refer back to it: it can never be part of a reference cycle.
class FrozenClaims(msgspec.Struct, frozen=True, eq=False, gc=False):
    """A read-only ``Mapping`` view of a dict of decoded JSON claims."""

    _claims: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self._claims[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._claims)

    def __len__(self) -> int:
        return len(self._claims)

    def __contains__(self, key: object) -> bool:
        return key in self._claims

    def get(self, key: str, default: Any = None) -> Any:
        return self._claims.get(key, default)

    def keys(self) -> KeysView[str]:
        return self._claims.keys()

    def values(self) -> ValuesView[Any]:
        return self._claims.values()

    def items(self) -> ItemsView[str, Any]:
        return self._claims.items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenClaims):
            return self._claims == other._claims
        return self._claims == other if isinstance(other, Mapping) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mapping, like dict and mappingproxy

    def __repr__(self) -> str:
        return f"FrozenClaims({self._claims!r})"


Mapping.register(FrozenClaims)


def frozen_claims(claims: dict[str, Any]) -> Mapping[str, Any]:
    """``claims`` as a read-only mapping the garbage collector does not track."""
    return cast(Mapping[str, Any], FrozenClaims(claims))  # a registered Mapping


# A frozen msgspec Struct rather than a frozen dataclass: one is built for every new token,
# and a Struct is built in C, ten times faster than a dataclass's per-field ``__setattr__``.
# ``gc=False``: the garbage collector never tracks a Principal. The token cache holds one per
# cached token (10,000 by default), and tracked, each would lengthen every full collection.
# A Principal holds only strings, frozensets, a datetime and the decoded JSON claims, none of
# which can refer back to it, so it can never be part of a reference cycle.
# Not ``kw_only``: on Python 3.11 a Struct called with keywords first gathers them into a
# dict (16 keywords: about 6,000 instructions), so ``build_principal``, which makes one per
# new token, passes its fields by position. Everyone else should pass keywords: the
# positional order is not part of the API.
class Principal(msgspec.Struct, frozen=True, eq=False, gc=False):
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
