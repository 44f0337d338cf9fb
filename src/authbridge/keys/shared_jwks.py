"""A ``RemoteJWKS`` whose fetches are shared through Redis: N workers, one fetch.

Before going to the issuer, an instance looks for a copy of the JWK Set in Redis. If there is
none, it takes a short Redis lock and fetches; the others wait briefly for its copy instead of
fetching too. Every rule of ``RemoteJWKS`` still applies (TTL, stale-while-revalidate,
unknown-kid refetch with cooldown, single flight per process, stale-if-error, size caps, key
hygiene): this class only changes where the document comes from. A refresh past the TTL runs
in the background, so its waits (for the lock, another instance's copy, or the issuer) delay
no lookup of a known kid.

* The shared copy expires with the TTL the issuer asked for (``Cache-Control``); an instance
  that reads it gets only the time left, so no copy outlives the issuer's TTL.
* An unknown kid (a rotation) ignores a shared copy that is not newer than the one this
  instance already has, so a new key is fetched from the issuer, once for all instances.
* Redis is only a cache here: if it fails, each instance fetches for itself (logged once per
  outage). A Redis that others can write to could inject keys, so it must be as private as
  the path to the issuer (see docs/deploy.md).
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("authbridge.keys.shared_jwks", "redis", redis="Redis")

import asyncio
import hashlib
import json
import logging
import math
import secrets
import time
from typing import TYPE_CHECKING, Any, Final

from ..jose.strict_json import loads_object
from .jwk import parse_jwks
from .remote import RemoteJWKS, ttl_from_cache_control

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["SharedRemoteJWKS"]

logger = logging.getLogger("authbridge.keys")

_RELEASE: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_POLL_SECONDS: Final = 0.05


class SharedRemoteJWKS(RemoteJWKS):
    """``RemoteJWKS`` plus a JWK Set copy and a fetch lock in Redis."""

    def __init__(
        self,
        url: str,
        *,
        redis_url: str,
        prefix: str = "authbridge:",
        redis_timeout: float = 0.5,
        **options: Any,
    ) -> None:
        super().__init__(url, **options)
        digest = hashlib.sha256(str(self.url).encode()).hexdigest()[:32]
        self.shared_key = f"{prefix}jwks:{digest}"
        self._lock_key = f"{self.shared_key}:lock"
        self._redis_url = redis_url
        self._redis_timeout = redis_timeout
        self._redis_client: Redis | None = None
        self._redis_loop: asyncio.AbstractEventLoop | None = None
        self._routine_fetch = True
        self._lock_token: str | None = None  # ours while we fetch for everyone
        self._have_copy_from = -math.inf  # wall time at which our current document was fetched
        self._redis_down = False
        self.shared_hits = 0  # documents taken from Redis instead of the issuer

    async def _fetch_and_store(self, reason: str, routine: bool, seq: int) -> bool:
        self._routine_fetch = routine  # read by _download; one fetch in flight per process
        return await super()._fetch_and_store(reason, routine, seq)

    async def _download(self) -> tuple[Any, str | None]:
        try:
            shared = await self._from_redis()
        except Exception as exc:  # noqa: BLE001 - Redis is only a cache: fetch directly
            self._note_redis_failure(exc)
            return await super()._download()
        if shared is not None:
            return shared
        try:
            document, cache_control = await super()._download()
        except BaseException:
            await self._release()
            raise
        await self._publish(document, cache_control)
        return document, cache_control

    async def aclose(self) -> None:
        await super().aclose()
        client, self._redis_client = self._redis_client, None
        if client is not None and self._redis_loop is asyncio.get_running_loop():
            await client.aclose()

    # --- Redis --------------------------------------------------------------------------------

    async def _from_redis(self) -> tuple[Any, str | None] | None:
        """A usable shared copy, waiting for another instance's fetch if one is under way;
        None when this instance should fetch (it then holds the lock, if it could get it)."""
        client = self._redis()
        copy = await self._read(client)
        if copy is not None:
            return copy
        token = secrets.token_hex(8)
        lock_ms = int((self._timeout + 1) * 1000)
        if await client.set(self._lock_key, token, nx=True, px=lock_ms):
            self._lock_token = token
            return None
        deadline = time.monotonic() + self._timeout + 1
        while time.monotonic() < deadline:  # another instance is fetching: wait for its copy
            await asyncio.sleep(_POLL_SECONDS)
            copy = await self._read(client)
            if copy is not None:
                return copy
        self._lock_token = None
        return None  # it did not finish in time: fetch ourselves

    async def _read(self, client: Redis) -> tuple[Any, str | None] | None:
        raw, ttl_ms = await asyncio.gather(
            client.get(self.shared_key), client.pttl(self.shared_key)
        )
        if raw is None or ttl_ms is None or ttl_ms <= 0:
            return None
        if len(raw) > self._max_bytes + 256:
            return None
        try:
            entry = loads_object(raw if isinstance(raw, bytes) else raw.encode())
            document, fetched_at = entry["document"], float(entry["fetched_at"])
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(document, dict) or not math.isfinite(fetched_at):
            return None
        try:  # a copy without one usable key is ignored (and replaced by our fetch)
            if not parse_jwks(
                document, rsa_algorithm=self._rsa_algorithm, max_keys=self._max_keys
            ).keys:
                return None
        except ValueError:
            return None
        # An unknown kid needs a newer set than ours: another instance's refetch, or the issuer.
        if not self._routine_fetch and fetched_at <= self._have_copy_from:
            return None
        self._have_copy_from = fetched_at
        self.shared_hits += 1
        self._redis_back()
        return document, f"max-age={max(1, ttl_ms // 1000)}"

    async def _publish(self, document: Any, cache_control: str | None) -> None:
        fetched_at = time.time()
        self._have_copy_from = fetched_at
        ttl = ttl_from_cache_control(
            cache_control, default=self._ttl, min_ttl=self._min_ttl, max_ttl=self._max_ttl
        )
        entry = json.dumps({"fetched_at": fetched_at, "document": document})
        try:
            client = self._redis()
            await client.set(self.shared_key, entry, px=max(1, int(ttl * 1000)))
            self._redis_back()
        except Exception as exc:  # noqa: BLE001 - the keys are fetched; sharing them is a bonus
            self._note_redis_failure(exc)
        await self._release()

    async def _release(self) -> None:
        token, self._lock_token = self._lock_token, None
        if token is None:
            return
        try:
            await self._redis().eval(_RELEASE, 1, self._lock_key, token)
        except Exception as exc:  # noqa: BLE001 - the lock expires by itself
            self._note_redis_failure(exc)

    def _redis(self) -> Redis:
        loop = asyncio.get_running_loop()
        if self._redis_client is None or self._redis_loop is not loop:
            from redis.asyncio import Redis

            self._redis_client = Redis.from_url(
                self._redis_url,
                socket_timeout=self._redis_timeout,
                socket_connect_timeout=self._redis_timeout,
            )
            self._redis_loop = loop
        return self._redis_client

    def _note_redis_failure(self, error: BaseException) -> None:
        if not self._redis_down:
            self._redis_down = True
            logger.warning(
                "shared JWKS cache unavailable (%s); fetching keys directly until it is back",
                type(error).__name__,
            )

    def _redis_back(self) -> None:
        if self._redis_down:
            self._redis_down = False
            logger.info("shared JWKS cache reachable again")
