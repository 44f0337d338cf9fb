"""The ``tasks`` table (SQLAlchemy Core) and the column types it needs on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    Uuid,
)

__all__ = [
    "PRIORITIES",
    "PRIORITY_RANK",
    "VERSION_TABLE",
    "UTCDateTime",
    "metadata",
    "tasks",
]

# Alembic's bookkeeping table; named for this service so it can share a schema.
VERSION_TABLE = "tasks_alembic_version"

# Stored as a rank so that "sort by priority" is a plain ORDER BY on both backends.
PRIORITIES: tuple[str, ...] = ("low", "normal", "high")
PRIORITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(PRIORITIES)}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, on SQLite (naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

tasks = Table(
    "tasks",
    metadata,
    Column("id", Uuid(as_uuid=True), primary_key=True),
    Column("owner_id", String(255), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("completed", Boolean, nullable=False, default=False),
    Column("due_at", UTCDateTime, nullable=True),
    Column("priority", SmallInteger, nullable=False, default=1),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("priority IN (0, 1, 2)", name="ck_tasks_priority"),
    Index("ix_tasks_owner_created", "owner_id", "created_at", "id"),
    Index("ix_tasks_owner_due", "owner_id", "due_at", "id"),
    Index("ix_tasks_owner_priority", "owner_id", "priority", "created_at", "id"),
)
