"""Request and response bodies. Input models forbid unknown fields and refuse ``null``
where a value is required; text is checked for control characters and lone surrogates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from .patterns import (
    DESCRIPTION_PATTERN,
    DUE_AT_PATTERN,
    TITLE_MAX,
    TITLE_PATTERN,
    compiled,
    documented,
    due_at_shape,
)

__all__ = [
    "AdminStats",
    "ErrorBody",
    "Me",
    "Priority",
    "TaskCreate",
    "TaskOut",
    "TaskPage",
    "TaskUpdate",
    "TeamTaskOut",
    "TeamTaskPage",
]

Priority = Literal["low", "normal", "high"]

DESCRIPTION_MAX = 10_000
_TITLE = compiled(TITLE_PATTERN)
_DESCRIPTION = compiled(DESCRIPTION_PATTERN)
_DUE_AT = compiled(DUE_AT_PATTERN)


def _require_str(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _clean_title(value: str) -> str:
    # TITLE_PATTERN decides (it is the OpenAPI document's rule); the checks below only say why.
    if _TITLE.fullmatch(value) is not None:
        return value.strip()
    value = value.strip()
    if not value:
        raise ValueError("must not be empty or only whitespace")
    if len(value) > TITLE_MAX:
        raise ValueError(f"must be at most {TITLE_MAX} characters")
    raise ValueError("must not contain control characters")


def _clean_description(value: str) -> str:
    if len(value) > DESCRIPTION_MAX:
        raise ValueError(f"must be at most {DESCRIPTION_MAX} characters")
    if _DESCRIPTION.fullmatch(value) is None:
        raise ValueError("must not contain control characters other than tab and newlines")
    return value


def _due_from_text(value: Any) -> Any:
    # Only RFC 3339 text (DUE_AT_PATTERN): pydantic would also read numbers as Unix timestamps,
    # and text such as "2030-01-01 10:00Z" that the OpenAPI `date-time` format refuses.
    if not isinstance(value, str) or not due_at_shape(value):
        raise ValueError(
            "must be an RFC 3339 date-time with a timezone, such as 2030-05-01T17:00:00+02:00"
        )
    if _DUE_AT.fullmatch(value) is None:
        raise ValueError("must be between 1900-01-01 and 9999-12-30")
    return value


def _due_in_utc(value: datetime) -> datetime:
    # Within DUE_AT_PATTERN's dates and offsets the conversion cannot leave datetime's range.
    return value.astimezone(UTC)


Title = Annotated[
    str,
    BeforeValidator(_require_str),
    AfterValidator(_clean_title),
    documented(TITLE_PATTERN),
]
Description = Annotated[
    str,
    BeforeValidator(_require_str),
    AfterValidator(_clean_description),
    documented(DESCRIPTION_PATTERN, maxLength=DESCRIPTION_MAX),
]
DueAt = Annotated[
    datetime,
    BeforeValidator(_due_from_text),
    AfterValidator(_due_in_utc),
    documented(DUE_AT_PATTERN, format="date-time"),
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskCreate(_Input):
    """A new task. The owner is always the caller; it cannot be sent."""

    title: Title = Field(description="1-200 characters, trimmed, no control characters.")
    description: Description | None = Field(default=None, description="At most 10,000 chars.")
    completed: StrictBool = False
    due_at: DueAt | None = Field(
        default=None, description="RFC 3339 with a timezone, 1900-01-01 to 9999-12-30, or null."
    )
    priority: Priority = "normal"


_NOT_NULLABLE = ("title", "completed", "priority")


def _not_nullable(schema: dict[str, Any]) -> None:
    """Drop ``null`` (and the ``None`` default) from a field's JSON schema. Validation keeps
    ``X | None``, whose errors pydantic reports at the field itself, unlike a union's."""
    schema.pop("default", None)
    branches = [branch for branch in schema.pop("anyOf", []) if branch != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches


# A default of None that means "not sent": the OpenAPI document offers no null (422 here).
_NOT_SENT: Any = Field(default=None, json_schema_extra=_not_nullable)


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null")
    return value


class TaskUpdate(_Input):
    """A partial update: only the fields sent change. ``null`` clears description and due_at."""

    title: Annotated[Title | None, BeforeValidator(_not_null)] = _NOT_SENT
    description: Description | None = None
    completed: Annotated[StrictBool | None, BeforeValidator(_not_null)] = _NOT_SENT
    due_at: DueAt | None = None
    priority: Annotated[Priority | None, BeforeValidator(_not_null)] = _NOT_SENT

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


class TeamTaskOut(TaskOut):
    """A task of the caller's active organization."""

    created_by: str = Field(description="The `sub` of the member who created the task.")


class TeamTaskPage(BaseModel):
    items: list[TeamTaskOut]
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
    credential: Literal["jwt", "session", "api_key"]
    organization_id: str | None = Field(
        description="The active organization (Better Auth's organization plugin); null: none."
    )
    organization_role: str | None = Field(
        description='The caller\'s role in it, as Better Auth stores it (e.g. "admin,member").'
    )
    impersonator: str | None = Field(
        description="The admin impersonating the caller (Better Auth's admin plugin); null: none."
    )


class AdminStats(BaseModel):
    tasks: int
    completed: int
    open: int
    owners: int
    by_priority: dict[Priority, int]


class ErrorBody(BaseModel):
    detail: str
    code: str
