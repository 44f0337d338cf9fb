"""The issuer's JWK Set over HTTPS: cached, refreshed in the background, served stale in outages.

This module is the cache policy; one HTTP GET is ``keys/fetch.py``'s job.

Rules (V27–V31):

* **TTL.** The set is fetched again once it is older than its TTL: ``Cache-Control: max-age``
  if the issuer sends one (``no-store``/``no-cache`` mean ``min_ttl``), else ``ttl``, always
  clamped to ``[min_ttl, max_ttl]``.
* **Stale while revalidate.** A kid in the cached set is answered from memory at once, even
  past the TTL: the first such lookup after the TTL starts one refresh in the background, and
  lookups keep using the cached set until it lands. A slow or hanging issuer therefore never
  delays a known kid. ``cached_key`` declines past the TTL so that the caller goes through
  ``get_key``, which starts the refresh and still answers without waiting.
* **Maximum staleness.** The cached set is trusted without asking the issuer for at most
  ``max_stale`` seconds (default 600) past its expiry, or past the last failed fetch if that
  is later. Beyond that (a service left idle) lookups wait for the refetch, as unknown kids
  do, so a key the issuer removed meanwhile (a revoked key) is refused, not accepted one last
  time. If that refetch fails, stale-if-error applies and lookups are answered at once again,
  so a hanging issuer delays only the lookups during one fetch, not one per cooldown. Hence a
  removed key stops verifying as soon as a fetch brings the new set; until then it is served
  only while the refresh that removes it is under way (at most the timeout) or while the
  issuer fails. Refusing keys past some age instead would turn an issuer outage into an API
  outage, which stale-if-error exists to prevent. ``max_stale=0`` makes every lookup past the
  TTL wait for the refetch.
* **Unknown kid.** Only a kid that is not in the cached set waits for a fetch (bounded by the
  timeout). The first unknown kid after a routine fetch refetches at once, so the first token
  signed by a rotated-in key already verifies. Later unknown kids wait for the cooldown. A kid
  just looked up and not found is remembered (for the cooldown, but never past the moment a
  refetch is allowed again) and answered with ``UnknownKey`` without I/O, so a known-bad kid
  cannot spend the immediate refetch a routine fetch re-arms. A flood of random kids costs at
  most one extra fetch per cooldown; a new key verifies within one.
* **Single flight.** At most one fetch runs at a time, in the foreground or the background;
  every caller that needs a fetch while one is under way waits for it. The fetch is a task
  this instance owns: ``aclose`` cancels it, any failure inside it (even an unexpected one) is
  recorded, logged and rate-limited like a failed fetch, and one left behind by an event loop
  that has ended is forgotten.
* **Stale if error.** A failed fetch never evicts the last good keys; they are served until a
  fetch succeeds. A set with no usable key counts as a failed fetch. Failed fetches are
  rate-limited too (the cooldown, background refreshes included, so a hanging issuer gets
  one request per cooldown, not one per token; 1, 2, 4… s while no keys exist yet). Only when
  no set was ever fetched does ``get_key`` raise ``KeysUnavailable``.
* **Fetch limits** (``keys/fetch.py``, the only module here that imports httpx, loaded when
  the first ``RemoteJWKS`` is built). ``https`` only (plain ``http`` only for a loopback host,
  for development and tests), no redirects, a total timeout, a body size cap (the body is
  streamed and reading stops at the cap; a gzip/deflate body is inflated only up to the cap),
  a maximum number of keys, and a strict JSON object with a ``keys`` array. The content type
  is not checked.
* **Listeners.** After each successful fetch, ``on_keys_removed`` listeners get the kids that
  left the set or whose key material or algorithm changed (to evict verified tokens).
* **Never blocks the loop.** I/O is async httpx; the client, whose creation reads the CA
  bundle from disk, is created in a worker thread.
* **Algorithms.** Keys are looked up by kid alone. Each key is bound to one algorithm when it
  is loaded (``VerificationKey.alg``); the verifier must check ``key.alg == alg`` itself.

Kids in tokens are attacker-controlled: they are only used for exact dictionary lookups and
are logged escaped and truncated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ..errors import KeysUnavailable, UnknownKey
from .jwk import MAX_KID_LENGTH, KeyProblem, ParsedKeySet, VerificationKey, parse_jwks
from .source import KeysRemovedListener

if TYPE_CHECKING:
    import httpx

__all__ = ["RemoteJWKS", "describe_kid", "ttl_from_cache_control"]

logger = logging.getLogger("authbridge.keys")

# Bounds the memory a flood of random kids can take from the negative cache.
MAX_NEGATIVE_KIDS: Final = 1024
_KID_LOG_LENGTH: Final = 40


def describe_kid(kid: object) -> str:
    """A kid made safe for a log line: escaped by ``repr`` and truncated."""
    if not isinstance(kid, str):
        return f"<{type(kid).__name__}>"
    if len(kid) > _KID_LOG_LENGTH:
        return f"{kid[:_KID_LOG_LENGTH]!r}… ({len(kid)} chars)"
    return repr(kid)


def ttl_from_cache_control(
    value: str | None, *, default: float, min_ttl: float, max_ttl: float
) -> float:
    """The cache lifetime a ``Cache-Control`` header asks for, clamped to the bounds."""
    ttl = default
    if value:
        directives: dict[str, str] = {}
        for part in value.split(","):
            name, _, argument = part.partition("=")
            directives[name.strip().lower()] = argument.strip().strip('"')
        if "no-store" in directives or "no-cache" in directives:
            ttl = min_ttl
        elif "max-age" in directives:
            argument = directives["max-age"]
            if argument.isascii() and argument.isdigit():
                # A huge number just means "as long as allowed"; don't parse it.
                ttl = float(argument) if len(argument) <= 12 else max_ttl
    return min(max(ttl, min_ttl), max_ttl)


class RemoteJWKS:
    """Keys from the issuer's JWKS endpoint. Implements ``KeySource``.

    ``get_key`` returns the key with the token's kid whatever the token's ``alg``; the caller
    checks ``key.alg``. ``on_keys_removed`` listeners hear of kids that left the set, or whose
    key changed, after each successful fetch.
    """

    symmetric = False

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        ttl: float = 600,
        min_ttl: float = 60,
        max_ttl: float = 3600,
        cooldown: float = 30,
        max_stale: float = 600,
        timeout: float = 5.0,
        max_bytes: int = 65536,
        max_keys: int = 20,
        rsa_algorithm: str = "RS256",
        allow_http_loopback: bool = True,
        clock: Callable[[], float] = time.monotonic,
        variable: str = "AUTHBRIDGE_JWKS_URL",
    ) -> None:
        if not 0 < min_ttl <= max_ttl:
            raise ValueError("min_ttl must be positive and at most max_ttl")
        if cooldown < 0 or max_stale < 0 or timeout <= 0 or max_bytes <= 0 or max_keys <= 0:
            raise ValueError(
                "cooldown, max_stale, timeout, max_bytes and max_keys must be positive"
            )
        # The HTTP side (httpx) loads here, with the first remote source, not on import.
        from .fetch import check_jwks_url

        self.url = check_jwks_url(url, allow_http_loopback=allow_http_loopback, variable=variable)
        self._client = client
        self._owns_client = client is None
        self._ttl = min(max(ttl, min_ttl), max_ttl)
        self._min_ttl = min_ttl
        self._max_ttl = max_ttl
        self._cooldown = cooldown
        self._max_stale = max_stale
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_keys = max_keys
        self._rsa_algorithm = rsa_algorithm
        self._clock = clock

        self._keys: dict[str, VerificationKey] = {}
        self._problems: list[KeyProblem] = []
        self._fetched_at: float | None = None  # last successful fetch
        self._expires_at = -math.inf
        self._retry_at = -math.inf  # no attempt before this after a failure
        self._failed_at = -math.inf  # when the last failed fetch ended
        self._failures = 0  # consecutive
        self._last_error: str | None = None
        self._fetch_count = 0
        # Fetches are numbered as they start; a caller can tell whether a fetch that began
        # after it arrived has already answered (then refetching for its kid is pointless).
        self._started_seq = 0
        self._succeeded_seq = 0
        self._miss_fetch_at: float | None = None  # unknown-kid fetch since the routine one
        self._negative: OrderedDict[str, float] = OrderedDict()  # kid -> remembered until
        self._inflight: asyncio.Task[bool] | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[KeysRemovedListener] = []
        # The threaded path (get_key_sync): holding the lock is running the one fetch.
        self._sync_lock = threading.Lock()
        self._sync_client: httpx.Client | None = None

    # --- diagnostics -------------------------------------------------------------------

    @property
    def keys(self) -> dict[str, VerificationKey]:
        return dict(self._keys)

    @property
    def problems(self) -> list[KeyProblem]:
        return list(self._problems)

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset(key.alg for key in self._keys.values())

    @property
    def last_fetch(self) -> float | None:
        """The ``clock`` time of the last successful fetch, or ``None``."""
        return self._fetched_at

    @property
    def expires_at(self) -> float:
        return self._expires_at

    @property
    def last_error(self) -> str | None:
        """Why the last fetch failed; ``None`` once a fetch succeeds."""
        return self._last_error

    @property
    def fetch_count(self) -> int:
        """HTTP requests made so far, successful or not."""
        return self._fetch_count

    # --- KeySource ---------------------------------------------------------------------

    def cached_key(self, kid: str | None, alg: str) -> VerificationKey | None:
        """The key from memory, or ``None`` if unknown or the set is past its TTL.

        Synchronous, so it never starts a fetch: past the TTL it declines, and ``get_key``
        answers from the same stale set without waiting while it starts the refresh.
        """
        if type(kid) is not str or self._clock() >= self._expires_at:
            return None
        return self._keys.get(kid)

    async def get_key(self, kid: str | None, alg: str) -> VerificationKey:
        if type(kid) is not str or not 0 < len(kid) <= MAX_KID_LENGTH:
            raise UnknownKey()  # no set can hold it: never worth a fetch
        now = self._clock()
        key = self._keys.get(kid)
        if key is not None and self._trusted_without_asking(now):
            self._refresh_in_background(now)  # past the TTL (and not under way already)
            return key
        arrived_seq = self._started_seq
        if (task := self._current_inflight()) is not None:
            await self._join(task)
        elif self._routine_fetch_due(self._clock()):
            await self._fetch("the key set expired" if self._fetched_at else "first use")
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._fetched_at is None:
            raise self._unavailable()
        if self._succeeded_seq > arrived_seq:  # a fetch newer than this call lacks the kid
            raise self._remember_missing(kid)
        if self._is_negative(kid):
            raise UnknownKey()
        if (task := self._current_inflight()) is not None:
            await self._join(task)
        elif self._miss_fetch_allowed(self._clock()):
            self._miss_fetch_at = self._clock()
            await self._fetch("unknown kid", routine=False)
        key = self._keys.get(kid)
        if key is not None:
            return key
        raise self._remember_missing(kid)

    def on_keys_removed(self, listener: KeysRemovedListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        """Prefetch the set. An unreachable issuer is logged, not raised: keys load lazily."""
        if self._fetched_at is not None:
            return
        if not await self._fetch("startup"):
            logger.warning(
                "JWKS prefetch from %s failed (%s); keys will be fetched on first use",
                self._url_for_log(),
                self._last_error,
            )

    async def refresh(self, *, reason: str = "requested") -> bool:
        """Fetch now (sharing a fetch already under way). Returns whether it succeeded."""
        return await self._fetch(reason)

    async def wait_for_fetch(self) -> bool | None:
        """Wait for the fetch under way, such as a background refresh, without starting one.

        Returns whether it succeeded, or ``None`` if no fetch was under way.
        """
        task = self._current_inflight()
        return None if task is None else await self._join(task)

    async def aclose(self) -> None:
        task = self._current_inflight()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            if self._client_loop is asyncio.get_running_loop():
                await client.aclose()  # else its loop has ended and took the sockets with it
        self.close_sync()

    # --- the threaded path (Verifier.verify_sync) ----------------------------------------------

    def get_key_sync(self, kid: str | None, alg: str) -> VerificationKey:
        """``get_key`` for threads (WSGI servers): the same policy, no event loop.

        The same TTL, stale-while-revalidate, maximum staleness, unknown-kid cooldown,
        negative cache and stale-if-error. Single flight across threads: a thread that needs
        a fetch takes ``_sync_lock``; threads that arrive meanwhile wait for it and then use
        its result instead of fetching again. A refresh past the TTL runs in a thread of its
        own, so a known kid never waits. The fetch uses a blocking ``httpx.Client``; a
        ``SharedRemoteJWKS`` fetches from the issuer directly on this path (no Redis).
        """
        if type(kid) is not str or not 0 < len(kid) <= MAX_KID_LENGTH:
            raise UnknownKey()
        now = self._clock()
        key = self._keys.get(kid)
        if key is not None and self._trusted_without_asking(now):
            if self._routine_fetch_due(now):
                self._refresh_in_thread()
            return key
        arrived_seq = self._started_seq
        with self._sync_lock:  # waiting here is joining the fetch under way
            if self._started_seq == arrived_seq and self._routine_fetch_due(self._clock()):
                self._fetch_sync("the key set expired" if self._fetched_at else "first use")
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._fetched_at is None:
            raise self._unavailable()
        if self._succeeded_seq > arrived_seq:  # a fetch newer than this call lacks the kid
            raise self._remember_missing(kid)
        if self._is_negative(kid):
            raise UnknownKey()
        arrived_seq = self._started_seq
        with self._sync_lock:
            if self._started_seq == arrived_seq and self._miss_fetch_allowed(self._clock()):
                self._miss_fetch_at = self._clock()
                self._fetch_sync("unknown kid", routine=False)
        key = self._keys.get(kid)
        if key is not None:
            return key
        raise self._remember_missing(kid)

    def close_sync(self) -> None:
        """Close the blocking client ``get_key_sync`` opened, if any."""
        client, self._sync_client = self._sync_client, None
        if client is not None:
            client.close()

    def _refresh_in_thread(self) -> None:
        """Start one background refresh; the lock is taken here and released by the thread."""
        if not self._sync_lock.acquire(blocking=False):
            return  # a fetch is under way
        try:
            threading.Thread(
                target=self._refresh_holding_lock, name="authbridge JWKS refresh", daemon=True
            ).start()
        except BaseException:
            self._sync_lock.release()
            raise

    def _refresh_holding_lock(self) -> None:
        try:
            if self._routine_fetch_due(self._clock()):
                self._fetch_sync("the key set expired; serving it until the refresh lands")
        finally:
            self._sync_lock.release()

    def _fetch_sync(self, reason: str, *, routine: bool = True) -> bool:
        """One blocking fetch; the caller holds ``_sync_lock``."""
        from .fetch import download_sync, new_sync_client

        self._started_seq += 1
        seq = self._started_seq
        self._begin_fetch(reason)
        try:
            if self._sync_client is None:
                self._sync_client = new_sync_client(self._timeout)
            document, cache_control = download_sync(
                self._sync_client, self.url, seconds=self._timeout, max_bytes=self._max_bytes
            )
        except Exception as exc:  # noqa: BLE001 - recorded like any failed fetch
            return self._fetch_failed(exc)
        return self._absorb(document, cache_control, routine, seq)

    # --- policy ------------------------------------------------------------------------

    def _routine_fetch_due(self, now: float) -> bool:
        return now >= self._expires_at and now >= self._retry_at

    def _trusted_without_asking(self, now: float) -> bool:
        """Whether the cached set answers without a fetch first: within its TTL, or less than
        ``max_stale`` past the later of its expiry and the last failed fetch.

        A fetch under way does not count: until it ends, lookups past ``max_stale`` join it.
        """
        return now < max(self._expires_at, self._failed_at) + self._max_stale

    def _refresh_in_background(self, now: float) -> None:
        if self._routine_fetch_due(now) and self._current_inflight() is None:
            self._start_fetch("the key set expired; serving it until the refresh lands")

    def _miss_fetch_allowed(self, now: float) -> bool:
        return now >= self._miss_gate_opens_at()

    def _miss_gate_opens_at(self) -> float:
        """When the next unknown-kid fetch may happen."""
        opens = self._retry_at
        if self._miss_fetch_at is not None:
            opens = max(opens, self._miss_fetch_at + self._cooldown)
        return opens

    def _is_negative(self, kid: str) -> bool:
        until = self._negative.get(kid)
        if until is None:
            return False
        if self._clock() < until:
            return True
        self._negative.pop(kid, None)  # pop: another thread may have dropped it already
        return False

    def _remember_missing(self, kid: str) -> UnknownKey:
        now = self._clock()
        # Remembered for the cooldown, but never past the moment a refetch is allowed again,
        # so a key that appears later still verifies within one cooldown (V31).
        until = now + self._cooldown
        opens = self._miss_gate_opens_at()
        if opens > now:
            until = min(until, opens)
        self._negative[kid] = until
        with contextlib.suppress(KeyError):  # another thread may have dropped it meanwhile
            self._negative.move_to_end(kid)
        while len(self._negative) > MAX_NEGATIVE_KIDS:
            self._negative.popitem(last=False)
        logger.debug("unknown kid %s at %s", describe_kid(kid), self._url_for_log())
        return UnknownKey()

    def _unavailable(self) -> KeysUnavailable:
        wait = self._retry_at - self._clock()
        return KeysUnavailable(retry_after=max(1, math.ceil(wait)) if math.isfinite(wait) else 1)

    # --- fetching ----------------------------------------------------------------------

    def _current_inflight(self) -> asyncio.Task[bool] | None:
        task = self._inflight
        if task is not None and (task.done() or task.get_loop() is not asyncio.get_running_loop()):
            # Finished, or abandoned by an event loop that has ended (a loop that ends cancels
            # its tasks; one cancelled before it ever ran never reached its own cleanup).
            self._inflight = task = None
        return task

    async def _join(self, task: asyncio.Task[bool]) -> bool:
        # Shielded: a caller that is cancelled must not cancel the fetch others wait for.
        return await asyncio.shield(task)

    async def _fetch(self, reason: str, *, routine: bool = True) -> bool:
        task = self._current_inflight()
        if task is None:
            task = self._start_fetch(reason, routine=routine)
        return await self._join(task)

    def _start_fetch(self, reason: str, *, routine: bool = True) -> asyncio.Task[bool]:
        """Start the one fetch; callers join it, and no one has to (a background refresh)."""
        self._started_seq += 1
        task = asyncio.get_running_loop().create_task(
            self._fetch_and_store(reason, routine, self._started_seq),
            name=f"authbridge JWKS fetch ({reason})",
        )
        self._inflight = task
        return task

    async def _fetch_and_store(self, reason: str, routine: bool, seq: int) -> bool:
        try:
            self._begin_fetch(reason)
            try:
                document, cache_control = await self._download()
            except Exception as exc:  # noqa: BLE001 - recorded like any failed fetch
                return self._fetch_failed(exc)
            return self._absorb(document, cache_control, routine, seq)
        finally:
            if self._inflight is asyncio.current_task():
                self._inflight = None

    # --- one fetch, shared by the async path and the threaded one (``get_key_sync``) ---------

    def _begin_fetch(self, reason: str) -> None:
        self._fetch_count += 1
        logger.debug("fetching JWKS from %s (%s)", self._url_for_log(), reason)

    def _absorb(self, document: Any, cache_control: str | None, routine: bool, seq: int) -> bool:
        """Parse a fetched document and store its keys; a set without usable keys fails."""
        from .fetch import FetchFailed

        try:
            try:
                parsed = parse_jwks(
                    document, rsa_algorithm=self._rsa_algorithm, max_keys=self._max_keys
                )
            except ValueError as exc:  # the document as a whole; a fixed message
                raise FetchFailed(str(exc)) from None
            self._note_problems(parsed.problems)
            if not parsed.keys:
                raise FetchFailed("the JWK Set has no usable keys")
            self._store(parsed, cache_control, routine, seq)
        except Exception as exc:  # noqa: BLE001 - recorded like any failed fetch
            return self._fetch_failed(exc)
        return True

    def _fetch_failed(self, exc: Exception) -> bool:
        """Record a failure. Stale-if-error must hold for any failure, and a background
        refresh has no caller to raise to: whatever went wrong is recorded (and rate-limited)
        like a failed fetch."""
        from .fetch import FetchFailed

        if isinstance(exc, FetchFailed):
            self._record_failure(str(exc))
        else:
            self._record_failure(f"unexpected {type(exc).__name__}")
        return False

    async def _download(self) -> tuple[Any, str | None]:
        """One GET of the set (``keys/fetch.py``); ``SharedRemoteJWKS`` looks in Redis first."""
        from .fetch import download

        client = await self._get_client()
        return await download(client, self.url, seconds=self._timeout, max_bytes=self._max_bytes)

    async def _get_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._owns_client and self._client is not None and self._client_loop is not loop:
            # Its pooled connections belong to an event loop that has ended (a test runner or
            # a server restarted in the same process); they cannot be closed from here.
            self._client = None
        if self._client is None:
            from .fetch import new_client

            # Only the single in-flight fetch gets here, so there is no race.
            self._client = await new_client(self._timeout)
            self._client_loop = loop
        return self._client

    def _store(
        self, parsed: ParsedKeySet, cache_control: str | None, routine: bool, seq: int
    ) -> None:
        now = self._clock()
        ttl = ttl_from_cache_control(
            cache_control, default=self._ttl, min_ttl=self._min_ttl, max_ttl=self._max_ttl
        )
        old = self._keys
        removed = frozenset(
            kid
            for kid, key in old.items()
            if (new := parsed.keys.get(kid)) is None
            or new.thumbprint != key.thumbprint
            or new.alg != key.alg
        )
        self._keys = parsed.keys
        self._fetched_at = now
        self._expires_at = now + ttl
        self._retry_at = -math.inf
        self._failures = 0
        self._last_error = None
        self._succeeded_seq = max(self._succeeded_seq, seq)
        if routine:
            self._miss_fetch_at = None  # the next unknown kid may refetch at once
        logger.info(
            "fetched %d keys from %s; next refresh in %g s",
            len(parsed.keys),
            self._url_for_log(),
            ttl,
        )
        if removed:
            self._notify(removed)

    def _notify(self, removed: frozenset[str]) -> None:
        for listener in list(self._listeners):
            try:
                listener(removed)
            except Exception as exc:  # noqa: BLE001 - one bad listener must not stop the rest
                logger.error("a keys-removed listener failed: %s", type(exc).__name__)

    def _record_failure(self, message: str) -> None:
        self._failures += 1
        self._last_error = message
        self._failed_at = self._clock()
        # With stale keys in hand, wait a whole cooldown; with none, retry sooner (1, 2, 4 s…).
        backoff = self._cooldown if self._keys else min(self._cooldown, 2.0 ** (self._failures - 1))
        self._retry_at = self._clock() + backoff
        if self._keys:
            logger.warning(
                "JWKS fetch from %s failed (%s); still serving %d cached keys",
                self._url_for_log(),
                message,
                len(self._keys),
            )
        else:
            logger.warning(
                "JWKS fetch from %s failed (%s); no keys yet, next try in %g s",
                self._url_for_log(),
                message,
                backoff,
            )

    def _note_problems(self, problems: list[KeyProblem]) -> None:
        if problems != self._problems:
            for problem in problems:
                logger.warning(
                    "JWKS key %s from %s ignored: %s",
                    describe_kid(problem.kid) if problem.kid is not None else "(no kid)",
                    self._url_for_log(),
                    problem.reason,
                )
        self._problems = problems

    def _url_for_log(self) -> str:
        return str(self.url.copy_with(query=None, fragment=None))
