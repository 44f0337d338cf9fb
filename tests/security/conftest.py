"""Fixtures of the security suite: the Tasks API on SQLite with two identities."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from security_support import TasksApi, running_tasks_api


@pytest.fixture
async def tasks_api(tmp_path: Path) -> AsyncIterator[TasksApi]:
    """The real Tasks API (real AuthBridge, FakeIssuer keys) with callers ``alice``/``bob``."""
    async with running_tasks_api(tmp_path) as api:
        yield api
