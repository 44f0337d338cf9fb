"""Better Auth's ``user`` and ``session`` tables, as its migrations create them.

For tests that stand up a Better Auth database without running Better Auth. The admin
plugin adds the ``role`` column.
"""

from __future__ import annotations

__all__ = ["PG_DDL", "ROLE_COLUMN", "sqlite_ddl"]

_SQLITE = (
    'CREATE TABLE "user" ("id" text not null primary key, "name" text not null, '
    '"email" text not null unique, "emailVerified" integer not null, "image" text, '
    '"createdAt" date not null, "updatedAt" date not null{role})',
    'CREATE TABLE "session" ("id" text not null primary key, "expiresAt" date not null, '
    '"token" text not null unique, "createdAt" date not null, "updatedAt" date not null, '
    '"ipAddress" text, "userAgent" text, "userId" text not null references "user" ("id") '
    "on delete cascade)",
)
# Formatted with ``schema`` and ``role`` (see ``sqlite_ddl``).
PG_DDL = (
    'CREATE TABLE "{schema}"."user" ("id" text not null primary key, "name" text not null, '
    '"email" text not null unique, "emailVerified" boolean not null, "image" text, '
    '"createdAt" timestamptz default CURRENT_TIMESTAMP not null, '
    '"updatedAt" timestamptz default CURRENT_TIMESTAMP not null{role})',
    'CREATE TABLE "{schema}"."session" ("id" text not null primary key, '
    '"expiresAt" timestamptz not null, "token" text not null unique, '
    '"createdAt" timestamptz default CURRENT_TIMESTAMP not null, '
    '"updatedAt" timestamptz not null, "ipAddress" text, "userAgent" text, '
    '"userId" text not null references "{schema}"."user" ("id") on delete cascade)',
)
ROLE_COLUMN = ', "role" text'


def sqlite_ddl(*, role: bool = True) -> list[str]:
    """The SQLite statements, with the admin plugin's ``role`` column unless ``role=False``."""
    return [statement.format(role=ROLE_COLUMN if role else "") for statement in _SQLITE]
