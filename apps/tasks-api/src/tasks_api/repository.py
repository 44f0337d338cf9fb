"""Every query the API runs. Each one is scoped to an owner, except the admin statistics.

An owner is a user (personal tasks) or an organization (team tasks): ``Owner``. Every
statement below names the whole owner key, ``owner_type`` and ``owner_id``, as bound values,
so one implementation serves both kinds of task and neither can reach the other's rows.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from .cursor import InvalidCursor
from .models import PRIORITIES, PRIORITY_RANK, tasks
from .statements import Shape, Task
from .store import Connection

__all__ = [
    "Owner",
    "OwnerType",
    "Page",
    "Sort",
    "count_stats",
    "delete_task",
    "get_task",
    "insert_task",
    "list_tasks",
    "position_of",
    "update_task",
]

Sort = Literal["created", "due", "priority"]
TaskRow = Task
OwnerType = Literal["user", "organization"]


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose tasks: a user's (``id`` is their ``sub``) or an organization's (its id)."""

    type: OwnerType
    id: str

    @classmethod
    def user(cls, sub: str) -> Owner:
        return cls("user", sub)

    @classmethod
    def organization(cls, organization_id: str) -> Owner:
        return cls("organization", organization_id)


def _now() -> datetime:
    return datetime.now(UTC)


def _to_storage(fields: dict[str, Any]) -> dict[str, Any]:
    stored = dict(fields)
    if "priority" in stored:
        stored["priority"] = PRIORITY_RANK[stored["priority"]]
    return stored


# Every statement is built once per shape and cached: values are bound parameters, so a
# request neither builds an expression tree nor compiles it (statements.py).
_INSERT: Final = Shape(insert(tasks).returning(*tasks.c), tasks=True)


def _by_id(*, versioned: bool) -> list[ColumnElement[bool]]:
    """The task named by ``task_id``, of the owner ``owner_kind``/``owner``, optionally at
    version ``expected``."""
    conditions = [
        tasks.c.id == bindparam("task_id"),
        tasks.c.owner_type == bindparam("owner_kind"),
        tasks.c.owner_id == bindparam("owner"),
    ]
    if versioned:
        conditions.append(tasks.c.version == bindparam("expected"))
    return conditions


_GET: Final = Shape(select(tasks).where(*_by_id(versioned=False)), tasks=True)
_DELETE: Final = {
    flag: Shape(delete(tasks).where(*_by_id(versioned=flag))) for flag in (False, True)
}


@functools.cache
def _update_statement(columns: tuple[str, ...], versioned: bool) -> Shape:
    """One UPDATE per set of changed columns (at most 2⁵) and condition."""
    changes: dict[str, Any] = {name: bindparam(f"new_{name}") for name in columns}
    statement = (
        update(tasks)
        .where(*_by_id(versioned=versioned))
        .values(**changes, version=tasks.c.version + 1, updated_at=bindparam("now"))
        .returning(*tasks.c)
    )
    return Shape(statement, tasks=True)


def _key(owner: Owner, task_id: uuid.UUID) -> dict[str, Any]:
    return {"task_id": task_id, "owner_kind": owner.type, "owner": owner.id}


async def insert_task(
    conn: Connection, owner: Owner, created_by: str, fields: dict[str, Any]
) -> TaskRow:
    now = _now()
    values = {
        "id": uuid.uuid4(),
        "owner_type": owner.type,
        "owner_id": owner.id,
        "created_by": created_by,
        "description": None,
        "completed": False,
        "due_at": None,
        "priority": "normal",
        **fields,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    (row,) = await conn.fetch(_INSERT, _to_storage(values))
    inserted: TaskRow = row
    return inserted


async def get_task(conn: Connection, owner: Owner, task_id: uuid.UUID) -> TaskRow | None:
    rows = await conn.fetch(_GET, _key(owner, task_id))
    return rows[0] if rows else None


async def update_task(
    conn: Connection,
    owner: Owner,
    task_id: uuid.UUID,
    changes: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> TaskRow | None:
    """Apply ``changes`` atomically; None if the task is gone or its version moved on."""
    stored = _to_storage(changes)
    params = _key(owner, task_id)
    params.update({f"new_{name}": value for name, value in stored.items()})
    params["now"] = _now()
    if expected_version is not None:
        params["expected"] = expected_version
    statement = _update_statement(tuple(sorted(stored)), expected_version is not None)
    rows = await conn.fetch(statement, params)
    return rows[0] if rows else None


async def delete_task(
    conn: Connection, owner: Owner, task_id: uuid.UUID, *, expected_version: int | None = None
) -> bool:
    params = _key(owner, task_id)
    if expected_version is not None:
        params["expected"] = expected_version
    return await conn.execute(_DELETE[expected_version is not None], params) > 0


# --- listing: keyset pagination ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[TaskRow]
    last_position: list[Any] | None  # set when another page follows


def position_of(row: TaskRow, sort: Sort) -> list[Any]:
    """The row's place in the sort order, as JSON-friendly values for a cursor."""
    ident = row.id.hex
    if sort == "created":
        return [row.created_at.isoformat(), ident]
    if sort == "due":
        return [row.due_at.isoformat() if row.due_at else None, ident]
    return [row.priority, row.created_at.isoformat(), ident]


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidCursor("bad position")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidCursor("bad position") from None
    if parsed.tzinfo is None:
        raise InvalidCursor("bad position")
    return parsed


def _ident(value: Any) -> uuid.UUID:
    if not isinstance(value, str) or len(value) != 32:
        raise InvalidCursor("bad position")
    try:
        return uuid.UUID(hex=value)
    except ValueError:
        raise InvalidCursor("bad position") from None


def _after_values(sort: Sort, position: list[Any]) -> tuple[str, dict[str, Any]]:
    """Which "after" condition a cursor position needs, and its values (or ``InvalidCursor``)."""
    if sort == "created" and len(position) == 2:
        return "created", {"after_at": _instant(position[0]), "after_id": _ident(position[1])}
    if sort == "due" and len(position) == 2:
        ident = _ident(position[1])
        if position[0] is None:
            return "due_unset", {"after_id": ident}
        return "due", {"after_at": _instant(position[0]), "after_id": ident}
    if sort == "priority" and len(position) == 3:
        rank = position[0]
        if type(rank) is not int or not 0 <= rank < len(PRIORITIES):
            raise InvalidCursor("bad position")
        created, ident = _instant(position[1]), _ident(position[2])
        return "priority", {"after_rank": rank, "after_at": created, "after_id": ident}
    raise InvalidCursor("bad position")


def _after_condition(shape: str) -> ColumnElement[bool]:
    """Rows strictly after the cursor's position in the sort order."""
    c = tasks.c
    at: BindParameter[Any] = bindparam("after_at")
    ident: BindParameter[Any] = bindparam("after_id")
    if shape == "created":
        return or_(c.created_at < at, and_(c.created_at == at, c.id < ident))
    if shape == "due_unset":
        return and_(c.due_at.is_(None), c.id > ident)
    if shape == "due":
        return or_(c.due_at > at, and_(c.due_at == at, c.id > ident), c.due_at.is_(None))
    rank: BindParameter[Any] = bindparam("after_rank")
    return or_(
        c.priority < rank,
        and_(c.priority == rank, or_(c.created_at < at, and_(c.created_at == at, c.id < ident))),
    )


_ORDER = {
    "created": (tasks.c.created_at.desc(), tasks.c.id.desc()),
    "due": (tasks.c.due_at.asc().nulls_last(), tasks.c.id.asc()),
    "priority": (tasks.c.priority.desc(), tasks.c.created_at.desc(), tasks.c.id.desc()),
}
_LIKE_ESCAPE = "/"


@functools.cache
def _list_statement(sort: Sort, by_completed: bool, by_search: bool, after: str | None) -> Shape:
    """One statement per shape of query, built once: values are bound parameters, so a list
    request neither builds an expression tree nor computes its cache key (at most
    3 × 2 × 2 × 3 shapes)."""
    query = select(tasks).where(
        tasks.c.owner_type == bindparam("owner_type"), tasks.c.owner_id == bindparam("owner")
    )
    if by_completed:
        query = query.where(tasks.c.completed == bindparam("completed"))
    if by_search:
        query = query.where(tasks.c.title.icontains(bindparam("search"), escape=_LIKE_ESCAPE))
    if after is not None:
        query = query.where(_after_condition(after))
    return Shape(query.order_by(*_ORDER[sort]).limit(bindparam("limit")), tasks=True)


def _like_literal(text: str) -> str:
    """``text`` matched literally by LIKE: the escape character, ``%`` and ``_`` escaped."""
    escaped = text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
    return escaped.replace("%", _LIKE_ESCAPE + "%").replace("_", _LIKE_ESCAPE + "_")


async def list_tasks(
    conn: Connection,
    owner: Owner,
    *,
    sort: Sort,
    limit: int,
    completed: bool | None = None,
    search: str | None = None,
    after: list[Any] | None = None,
) -> Page:
    params: dict[str, Any] = {"owner_type": owner.type, "owner": owner.id, "limit": limit + 1}
    if completed is not None:
        params["completed"] = completed
    if search:
        params["search"] = _like_literal(search)
    shape = None
    if after is not None:
        shape, values = _after_values(sort, after)
        params.update(values)
    query = _list_statement(sort, completed is not None, bool(search), shape)
    rows = await conn.fetch(query, params)
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, position_of(rows[-1], sort))
    return Page(rows, None)


_OWNER_KEYS: Final = select(tasks.c.owner_type, tasks.c.owner_id).distinct().subquery()
_TOTALS: Final = Shape(
    select(
        func.count(),
        func.coalesce(func.sum(case((tasks.c.completed, 1), else_=0)), 0),
        select(func.count()).select_from(_OWNER_KEYS).scalar_subquery(),
    ).select_from(tasks)
)
_BY_PRIORITY: Final = Shape(select(tasks.c.priority, func.count()).group_by(tasks.c.priority))


async def count_stats(conn: Connection) -> dict[str, Any]:
    """Task counts across every owner, users and organizations (admin only)."""
    (totals,) = await conn.fetch(_TOTALS, {})
    grouped = await conn.fetch(_BY_PRIORITY, {})
    by_rank = {int(rank): int(count) for rank, count in grouped}
    total, done, owners = int(totals[0]), int(totals[1]), int(totals[2])
    return {
        "tasks": total,
        "completed": done,
        "open": total - done,
        "owners": owners,
        "by_priority": {name: int(by_rank.get(rank, 0)) for rank, name in enumerate(PRIORITIES)},
    }
