"""The list route's direct encoder against pydantic: the same bytes for any page of rows."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from tasks_api.models import PRIORITIES
from tasks_api.routes.tasks import task_out, team_task_out
from tasks_api.schemas import TaskOut, TaskPage, TeamTaskOut, TeamTaskPage
from tasks_api.task_json import encode_page, encode_task, encode_team_page, encode_team_task

PAGE = TypeAdapter(TaskPage)
TEAM_PAGE = TypeAdapter(TeamTaskPage)
TASK = TypeAdapter(TaskOut)
TEAM_TASK = TypeAdapter(TeamTaskOut)

# Aware UTC instants, microseconds included, as UTCDateTime hands them back.
INSTANTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
ROWS = st.builds(
    SimpleNamespace,
    id=st.uuids(),
    title=st.text(min_size=1, max_size=200),
    description=st.none() | st.text(max_size=300),
    completed=st.booleans(),
    due_at=st.none() | INSTANTS,
    priority=st.integers(0, len(PRIORITIES) - 1),
    created_at=INSTANTS,
    updated_at=INSTANTS,
    version=st.integers(1, 1000),
    created_by=st.text(min_size=1, max_size=60),
)


def pydantic_json(rows: list[Any], next_cursor: str | None) -> bytes:
    return PAGE.dump_json(TaskPage(items=[task_out(row) for row in rows], next_cursor=next_cursor))


@given(rows=st.lists(ROWS, max_size=25), next_cursor=st.none() | st.text(max_size=80))
def test_the_encoder_matches_pydantic_byte_for_byte(
    rows: list[Any], next_cursor: str | None
) -> None:
    assert encode_page(rows, next_cursor) == pydantic_json(rows, next_cursor)


@given(rows=st.lists(ROWS, max_size=25), next_cursor=st.none() | st.text(max_size=80))
def test_the_team_encoder_matches_pydantic_byte_for_byte(
    rows: list[Any], next_cursor: str | None
) -> None:
    """Team pages add ``created_by`` after TaskOut's fields, as TeamTaskOut declares it."""
    expected = TEAM_PAGE.dump_json(
        TeamTaskPage(items=[team_task_out(row) for row in rows], next_cursor=next_cursor)
    )
    assert encode_team_page(rows, next_cursor) == expected


def test_an_empty_page_and_whole_second_instants() -> None:
    moment = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    row = SimpleNamespace(
        id=uuid.UUID(int=1),
        title='quote " backslash \\ line\u2028sep',
        description=None,
        completed=True,
        due_at=moment + timedelta(microseconds=5),
        priority=2,
        created_at=moment,
        updated_at=moment,
    )
    assert encode_page([], None) == pydantic_json([], None) == b'{"items":[],"next_cursor":null}'
    encoded = encode_page([row], "c")
    assert encoded == pydantic_json([row], "c")
    item = json.loads(encoded)["items"][0]
    assert item["created_at"] == "2026-11-27T16:00:00Z"
    assert item["due_at"] == "2026-11-27T16:00:00.000005Z"
    assert item["priority"] == "high"
    assert item["id"] == "00000000-0000-0000-0000-000000000001"


@given(row=ROWS)
def test_one_task_matches_pydantic_byte_for_byte(row: Any) -> None:
    """Create, read and patch answer one task, encoded the same way."""
    assert encode_task(row) == TASK.dump_json(task_out(row))
    assert encode_team_task(row) == TEAM_TASK.dump_json(team_task_out(row))
