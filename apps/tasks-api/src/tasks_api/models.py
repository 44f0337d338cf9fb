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
    "OWNER_TYPES",
    "PRIORITIES",
    "PRIORITY_RANK",
    "VERSION_TABLE",
    "UTCDateTime",
    "metadata",
    "tasks",
]

# Alembic's bookkeeping table; named for this service so it can share a schema.
VERSION_TABLE = "tasks_alembic_version"

# Who owns a task: a user (``owner_id`` is their ``sub``) or an organization (its id). The pair
# is the owner key; every query names both, so a sub that happens to equal an organization id
# still owns nothing of that organization's.
OWNER_TYPES: tuple[str, ...] = ("user", "organization")

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
    Column("owner_type", String(12), nullable=False),
    Column("owner_id", String(255), nullable=False),
    # The sub of the user who created the task (for a personal task, its owner).
    Column("created_by", String(255), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("completed", Boolean, nullable=False, default=False),
    Column("due_at", UTCDateTime, nullable=True),
    Column("priority", SmallInteger, nullable=False, default=1),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("priority IN (0, 1, 2)", name="ck_tasks_priority"),
    CheckConstraint("owner_type IN ('user', 'organization')", name="ck_tasks_owner_type"),
    # One index per sort order, each led by the owner key: a page is one index range scan.
    Index("ix_tasks_owner_created", "owner_type", "owner_id", "created_at", "id"),
    Index("ix_tasks_owner_due", "owner_type", "owner_id", "due_at", "id"),
    Index("ix_tasks_owner_priority", "owner_type", "owner_id", "priority", "created_at", "id"),
)
