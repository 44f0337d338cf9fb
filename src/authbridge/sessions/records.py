"""A resolved Better Auth session and the value conversions every resolver shares.

Better Auth stores dates differently per database: ISO-8601 text with ``Z`` in
SQLite (better-sqlite3 via Kysely), ``timestamptz`` in PostgreSQL, and some
adapters write epoch seconds or milliseconds. Booleans are 0/1 in SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from authbridge.bans import ban_in_force
from authbridge.errors import UserBanned
from authbridge.principal import CredentialKind, Principal

__all__ = [
    "SessionRecord",
    "UserRecord",
    "parse_banned",
    "parse_bool",
    "parse_roles",
    "parse_text",
    "parse_timestamp",
]

# Epoch values above this are milliseconds (1e11 s is the year 5138).
_MILLISECONDS_THRESHOLD = 100_000_000_000


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from any storage format Better Auth uses, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            return None
        try:
            return _from_epoch(float(text))
        except ValueError:
            pass
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None


def _from_epoch(number: float) -> datetime | None:
    if number != number or number in (float("inf"), float("-inf")):
        return None
    seconds = number / 1000 if abs(number) >= _MILLISECONDS_THRESHOLD else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_bool(value: object) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "t"):
            return True
        if lowered in ("0", "false", "f"):
            return False
    return None


def parse_banned(value: object) -> bool:
    """The admin plugin's ``banned``: null is not banned; a value that is not a boolean (nor
    SQLite's 0/1) counts as banned, so an unreadable flag fails closed."""
    if value is None:
        return False
    flag = parse_bool(value)
    return True if flag is None else flag


# The admin plugin's user columns, selected as these labels -> Better Auth's field names.
_PLUGIN_FIELDS = {"role": "role", "banned": "banned", "ban_expires": "banExpires"}


def user_object(
    row: Mapping[str, Any], plugin_labels: Iterable[str], rest: Iterable[str]
) -> dict[str, Any]:
    """A user row as Better Auth names its fields (a typed user's source, as in a JWT): the
    core columns (selected as ``user_id``, ``email``, ``name``, ``email_verified``,
    ``image``), the admin plugin's (``plugin_labels``) and every other column, selected as
    ``u0``, ``u1``... in the order of ``rest``, under its own name."""
    user: dict[str, Any] = {
        "id": row["user_id"],
        "email": row["email"],
        "name": row["name"],
        "emailVerified": parse_bool(row["email_verified"]),
        "image": row["image"],
    }
    for label in plugin_labels:
        value = row[label]
        user[_PLUGIN_FIELDS[label]] = parse_bool(value) if label == "banned" else value
    for i, name in enumerate(rest):
        user[name] = row[f"u{i}"]
    return user


def parse_roles(value: object) -> frozenset[str]:
    """The admin plugin stores roles as one comma-separated string ("admin,user")."""
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple):
        return frozenset(str(part).strip() for part in value if str(part).strip())
    return frozenset()


def parse_text(value: object) -> str | None:
    """A non-empty string, else None (a missing, empty or non-text column or member)."""
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRecord:
    """The user a Better Auth credential (a session, an API key) belongs to: the identity half
    of its Principal, and the admin plugin's ban."""

    user_id: str
    email: str | None = None
    name: str | None = None
    email_verified: bool | None = None
    image: str | None = None
    roles: frozenset[str] = frozenset()
    # The admin plugin's ban, as stored; decided on every use (``check_ban``), since a cached
    # record outlives the moment a ban expires.
    banned: bool = False
    ban_expires: object = field(default=None, repr=False, compare=False)
    # The whole user row (every column, ``additionalFields`` included) under Better Auth's
    # field names: ``Principal.claims``, and what typed users are built from.
    user: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    def check_ban(self, now: datetime | None = None) -> None:
        """Raise ``UserBanned`` while the admin plugin's ban on this user is in force."""
        if self.banned and ban_in_force(self.ban_expires, (now or datetime.now(UTC)).timestamp()):
            raise UserBanned()

    def principal(
        self,
        issuer: str,
        credential: CredentialKind,
        *,
        session_id: str,
        expires_at: datetime | None,
        scopes: frozenset[str] = frozenset(),
        organization_id: str | None = None,
        organization_role: str | None = None,
        impersonator: str | None = None,
    ) -> Principal:
        """This user's Principal, with what the credential adds: its id and expiry, and the
        scopes or the organization it carries."""
        return Principal(
            sub=self.user_id,
            issuer=issuer,
            email=self.email,
            name=self.name,
            email_verified=self.email_verified,
            image=self.image,
            roles=self.roles,
            scopes=scopes,
            session_id=session_id,
            organization_id=organization_id,
            organization_role=organization_role,
            impersonator=impersonator,
            expires_at=expires_at,
            credential=credential,
            claims=self.user,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRecord(UserRecord):
    """One live session joined to its user. Holds no token."""

    session_id: str
    expires_at: datetime
    # The session's active organization (organization plugin) and impersonating admin
    # (admin plugin), where the store has them.
    organization_id: str | None = None
    # The caller's role in that organization, as the member table stores it ("admin,member");
    # database mode joins it, remote mode asks get-active-member, the cookie cache has none.
    organization_role: str | None = None
    impersonator: str | None = None

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or datetime.now(UTC))

    def to_principal(self, issuer: str) -> Principal:
        return self.principal(
            issuer,
            "session",
            session_id=self.session_id,
            organization_id=self.organization_id,
            organization_role=self.organization_role,
            impersonator=self.impersonator,
            expires_at=self.expires_at,
        )

    @classmethod
    def from_payload(
        cls, session: Mapping[str, Any], user: Mapping[str, Any]
    ) -> SessionRecord | None:
        """From Better Auth's JSON ``{session, user}``; None if it lacks an id or expiry."""
        session_id = parse_text(session.get("id"))
        user_id = parse_text(user.get("id"))
        expires_at = parse_timestamp(session.get("expiresAt"))
        if session_id is None or user_id is None or expires_at is None:
            return None
        if parse_text(session.get("userId")) not in (None, user_id):
            return None
        return cls(
            session_id=session_id,
            user_id=user_id,
            expires_at=expires_at,
            email=parse_text(user.get("email")),
            name=parse_text(user.get("name")),
            email_verified=parse_bool(user.get("emailVerified")),
            image=parse_text(user.get("image")),
            roles=parse_roles(user.get("role")),
            organization_id=parse_text(session.get("activeOrganizationId")),
            impersonator=parse_text(session.get("impersonatedBy")),
            banned=parse_banned(user.get("banned")),
            ban_expires=user.get("banExpires"),
            user=MappingProxyType(dict(user)),
        )
