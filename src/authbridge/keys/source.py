"""The ``KeySource`` protocol that every key provider implements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .jwk import VerificationKey

__all__ = ["KeySource", "KeysRemovedListener"]

KeysRemovedListener = Callable[[frozenset[str]], None]


@runtime_checkable
class KeySource(Protocol):
    """Supplies verification keys for one trusted path.

    ``cached_key`` is the synchronous fast path: it answers from memory or returns ``None``.
    ``get_key`` may do I/O and raises ``UnknownKey`` or ``KeysUnavailable``.
    """

    @property
    def symmetric(self) -> bool: ...

    def cached_key(self, kid: str | None, alg: str) -> VerificationKey | None: ...

    async def get_key(self, kid: str | None, alg: str) -> VerificationKey: ...

    def on_keys_removed(self, listener: KeysRemovedListener) -> None: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...
