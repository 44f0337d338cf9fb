"""SQLAlchemy statements compiled once per dialect, run on the bare driver (asyncpg, sqlite3).

SQLAlchemy stays the one place where the queries are written (repository.py) and where the
table's types say how a value is stored (models.py), and Alembic still migrates. But on the
request path its engine, connection, result and greenlet layers cost more CPU than the query
itself (docs/tasks-api.md, "Profile"). So each statement (a ``Shape``) is compiled once per
dialect into what the driver takes: its SQL text, the order of its arguments, and SQLAlchemy's
own bind processors for the columns that need one (a UUID's hex on SQLite, an aware datetime
made naive UTC text on SQLite, or checked on PostgreSQL). A request only looks the compiled
form up and lists its arguments.

Rows come back as ``Task`` tuples holding exactly the values SQLAlchemy handed back before
(``uuid.UUID``, aware UTC datetimes, ``bool``, the priority's rank), so ETags, cursors, the
JSON and the order of a page are unchanged. The conversions are written out per backend in
``task_from_sqlite`` (SQLite stores a UUID as 32 hex digits, a datetime as naive UTC text,
a boolean as 0/1) and ``Task._make`` (asyncpg already decodes every column as SQLAlchemy did).
``tests/tasks_api/test_tasks_statements.py`` checks both against SQLAlchemy's own results.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple, cast

from asyncpg.pgproto.pgproto import UUID as PgUUID  # type: ignore[import-untyped]
from sqlalchemy import Dialect
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.pysqlite import dialect as pysqlite_dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = [
    "POSTGRESQL",
    "SQLITE",
    "Compiled",
    "Shape",
    "Task",
    "task_from_sqlite",
]

POSTGRESQL: Final[Dialect] = asyncpg_dialect()  # type: ignore[no-untyped-call]
SQLITE: Final[Dialect] = pysqlite_dialect()

_REQUIRED: Final = object()


class Task(NamedTuple):
    """A row of ``tasks``, its fields in the table's column order (``select(tasks)``)."""

    id: uuid.UUID
    owner_type: str
    owner_id: str
    created_by: str
    title: str
    description: str | None
    completed: bool
    due_at: datetime | None
    priority: int
    version: int
    created_at: datetime
    updated_at: datetime


_fromisoformat = datetime.fromisoformat
# asyncpg's UUID: a ``uuid.UUID`` subclass (equal, same hash, ``hex``, ``str`` and JSON) that
# parses in C, 10× faster than ``uuid.UUID``'s own constructor; the PostgreSQL backend hands
# back the same class. A row of 20 tasks spent most of its decoding time in ``uuid.UUID``.
_UUID = PgUUID


def task_from_sqlite(row: Sequence[Any]) -> Task:
    """A SQLite row of ``tasks`` with the values SQLAlchemy's result processors made of it
    (``Uuid``, ``Boolean``, ``UTCDateTime`` over ``DATETIME`` text
    ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    # The DATETIME text is naive UTC. Parsed with its offset appended, it is 10× faster than
    # parsed naive and then ``replace(tzinfo=UTC)``, and its tzinfo is ``UTC`` itself.
    due = row[7]
    return Task._make(
        (
            _UUID(row[0]),
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            bool(row[6]),
            None if due is None else _fromisoformat(due + "+00:00"),
            row[8],
            row[9],
            _fromisoformat(row[10] + "+00:00"),
            _fromisoformat(row[11] + "+00:00"),
        )
    )


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement for one dialect: SQL text and how to list its arguments."""

    sql: str
    names: tuple[str, ...]  # the bound parameter of each position, in order
    defaults: tuple[Any, ...]  # a literal's value (``version + 1``), or _REQUIRED
    processors: tuple[Callable[[Any], Any] | None, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The driver's positional arguments for ``params`` (bound parameter -> value)."""
        arguments = []
        for name, default, process in zip(self.names, self.defaults, self.processors, strict=True):
            value = params[name] if default is _REQUIRED else params.get(name, default)
            arguments.append(value if process is None else process(value))
        return arguments


def compile_for(statement: ClauseElement, dialect: Dialect) -> Compiled:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    names = tuple(compiled.positiontup or ())
    binds = compiled.binds
    defaults, processors = [], []
    for name in names:
        bind = binds[name]
        defaults.append(_REQUIRED if bind.required else bind.value)
        processors.append(bind.type.dialect_impl(dialect).bind_processor(dialect))
    return Compiled(compiled.string, names, tuple(defaults), tuple(processors))


class Shape:
    """A statement, compiled for each dialect the first time that dialect runs it.

    ``tasks``: its rows are whole ``tasks`` rows, handed back as ``Task``; otherwise as
    plain tuples."""

    __slots__ = ("_compiled", "statement", "tasks")

    def __init__(self, statement: ClauseElement, *, tasks: bool = False) -> None:
        self.statement = statement
        self.tasks = tasks
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = compile_for(self.statement, dialect)
        return found
