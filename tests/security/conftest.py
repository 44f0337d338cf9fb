"""Fixtures of the security suite: the Tasks API on SQLite with two identities."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from security_support import TasksApi, running_tasks_api


@pytest.fixture
async def tasks_api(tmp_path: Path) -> AsyncIterator[TasksApi]:
    """The real Tasks API (real AuthBridge, FakeIssuer keys) with callers ``alice``/``bob``."""
    async with running_tasks_api(tmp_path) as api:
        yield api


@pytest.fixture(autouse=True)
def _restore_client_log_level() -> Iterator[None]:
    """``silence_client_logs`` lasts one test only."""
    logger = logging.getLogger("httpx")
    level = logger.level
    yield
    logger.setLevel(level)
