"""Better Auth's admin-plugin ban, decided exactly as the plugin decides it.

The plugin (better-auth 1.7.25, ``plugins/admin/admin.mjs``) refuses a user when
``user.banned`` is truthy, unless ``user.banExpires`` is set and
``new Date(user.banExpires).getTime() < Date.now()``. So a ban with no expiry (``null``, and
the JavaScript-falsy ``0`` and ``""``) is permanent, and one whose expiry cannot be read
(``new Date(x)`` is NaN) stays in force: it fails closed, here as there.

``banExpires`` is a ``date`` field: an ISO-8601 string in a JWT payload (``Date.toJSON``) and
in SQLite (Kysely's adapter stores ``toISOString()``), a ``datetime`` from PostgreSQL's
``timestamptz``, and epoch seconds or milliseconds where another adapter wrote a number.

Shared by the JWT claim rules and the session records, so it sits on the lowest floor.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

__all__ = ["ban_in_force", "parse_ban_expires"]

# Epoch values above this are milliseconds (1e11 s is the year 5138), as in sessions.records.
_MILLISECONDS_THRESHOLD: Final = 100_000_000_000
_MAX_TEXT: Final = 64


def parse_ban_expires(value: object) -> float | None:
    """``banExpires`` as epoch seconds, or None when it cannot be read.

    Strict: an ISO-8601 string (``Z`` or an offset; no zone means UTC, as the session dates
    are read), a finite number, or a ``datetime``. A numeric string, a boolean or anything
    else is unreadable.
    """
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return moment.timestamp()
    kind = type(value)
    if kind is int or kind is float:
        number = float(value)  # type: ignore[arg-type]
        if not math.isfinite(number):
            return None
        return number / 1000 if abs(number) >= _MILLISECONDS_THRESHOLD else number
    if kind is not str:
        return None
    text = value.strip()  # type: ignore[attr-defined]
    # fromisoformat would also take "20261201": a date has a dash in Better Auth's output.
    if not text or len(text) > _MAX_TEXT or "-" not in text[1:]:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed).timestamp()


def ban_in_force(expires: object, now: float) -> bool:
    """For a user whose ``banned`` is true: whether the ban still refuses them at ``now``.

    False only when ``expires`` is a readable moment strictly before ``now``.
    """
    if not expires:
        return True  # null, 0 or "": JavaScript-falsy, so no expiry: a permanent ban
    moment = parse_ban_expires(expires)
    return moment is None or moment >= now
