"""Tasks encoded to JSON straight from database rows: a page, or one task.

The list route is the API's busiest. Building 20 ``TaskOut`` models and having FastAPI check
and serialize them cost about a third of a list request's CPU outside the database. The rows
come from our own table through typed columns, so there is nothing left to validate: this
module encodes them with msgspec, byte for byte as pydantic would encode a ``TaskPage`` (same
field order, RFC 3339 ``Z`` times, lower-case UUIDs; ``tests/tasks_api/test_task_json.py``
checks that against pydantic). The route still declares ``TaskPage`` for the OpenAPI document.
The routes answering one task (create, read, patch) encode it the same way, as ``TaskOut``
(or ``TeamTaskOut``) would be.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import msgspec

from .models import PRIORITIES

__all__ = ["encode_page", "encode_task", "encode_team_page", "encode_team_task"]


class _Task(msgspec.Struct):
    # Field order is the JSON key order: the same as schemas.TaskOut.
    id: uuid.UUID
    title: str
    description: str | None
    completed: bool
    due_at: datetime | None
    priority: str
    created_at: datetime
    updated_at: datetime


class _TeamTask(_Task):
    # schemas.TeamTaskOut: TaskOut's fields, then this one (a subclass's fields come last).
    created_by: str


class _Page(msgspec.Struct):
    items: list[_Task]
    next_cursor: str | None


class _TeamPage(msgspec.Struct):
    items: list[_TeamTask]
    next_cursor: str | None


_ENCODER: Final = msgspec.json.Encoder()


_Values = tuple[uuid.UUID, str, str | None, bool, datetime | None, str, datetime, datetime]


def _values(row: Any) -> _Values:
    """The one place a row's fields become ``_Task``'s, in its order (``schemas.TaskOut``'s)."""
    return (
        row.id,
        row.title,
        row.description,
        row.completed,
        row.due_at,
        PRIORITIES[row.priority],
        row.created_at,
        row.updated_at,
    )


def _task(row: Any) -> _Task:
    return _Task(*_values(row))


def _team_task(row: Any) -> _TeamTask:
    # ``_Task``'s fields, then ``created_by`` (``schemas.TeamTaskOut``).
    return _TeamTask(*_values(row), row.created_by)


def encode_page(rows: Sequence[Any], next_cursor: str | None) -> bytes:
    """``TaskPage(items=[task_out(row) ...], next_cursor=...)`` as pydantic's JSON."""
    return _ENCODER.encode(_Page([_task(row) for row in rows], next_cursor))


def encode_team_page(rows: Sequence[Any], next_cursor: str | None) -> bytes:
    """``TeamTaskPage(items=[team_task_out(row) ...], next_cursor=...)`` as pydantic's JSON."""
    return _ENCODER.encode(_TeamPage([_team_task(row) for row in rows], next_cursor))


def encode_task(row: Any) -> bytes:
    """``task_out(row)`` as pydantic's JSON."""
    return _ENCODER.encode(_task(row))


def encode_team_task(row: Any) -> bytes:
    """``team_task_out(row)`` as pydantic's JSON."""
    return _ENCODER.encode(_team_task(row))
