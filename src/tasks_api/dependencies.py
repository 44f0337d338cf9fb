"""Request-scoped dependencies: the database engine, the cursor codec and access guards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from authbridge import Principal
from authbridge.fastapi import CurrentUser, require_scopes

from .cursor import CursorCodec

__all__ = ["ENGINE_STATE", "codec_of", "engine_of", "task_guard"]

ENGINE_STATE = "tasks_engine"
CODEC_STATE = "tasks_cursor_codec"


def engine_of(request: Request) -> AsyncEngine:
    engine: AsyncEngine = getattr(request.app.state, ENGINE_STATE)
    return engine


def codec_of(request: Request) -> CursorCodec:
    codec: CursorCodec = getattr(request.app.state, CODEC_STATE)
    return codec


async def _any_user(user: CurrentUser) -> Principal:
    return user


def task_guard(scope: str, *, enforce: bool) -> Any:
    """``Depends`` for a task route: any signed-in user, or one holding ``scope``."""
    dependency: Callable[..., Any] = require_scopes(scope) if enforce else _any_user
    return Depends(dependency)
