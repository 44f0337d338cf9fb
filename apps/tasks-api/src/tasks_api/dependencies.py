"""Request-scoped dependencies: the store, the cursor codec and access guards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.security import SecurityScopes

from authbridge import Principal
from authbridge.fastapi import require_scopes

from .cursor import CursorCodec
from .store import Store

__all__ = [
    "CODEC_STATE",
    "STORE_STATE",
    "Guard",
    "codec_of",
    "scope_guard",
    "store_of",
    "task_guard",
]

CODEC_STATE = "tasks_cursor_codec"
STORE_STATE = "tasks_store"  # store.py: where the task queries run

# An authbridge guard, called as FastAPI calls it: (request, the route's Security scopes).
Guard = Callable[[Request, SecurityScopes], Awaitable[Principal]]


# The dependencies are coroutines on purpose: FastAPI runs a plain ``def`` dependency in the
# thread pool, which cost about a fifth of a list request's CPU.
async def store_of(request: Request) -> Store:
    store: Store = getattr(request.app.state, STORE_STATE)
    return store


async def codec_of(request: Request) -> CursorCodec:
    codec: CursorCodec = getattr(request.app.state, CODEC_STATE)
    return codec


def scope_guard(scope: str, *, enforce: bool) -> Guard:
    """The guard of a task route: a caller holding ``scope``. With scopes not enforced a
    signed-in user (JWT or session) passes without it, but an API key still acts as its user
    limited by its permissions, so a read-only key never writes."""
    if enforce:
        return require_scopes(scope)
    return require_scopes(scope, credentials=("api_key",))


def task_guard(scope: str, *, enforce: bool) -> Any:
    """``Depends`` of ``scope_guard``."""
    return Depends(scope_guard(scope, enforce=enforce))
