"""The one entry point for Better Auth API keys: a key in, a ``Principal`` (``api_key``) out.

``remote`` asks Better Auth (get-session with the key header; the plugin validates and counts);
``database`` validates in the ``apikey`` table itself, writes included (``database.py``).
Either way the Principal's ``sub`` is the key's user, ``session_id`` the key's id, and its
scopes come from the key's permissions (``{"tasks": ["read"]}`` is ``tasks:read``). A banned
user's key is refused (``user_banned``), checked on every use, cached or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Final

from authbridge.apikeys.cache import ApiKeyCache
from authbridge.apikeys.config import ApiKeyConfig
from authbridge.apikeys.records import ApiKeyRecord
from authbridge.apikeys.rules import hash_key
from authbridge.errors import ApiKeyStoreUnavailable, InvalidApiKey
from authbridge.principal import Principal
from authbridge.sessions.lifecycle import StoreLifecycle

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from authbridge.apikeys.database import DatabaseApiKeyStore
    from authbridge.apikeys.remote import RemoteApiKeyStore

__all__ = ["ApiKeyVerifier"]

# Longer than any key Better Auth makes (64 characters and a prefix of at most 32): refused
# before it reaches the store.
MAX_KEY_LENGTH: Final = 512


class ApiKeyVerifier(StoreLifecycle):
    """Verifies Better Auth API keys; built from an :class:`ApiKeyConfig`."""

    def __init__(
        self,
        config: ApiKeyConfig,
        *,
        http_client: httpx.AsyncClient | None = None,
        engine: AsyncEngine | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self._cache: ApiKeyCache = ApiKeyCache(
            config.cache_ttl if config.mode == "database" else 0.0, config.cache_max_entries
        )
        self._database: DatabaseApiKeyStore | None = None
        self._remote: RemoteApiKeyStore | None = None
        if config.database_url and config.mode != "off":
            from authbridge.apikeys.database import DatabaseApiKeyStore

            # Remote mode reads only the key's permissions from it (get-session has none).
            self._database = DatabaseApiKeyStore(
                config.database_url,
                config.tables,
                config.user_tables,
                config_id=config.config_id,
                rate_limit=config.rate_limit,
                timeout=config.timeout,
                engine=engine,
                clock=clock,
            )
        if config.mode == "remote" and config.base_url:
            from authbridge.apikeys.remote import RemoteApiKeyStore

            self._remote = RemoteApiKeyStore(
                config.base_url, timeout=config.timeout, client=http_client
            )

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    @property
    def headers(self) -> tuple[str, ...]:
        """The request headers a key is read from, lower-case, in order of preference."""
        return self.config.headers

    async def diagnose(self) -> str | None:
        """For ``authbridge check``: None when the mode's store answers (database: the
        ``apikey`` table can be read; remote: get-session takes keys), else what failed."""
        if self._remote is not None:
            problem = await self._remote.diagnose(self.config.headers[0])
            if problem is not None:
                return problem
        if self._database is not None:
            try:
                await self._database.permissions("authbridge-check-no-such-key")
            except ApiKeyStoreUnavailable:
                return "the apikey table cannot be read (no database, or no such table)"
        return None

    async def verify(self, key: str, header: str | None = None) -> Principal:
        """An API key to a Principal, or an ``AuthError`` (``InvalidApiKey`` and its
        subclasses, ``UserBanned``, ``ServiceUnavailable``). ``header`` is the header it came
        in (remote mode forwards it under the same name); default the first configured."""
        if not self.enabled or not _plausible(key):
            raise InvalidApiKey()
        cached = self._cache.get(key)
        if cached is not None:
            cached.check_ban()
            return cached.to_principal(self.config.issuer)
        record = await self._validate(key, header or self.config.headers[0])
        self._cache.put(key, record)
        record.check_ban()
        return record.to_principal(self.config.issuer)

    async def _validate(self, key: str, header: str) -> ApiKeyRecord:
        if self._remote is not None:
            record = await self._remote.validate(key, header)
            if self._database is not None:
                scopes = await self._database.permissions(record.key_id)
                record = _with_scopes(record, scopes)
            return record
        assert self._database is not None
        if len(key) < self.config.min_key_length:
            raise InvalidApiKey()  # the plugin's get-session hook: shorter than defaultKeyLength
        return await self._database.validate(hash_key(key))


def _plausible(key: str) -> bool:
    """Printable ASCII without spaces, and not longer than any key Better Auth issues."""
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable() and " " not in key


def _with_scopes(record: ApiKeyRecord, scopes: frozenset[str]) -> ApiKeyRecord:
    return replace(record, scopes=scopes)
