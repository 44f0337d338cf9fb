"""Revocation shared by every instance: "sign out everywhere" takes effect within a second.

Two kinds of entry, both keyed by issuer:

* **session** ``(iss, sid)``: every credential carrying that session id is refused (JWTs by
  their ``sid`` claim, Better Auth session credentials by their session id);
* **user cutoff** ``(iss, sub) -> not_before``: every JWT for that user whose ``iat`` is before
  ``not_before`` is refused. Tokens issued in the same second as the cutoff are refused too
  (``iat`` has whole seconds), so a fresh sign-in works from the next second. Session
  credentials carry no ``iat``; they are revoked by session id (and Better Auth deletes them).

The check on the request path (``allows``) reads two in-memory dicts and does no I/O, so it
also runs on token-cache hits at no measurable cost. With Redis, every instance keeps its dicts
current from a pub/sub channel (milliseconds) and a periodic full resync (which also repairs
anything missed while disconnected). Redis is the source of truth; entries are kept for
``retention`` seconds, which must cover the longest-lived credential.

If Redis fails, ``failure="open"`` keeps serving with the last known list (revocations made
during the outage reach this instance when it reconnects) and ``failure="closed"`` refuses every
credential with a 503 until the list is current again. Both log the outage.

Admin path: ``await revocations.revoke_session(iss, sid)``, ``await revocations.revoke_user(iss,
sub)``, or from a shell ``authbridge revoke session ISS SID`` / ``authbridge revoke user ISS SUB``
(reads ``AUTHBRIDGE_REDIS_URL`` and ``AUTHBRIDGE_REDIS_PREFIX``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal

from .errors import RevocationUnavailable, TokenRevoked
from .extras import require_extra
from .principal import Principal

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .config import Settings

__all__ = ["RevocationList", "RevocationUnavailable", "revoke_once"]

logger = logging.getLogger("authbridge.revocation")

FailureMode = Literal["open", "closed"]
_SESSION: Final = "session"
_USER: Final = "user"
_MAX_ID_LENGTH: Final = 512
_BACKOFF_MAX: Final = 5.0


def _field(issuer: str, ident: str) -> str:
    # JSON, so no issuer or id can forge a separator.
    return json.dumps([issuer, ident], separators=(",", ":"))


def _parse_field(raw: str | bytes) -> tuple[str, str] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(part, str) and 0 < len(part) <= _MAX_ID_LENGTH for part in value)
    ):
        return value[0], value[1]
    return None


def _parse_time(raw: object) -> float | None:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class RevocationList:
    """Revoked sessions and per-user cutoffs, checked in memory, shared through Redis.

    Without ``redis_url`` the list lives in this process only (one instance, or tests).
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        prefix: str = "authbridge:",
        failure: FailureMode = "open",
        resync_interval: float = 30.0,
        retention: float = 7 * 24 * 3600.0,
        timeout: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if failure not in ("open", "closed"):
            raise ValueError("failure must be 'open' or 'closed'")
        if resync_interval <= 0 or retention <= 0 or timeout <= 0:
            raise ValueError("resync_interval, retention and timeout must be positive")
        if redis_url is not None:
            require_extra("authbridge.revocation with a Redis URL", "redis", redis="Redis")
        self._url = redis_url
        self.failure: FailureMode = failure
        self._resync_interval = resync_interval
        self._retention = retention
        self._timeout = timeout
        self._clock = clock
        self._sessions_key = f"{prefix}revoked:sessions"
        self._users_key = f"{prefix}revoked:users"
        self.channel = f"{prefix}revocations"
        self._sessions: dict[tuple[str, str], float] = {}  # (iss, sid) -> revoked at
        self._not_before: dict[tuple[str, str], float] = {}  # (iss, sub) -> cutoff
        # Whether the in-memory list is known to be current. Without Redis it always is.
        self._current = redis_url is None
        self._usable = self._current or failure == "open"
        self._client: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_sync: float | None = None  # clock time of the last full resync
        self.outages = 0  # times the connection to Redis was lost

    # --- the request path (sync, in memory) ---------------------------------------------------

    def allows(self, principal: Principal) -> bool:
        """False if ``principal`` is revoked, or if the list is unusable (closed mode)."""
        if not self._usable:
            return False
        if self._sessions:
            sid = principal.session_id
            if sid is not None and (principal.issuer, sid) in self._sessions:
                return False
        if self._not_before:
            cutoff = self._not_before.get((principal.issuer, principal.sub))
            if cutoff is not None:
                iat = principal.claims.get("iat")
                if principal.credential == "jwt" and (
                    not isinstance(iat, int | float) or iat < cutoff
                ):
                    return False
        return True

    def check(self, principal: Principal) -> None:
        """Raise ``TokenRevoked`` or ``RevocationUnavailable`` unless ``principal`` may pass."""
        if self.allows(principal):
            return
        if not self._usable:
            raise RevocationUnavailable(retry_after=1)
        raise TokenRevoked()

    @property
    def current(self) -> bool:
        """Whether the list is known to be up to date (Redis reachable, or no Redis)."""
        return self._current

    @property
    def started(self) -> bool:
        if self._url is None:
            return True
        task = self._task
        return task is not None and not task.done() and task.get_loop() is _running_loop()

    # --- revoking ---------------------------------------------------------------------------

    async def revoke_session(self, issuer: str, session_id: str) -> None:
        """Refuse every credential of this session, on every instance."""
        await self._revoke(_SESSION, issuer, session_id, self._clock())

    async def revoke_user(
        self, issuer: str, subject: str, *, not_before: float | None = None
    ) -> None:
        """Refuse every JWT for ``subject`` issued before ``not_before`` (default: now)."""
        await self._revoke(
            _USER, issuer, subject, self._clock() if not_before is None else not_before
        )

    async def _revoke(self, kind: str, issuer: str, ident: str, at: float) -> None:
        for part in (issuer, ident):
            if not isinstance(part, str) or not 0 < len(part) <= _MAX_ID_LENGTH:
                raise ValueError("issuer and id must be non-empty strings of at most 512 chars")
        if not math.isfinite(at):
            raise ValueError("the time must be finite")
        self._apply(kind, (issuer, ident), at)  # this instance at once, whatever Redis does
        if self._url is None:
            return
        client = await self._redis()
        key = self._sessions_key if kind == _SESSION else self._users_key
        message = json.dumps({"kind": kind, "iss": issuer, "id": ident, "at": at})
        try:
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(key, _field(issuer, ident), repr(at))
                pipe.publish(self.channel, message)
                await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - any Redis failure means "not shared"
            logger.error("revocation not shared: Redis failed (%s)", type(exc).__name__)
            raise RevocationUnavailable(
                "The revocation was applied here but could not be shared.", retry_after=1
            ) from None

    def _apply(self, kind: str, key: tuple[str, str], at: float) -> None:
        if kind == _SESSION:
            self._sessions[key] = at
        elif kind == _USER:
            self._not_before[key] = max(at, self._not_before.get(key, -math.inf))

    def _apply_message(self, data: str | bytes) -> None:
        try:
            message = json.loads(data)
            kind, issuer, ident = message["kind"], message["iss"], message["id"]
            at = _parse_time(message["at"])
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed message on %s", self.channel)
            return
        if (
            kind in (_SESSION, _USER)
            and at is not None
            and all(isinstance(p, str) and 0 < len(p) <= _MAX_ID_LENGTH for p in (issuer, ident))
        ):
            self._apply(kind, (issuer, ident), at)
        else:
            logger.warning("ignored a malformed message on %s", self.channel)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the list and follow changes. A down Redis is logged, not raised."""
        if self._url is None or self.started:
            return
        self._client = None  # any client belongs to an event loop that has ended
        ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._follow(ready))
        with contextlib.suppress(TimeoutError):
            # Serve with the loaded list when Redis answers quickly; otherwise don't hold up
            # startup: the task keeps trying and the failure mode applies meanwhile.
            await asyncio.wait_for(asyncio.shield(ready), timeout=max(self._timeout * 4, 1.0))

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None and task.get_loop() is _running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def resync(self) -> None:
        """Replace the in-memory list with Redis's copy, dropping entries past retention."""
        client = await self._redis()
        sessions_raw, users_raw = await asyncio.gather(
            client.hgetall(self._sessions_key), client.hgetall(self._users_key)
        )
        horizon = self._clock() - self._retention
        sessions, stale_sessions = self._load(sessions_raw, horizon)
        users, stale_users = self._load(users_raw, horizon)
        if stale_sessions:
            await client.hdel(self._sessions_key, *stale_sessions)
        if stale_users:
            await client.hdel(self._users_key, *stale_users)
        self._sessions, self._not_before = sessions, users
        self.last_sync = self._clock()

    @staticmethod
    def _load(
        raw: dict[Any, Any], horizon: float
    ) -> tuple[dict[tuple[str, str], float], list[Any]]:
        entries: dict[tuple[str, str], float] = {}
        stale: list[Any] = []
        for field, value in raw.items():
            key, at = _parse_field(field), _parse_time(value)
            if key is None or at is None or at < horizon:
                stale.append(field)
            else:
                entries[key] = at
        return entries, stale

    async def _redis(self) -> Redis:
        if self._client is None:
            from redis.asyncio import Redis

            assert self._url is not None
            self._client = Redis.from_url(
                self._url,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                health_check_interval=5,
                decode_responses=True,
            )
        return self._client

    async def _follow(self, ready: asyncio.Future[None]) -> None:
        """Subscribe, resync, then apply messages; reconnect with backoff on any failure."""
        backoff = 0.1
        try:
            while True:
                try:
                    client = await self._redis()
                    async with client.pubsub() as pubsub:
                        # Subscribe before the resync: nothing published in between is lost.
                        await pubsub.subscribe(self.channel)
                        await self.resync()
                        self._set_current(True)
                        if not ready.done():
                            ready.set_result(None)
                        backoff = 0.1
                        next_sync = time.monotonic() + self._resync_interval
                        while True:
                            message = await pubsub.get_message(
                                ignore_subscribe_messages=True, timeout=1.0
                            )
                            if message is not None and message.get("type") == "message":
                                self._apply_message(message["data"])
                            if time.monotonic() >= next_sync:
                                await self.resync()
                                next_sync = time.monotonic() + self._resync_interval
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - any Redis failure: degrade, retry
                    self._set_current(False, exc)
                    if not ready.done():
                        ready.set_result(None)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _BACKOFF_MAX)
        finally:
            self._set_current(False)

    def _set_current(self, current: bool, error: BaseException | None = None) -> None:
        if current and not self._current:
            logger.info("revocation list current again (Redis reachable)")
        elif not current and self._current and error is not None:
            self.outages += 1
            logger.warning(
                "revocation list lost Redis (%s); failing %s: %s",
                type(error).__name__,
                self.failure,
                "serving the last known list"
                if self.failure == "open"
                else "refusing every credential with 503",
            )
        self._current = current
        self._usable = current or self.failure == "open"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def revoke_once(
    settings: Settings,
    kind: str,
    issuer: str,
    subject: str,
    not_before: float | None = None,
) -> None:
    """One revocation from a short-lived process (the command lines): connect, write, close.

    ``kind`` is ``"session"`` (``subject`` is a sid) or ``"user"`` (a sub, cut off at
    ``not_before``, default now). ``settings.redis_url`` must be set.
    """
    if settings.redis_url is None:
        raise ValueError("AUTHBRIDGE_REDIS_URL is not set")
    revocations = RevocationList(
        settings.redis_url.get_secret_value(),
        prefix=settings.redis_prefix,
        timeout=settings.redis_timeout,
    )
    try:
        if kind == _SESSION:
            await revocations.revoke_session(issuer, subject)
        else:
            await revocations.revoke_user(issuer, subject, not_before=not_before)
    finally:
        await revocations.aclose()
