"""The reference Tasks API: a FastAPI service whose every route is guarded by authbridge."""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    # Lazy, so ``python -m tasks_api migrate`` does not build the web app's imports.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
