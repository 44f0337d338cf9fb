"""Claim rules (V37–V45) and the mapping from verified claims to a ``Principal``.

Policy lives in two explicit objects: ``ClaimRules`` (what must hold) and ``ClaimNames``
(where roles, scopes and the session id are read from).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from .bans import ban_in_force
from .errors import (
    InvalidAudience,
    InvalidClaims,
    InvalidIssuer,
    TokenExpired,
    TokenNotYetValid,
    UserBanned,
)
from .principal import FrozenClaims, Principal

__all__ = [
    "DEFAULT_REQUIRED_CLAIMS",
    "ClaimNames",
    "ClaimRules",
    "build_principal",
    "check_identity_claims",
]

DEFAULT_REQUIRED_CLAIMS: Final = frozenset({"exp", "iat", "iss", "aud", "sub"})
MAX_LEEWAY_SECONDS: Final = 60.0
_TIME_CLAIMS: Final = ("exp", "iat", "nbf")
# Better Auth's admin plugin adds these to the user, so to its default JWT payload.
BANNED_CLAIM: Final = "banned"
BAN_EXPIRES_CLAIM: Final = "banExpires"


# NumericDates beyond year 9999 (or before year 1) overflow float and datetime arithmetic.
_MAX_NUMERIC_DATE: Final = 253_402_300_799


def _is_number(value: object) -> bool:
    kind = type(value)
    if kind is not int and not (kind is float and math.isfinite(value)):  # type: ignore[arg-type]
        return False
    return -_MAX_NUMERIC_DATE <= value <= _MAX_NUMERIC_DATE  # type: ignore[operator]


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """What a token's claims must satisfy on one trusted path."""

    issuer: str
    audiences: frozenset[str]
    leeway: float = 30.0
    required: frozenset[str] = DEFAULT_REQUIRED_CLAIMS
    max_lifetime: float | None = 3600.0  # exp - iat, and exp - now (V38)
    max_age: float | None = None  # now - iat
    max_sub_length: int = 256
    # Whether ``required`` names only claims ``validate`` reads anyway (exp, iat, iss, aud,
    # sub): then a token carrying all five, none null, needs no set comparison to prove it.
    required_read: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A bare string would make ``aud in self.audiences`` a substring test.
        audiences: object = self.audiences
        if isinstance(audiences, str):
            object.__setattr__(self, "audiences", frozenset((audiences,)))
        elif not isinstance(audiences, frozenset):
            object.__setattr__(self, "audiences", frozenset(self.audiences))
        if not 0 <= self.leeway <= MAX_LEEWAY_SECONDS:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY_SECONDS:g} seconds")
        if not self.issuer:
            raise ValueError("an issuer is required")
        if not self.audiences:
            raise ValueError("at least one audience is required")
        object.__setattr__(self, "required_read", self.required <= DEFAULT_REQUIRED_CLAIMS)

    def validate(self, claims: Mapping[str, Any], now: float) -> float:
        """Check ``claims``; return the time until which the verdict stays true."""
        get = claims.get
        exp = get("exp")
        iat = get("iat")
        iss = get("iss")
        aud = get("aud")
        sub = get("sub")
        if not (
            self.required_read
            and exp is not None
            and iat is not None
            and iss is not None
            and aud is not None
            and sub is not None
        ):  # else every required claim is present: these are all it can name
            if not self.required <= claims.keys():
                missing = sorted(self.required - claims.keys())[0]
                raise InvalidClaims(f"The token lacks the required claim '{missing}'.")
            if "sub" not in claims:  # always required: the Principal's only identity (V43)
                raise InvalidClaims("The token lacks the required claim 'sub'.")
        leeway = self.leeway
        nbf = get("nbf")
        # Integer exp and iat and no nbf is every Better Auth token: decided without the loop.
        if not (
            type(exp) is int
            and type(iat) is int
            and nbf is None
            and -_MAX_NUMERIC_DATE <= exp <= _MAX_NUMERIC_DATE
            and -_MAX_NUMERIC_DATE <= iat <= _MAX_NUMERIC_DATE
            and "nbf" not in claims
        ):
            for name in _TIME_CLAIMS:
                # A present-but-null time claim must fail here, not be skipped below.
                if name in claims and not _is_number(claims[name]):
                    raise InvalidClaims(f"The claim '{name}' is not a number.")
        valid_until = math.inf
        if exp is not None:
            valid_until = exp + leeway
            if now >= valid_until:
                raise TokenExpired()
        if nbf is not None and now < nbf - leeway:
            raise TokenNotYetValid()
        if iat is not None and iat > now + leeway:
            raise TokenNotYetValid("The token was issued in the future.")
        # An absent iss is allowed (unless required); a present one, null included, must match.
        if iss != self.issuer and (iss is not None or "iss" in claims):
            raise InvalidIssuer()
        if not (type(aud) is str and aud in self.audiences) and "aud" in claims:
            self._check_audience(aud)
        if type(sub) is not str or not 0 < len(sub) <= self.max_sub_length or not sub.isprintable():
            raise InvalidClaims("The claim 'sub' is not a short non-empty printable string.")
        if "jti" in claims and type(claims["jti"]) is not str:  # RFC 7519 §4.1.7
            raise InvalidClaims("The claim 'jti' is not a string.")
        if self.max_lifetime is not None:
            if exp is None:  # a lifetime cap cannot hold for a token that never expires (V38)
                raise InvalidClaims("The token lacks the required claim 'exp'.")
            if exp > now + self.max_lifetime + leeway:
                raise InvalidClaims("The token lives longer than this API allows.")
            if iat is not None and exp - iat > self.max_lifetime:
                raise InvalidClaims("The token lives longer than this API allows.")
        if self.max_age is not None and iat is not None:
            age_limit = iat + self.max_age + leeway
            if now >= age_limit:
                raise TokenExpired("The token is older than this API allows.")
            valid_until = min(valid_until, age_limit)
        # Without the admin plugin there is no claim, with it almost always ``false``: one
        # lookup and two identity tests, and nothing more, for every token not banned.
        banned = get(BANNED_CLAIM)
        if banned is not None and banned is not False:
            _check_ban(banned, get(BAN_EXPIRES_CLAIM), now)
        return valid_until

    def _check_audience(self, aud: object) -> None:
        if type(aud) is str:
            if aud not in self.audiences:
                raise InvalidAudience()
            return
        if type(aud) is not list or not aud or any(type(a) is not str for a in aud):
            raise InvalidAudience("The claim 'aud' is not a string or a list of strings.")
        if self.audiences.isdisjoint(aud):
            raise InvalidAudience()


def _check_ban(banned: object, expires: object, now: float) -> None:
    """Refuse a user the admin plugin has banned: ``banned`` true and ``banExpires`` unset,
    in the future or unreadable (fail closed). A ban that has expired lets the token through;
    Better Auth lifts it at the user's next sign-in. The token is not cached when refused, so
    the ban is checked again on its next use."""
    if banned is not True:  # Better Auth writes a boolean: anything else is a forged shape
        raise InvalidClaims(f"The claim '{BANNED_CLAIM}' is not a boolean.")
    if ban_in_force(expires, now):
        raise UserBanned()


@dataclass(frozen=True, slots=True)
class ClaimNames:
    """Which claims carry roles, scopes, the session id, the organization and the other
    identity claims.

    ``identifiers`` are the claims besides ``sub``, the session id and the roles that name a
    user, an account or an organization: Better Auth's user ``id`` and ``email``, and the
    organization claims a ``definePayload`` adds. ``organization_id`` (the first present wins),
    ``organization_role`` and ``impersonator`` fill the Principal's fields of those names;
    Better Auth's JWT carries none of them unless ``definePayload`` adds them.
    """

    roles: tuple[str, ...] = ("role", "roles")
    scopes: tuple[str, ...] = ("scope", "scp", "scopes")
    session_id: str = "sid"
    identifiers: tuple[str, ...] = (
        "id",
        "email",
        "activeOrganizationId",
        "organizationId",
        "organizationRole",
    )
    organization_id: tuple[str, ...] = ("activeOrganizationId", "organizationId")
    organization_role: str = "organizationRole"
    impersonator: str = "impersonatedBy"
    # Every claim that must be a short printable string, each once: computed here rather
    # than on every token.
    checked: tuple[str, ...] = field(init=False, repr=False, compare=False)
    # The claims behind organization_id, organization_role and impersonator: a token with none
    # of them (Better Auth's default) skips their lookups.
    organization_claims: frozenset[str] = field(init=False, repr=False, compare=False)
    # Those, the roles and the scopes: a token with none of them (Better Auth's default
    # without the admin plugin) is told apart by one test, not three.
    optional_claims: frozenset[str] = field(init=False, repr=False, compare=False)
    # ``checked`` less those: all a token without any of them needs checking.
    plain_checked: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = (
            *self.identifiers,
            self.session_id,
            *self.organization_id,
            self.organization_role,
            self.impersonator,
        )
        object.__setattr__(self, "checked", tuple(dict.fromkeys(names)))
        object.__setattr__(
            self,
            "organization_claims",
            frozenset((*self.organization_id, self.organization_role, self.impersonator)),
        )
        object.__setattr__(
            self,
            "optional_claims",
            self.organization_claims.union(self.roles, self.scopes),
        )
        object.__setattr__(
            self,
            "plain_checked",
            tuple(n for n in self.checked if n not in self.optional_claims),
        )


# Identity claims are keys for lookups (a session, a user's rows, an organization), so each one
# must be a printable string of bounded length (V45). A NUL or a lone surrogate would otherwise
# reach the database, which refuses it (PostgreSQL text cannot hold U+0000): a 500, not a 401.
MAX_IDENTIFIER_LENGTH: Final = 256
MAX_EMAIL_LENGTH: Final = 320  # RFC 3696 errata: 64 for the local part, 255 for the domain
MAX_ROLES: Final = 64


def _bad_identifier(value: object, limit: int) -> bool:
    return type(value) is not str or len(value) > limit or not value.isprintable()


def check_identity_claims(claims: Mapping[str, Any], names: ClaimNames) -> None:
    """Raise ``InvalidClaims`` unless every identity claim present is a printable string of
    bounded length (roles: such a string or a list of them). ``null`` counts as absent:
    Better Auth writes it for an unset field (no active organization, say)."""
    _check_identity(claims, names.checked, names.roles)


def _check_identity(
    claims: Mapping[str, Any], checked: tuple[str, ...], roles: tuple[str, ...]
) -> None:
    get = claims.get
    for name in checked:
        value = get(name)
        # ``_bad_identifier`` inline: this runs for every new token.
        if value is not None and (
            type(value) is not str
            or len(value) > (MAX_EMAIL_LENGTH if name == "email" else MAX_IDENTIFIER_LENGTH)
            or not value.isprintable()
        ):
            raise InvalidClaims(f"The claim '{name}' is not a short printable string.")
    for name in roles:
        value = claims.get(name)
        if value is None:
            continue
        values = value if type(value) is list and len(value) <= MAX_ROLES else (value,)
        if any(_bad_identifier(item, MAX_IDENTIFIER_LENGTH) for item in values):
            raise InvalidClaims(
                f"The claim '{name}' is not a short printable string or a short list of them."
            )


def _words(value: object, separators: str) -> Iterable[str]:
    if type(value) is str:
        for sep in separators[1:]:
            value = value.replace(sep, separators[0])
        return (w for w in value.split(separators[0]) if w)
    if type(value) is list:
        return (w for w in value if type(w) is str and w)
    return ()


_NONE: Final[frozenset[str]] = frozenset()

# Values many tokens repeat (the audience, a set of roles or scopes) are shared between their
# Principals, so a token cache of 10,000 holds no tracked object per token: a frozenset is
# always tracked by the garbage collector, and a new tuple is until a collection looks at it
# (a cache turning over under new tokens makes few). Only verified tokens reach here; the
# table stops growing at _SHARED_MAX distinct values, after which values are not shared.
_SHARED_MAX: Final = 1024
_T = TypeVar("_T")
_shared: dict[object, Any] = {}


# No ``typing.cast`` below: it is a call at run time, and ``tuple[str, ...]`` builds a new
# alias object on every evaluation (about 1,500 instructions per token together).
def _share(value: _T) -> _T:
    shared: _T | None = _shared.get(value)
    if shared is None:
        if len(_shared) < _SHARED_MAX:
            _shared[value] = value
        return value
    return shared


def _audience(aud: object) -> tuple[str, ...]:
    if type(aud) is str:
        # A bare audience string maps to its one-tuple.
        shared: tuple[str, ...] | None = _shared.get(aud)
        if shared is None:
            shared = (aud,)
            if len(_shared) < _SHARED_MAX:
                _shared[aud] = shared
        return shared
    return _share(tuple(aud)) if type(aud) is list else ()


def _collect(claims: Mapping[str, Any], names: tuple[str, ...], separators: str) -> frozenset[str]:
    found: set[str] | None = None
    for name in names:
        value = claims.get(name)
        if value is not None:
            if found is None:
                found = set()
            found.update(_words(value, separators))
    return _share(frozenset(found)) if found else _NONE


def _organization(
    claims: Mapping[str, Any], names: ClaimNames
) -> tuple[str | None, str | None, str | None]:
    """The organization id, the caller's role in it, and the impersonator, where present."""
    organization_id = None
    for name in names.organization_id:
        if type(value := claims.get(name)) is str:
            organization_id = value
            break
    role = claims.get(names.organization_role)
    impersonator = claims.get(names.impersonator)
    return (
        organization_id,
        role if type(role) is str else None,
        impersonator if type(impersonator) is str else None,
    )


def build_principal(claims: dict[str, Any], names: ClaimNames, *, issuer: str) -> Principal:
    """Map verified claims to a ``Principal``.

    An identity claim that is not a printable string of bounded length refuses the token
    (``check_identity_claims``); other wrongly typed optional claims become ``None``.
    """
    get = claims.get
    roles = scopes = _NONE
    organization_id = organization_role = impersonator = None
    # The frozenset's ``isdisjoint`` walks the claims with their cached hashes; the keys
    # view's would look each of the nine names up in the dict instead.
    if names.optional_claims.isdisjoint(claims):
        # The claims behind roles, scopes and the organization are all absent: the rest of
        # ``check_identity_claims`` is all there is to check.
        _check_identity(claims, names.plain_checked, ())
    else:
        check_identity_claims(claims, names)
        keys = claims.keys()
        if not keys.isdisjoint(names.organization_claims):
            organization_id, organization_role, impersonator = _organization(claims, names)
        if not keys.isdisjoint(names.roles):
            # Better Auth's admin plugin stores several roles as "admin,user".
            roles = _collect(claims, names.roles, ", ")
        if not keys.isdisjoint(names.scopes):
            scopes = _collect(claims, names.scopes, " ")
    exp = get("exp")
    aud = get("aud")
    # ``get("emailVerified", get("email_verified"))`` without the second lookup when the
    # first claim is there (Better Auth always sends it).
    email_verified = claims["emailVerified"] if "emailVerified" in claims else get("email_verified")
    # Inline type checks rather than a helper: this runs for every new token. Positional,
    # in field order (``Principal``'s comment says why): keep it in step with the fields.
    return Principal(
        claims["sub"],  # sub
        issuer,
        email if type(email := get("email")) is str else None,
        name if type(name := get("name")) is str else None,
        email_verified if type(email_verified) is bool else None,
        image if type(image := get("image")) is str else None,
        roles,
        scopes,
        sid if type(sid := get(names.session_id)) is str else None,  # session_id
        organization_id,
        organization_role,
        impersonator,
        _audience(aud),  # audience
        datetime.fromtimestamp(exp, UTC) if exp is not None else None,  # expires_at
        "jwt",  # credential
        FrozenClaims(claims),  # type: ignore[arg-type]  # claims: a registered Mapping
    )
