"""How a Better Auth credential verifier (sessions, API keys) starts and stops.

Each holds up to two stores and a cache: a database store, whose connection is checked at
start, a remote store (Better Auth's get-session), which connects on first use, and a
``CredentialCache`` that is emptied when the verifier closes.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    from authbridge.ttl_cache import CredentialCache

__all__ = ["StoreLifecycle"]


class _Store(Protocol):
    async def aclose(self) -> None: ...


class _DatabaseStore(_Store, Protocol):
    async def start(self) -> None: ...


class StoreLifecycle:
    """``start``, ``aclose`` and ``async with`` for a verifier's ``_database``, ``_remote``
    and ``_cache``, which its ``__init__`` sets."""

    _database: _DatabaseStore | None
    _remote: _Store | None
    _cache: CredentialCache[Any]

    async def start(self) -> None:
        """Check the database connection (database mode). Remote mode connects lazily."""
        if self._database is not None:
            await self._database.start()

    async def aclose(self) -> None:
        if self._database is not None:
            await self._database.aclose()
        if self._remote is not None:
            await self._remote.aclose()
        self._cache.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
