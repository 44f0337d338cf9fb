"""Request and response bodies. Input models forbid unknown fields and refuse ``null``
where a value is required; text is checked for control characters and lone surrogates."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

__all__ = [
    "AdminStats",
    "ErrorBody",
    "Me",
    "Priority",
    "TaskCreate",
    "TaskOut",
    "TaskPage",
    "TaskUpdate",
]

Priority = Literal["low", "normal", "high"]

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
_EARLIEST_DUE = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST_DUE = datetime(9999, 12, 30, tzinfo=UTC)
_DESCRIPTION_WHITESPACE = frozenset("\t\n\r")
# Cc control, Cs lone surrogate, Zl/Zp line and paragraph separators: none belong in a title.
_TITLE_FORBIDDEN = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _require_str(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _clean_title(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty or only whitespace")
    if len(value) > TITLE_MAX:
        raise ValueError(f"must be at most {TITLE_MAX} characters")
    if any(unicodedata.category(char) in _TITLE_FORBIDDEN for char in value):
        raise ValueError("must not contain control characters")
    return value


def _clean_description(value: str) -> str:
    if len(value) > DESCRIPTION_MAX:
        raise ValueError(f"must be at most {DESCRIPTION_MAX} characters")
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs" or (category == "Cc" and char not in _DESCRIPTION_WHITESPACE):
            raise ValueError("must not contain control characters other than tab and newlines")
    return value


def _due_from_text(value: Any) -> Any:
    # Only ISO 8601 text: pydantic would otherwise read numbers as Unix timestamps.
    if value is not None and not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string with a timezone")
    return value


def _due_in_range(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a timezone offset")
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("is out of range") from None
    if not _EARLIEST_DUE <= value <= _LATEST_DUE:
        raise ValueError("must be between 1900-01-01 and 9999-12-30")
    return value


Title = Annotated[str, BeforeValidator(_require_str), AfterValidator(_clean_title)]
Description = Annotated[str, BeforeValidator(_require_str), AfterValidator(_clean_description)]
DueAt = Annotated[datetime | None, BeforeValidator(_due_from_text), AfterValidator(_due_in_range)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskCreate(_Input):
    """A new task. The owner is always the caller; it cannot be sent."""

    title: Title = Field(description="1-200 characters, trimmed, no control characters.")
    description: Description | None = Field(default=None, description="At most 10,000 chars.")
    completed: StrictBool = False
    due_at: DueAt = Field(default=None, description="ISO 8601 with a timezone, or null.")
    priority: Priority = "normal"


_NOT_NULLABLE = ("title", "completed", "priority")


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null")
    return value


class TaskUpdate(_Input):
    """A partial update: only the fields sent change. ``null`` clears description and due_at."""

    title: Annotated[Title | None, BeforeValidator(_not_null)] = None
    description: Description | None = None
    completed: Annotated[StrictBool | None, BeforeValidator(_not_null)] = None
    due_at: DueAt = None
    priority: Annotated[Priority | None, BeforeValidator(_not_null)] = None

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class TaskOut(BaseModel):
    id: UUID
    title: str
    description: str | None
    completed: bool
    due_at: datetime | None
    priority: Priority
    created_at: datetime
    updated_at: datetime


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None = Field(description="Pass back as `cursor`; null on the last page.")


class Me(BaseModel):
    """The caller, as this API sees the verified credential."""

    sub: str
    email: str | None
    name: str | None
    roles: list[str]
    scopes: list[str]
    session_id: str | None
    issuer: str
    expires_at: datetime | None
    credential: Literal["jwt", "session"]


class AdminStats(BaseModel):
    tasks: int
    completed: int
    open: int
    owners: int
    by_priority: dict[Priority, int]


class ErrorBody(BaseModel):
    detail: str
    code: str
