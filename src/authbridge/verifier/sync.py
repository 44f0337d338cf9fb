"""``Verifier.verify_sync``: the same verification for threads (WSGI servers), no event loop.

The JWT path is the async one's steps (``credential_kind``, ``parse``, ``route``,
``cached_key``, the signature and the claims) on the same verifier, so the same token cache,
strictness and key policy apply. Only the key lookup differs: a key that is not in memory is
fetched by ``RemoteJWKS.get_key_sync`` with a blocking client, one fetch in flight across
threads. Key sources without a threaded path (static keys, a shared secret, test sources)
answer from memory alone, which is all they ever do.

The parts that are asynchronous by nature (the session store for Better Auth session tokens,
``AUTHBRIDGE_JWT_SESSION_CHECK``, starting the revocation list) run on one event loop that
this module starts in a daemon thread per verifier, the first time such a part is needed;
a request never creates a loop of its own. A started revocation list is checked in memory.

Called inside a running event loop, ``verify_sync`` raises ``SyncCallInEventLoop`` rather
than block the loop: async code awaits ``verify``.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import UnknownKey

if TYPE_CHECKING:
    from ..jose.parse import CompactJWS
    from ..keys.jwk import VerificationKey
    from ..keys.source import KeySource
    from ..principal import Principal
    from ..revocation import RevocationList
    from .core import Verifier

__all__ = ["SyncCallInEventLoop", "verify_sync"]

T = TypeVar("T")


class SyncCallInEventLoop(RuntimeError):
    """``verify_sync`` was called where it would block a running event loop."""

    def __init__(self) -> None:
        super().__init__(
            "Verifier.verify_sync was called inside a running event loop, which it would "
            "block: use `await verifier.verify(token)` in async code."
        )


def verify_sync(verifier: Verifier, token: str) -> Principal:
    """See ``Verifier.verify_sync``."""
    if asyncio._get_running_loop() is not None:
        raise SyncCallInEventLoop()
    principal = verifier.cache.get(token, verifier._clock())
    if principal is None:
        if verifier.credential_kind(token) == "session":
            sessions = verifier.sessions
            assert sessions is not None
            principal = _portal(verifier).run(sessions.verify(token))
            _check_revocation(verifier, principal)
            return principal
        jws = verifier.parse(token)
        path = verifier.route(jws)
        key = verifier.cached_key(path, jws) or _find_key_sync(path.keys, jws)
        principal = verifier._verify_signed(token, jws, path, key)
    if verifier._jwt_session_check:
        _portal(verifier).run(verifier._check_session(principal))
    _check_revocation(verifier, principal)
    return principal


def _find_key_sync(keys: KeySource, jws: CompactJWS) -> VerificationKey:
    get_key_sync = getattr(keys, "get_key_sync", None)
    if get_key_sync is not None:
        key: VerificationKey = get_key_sync(jws.kid, jws.alg)
        return key
    raise UnknownKey()  # a source without I/O had it in memory or does not have it


def _check_revocation(verifier: Verifier, principal: Principal) -> None:
    revocations = verifier.revocations
    if revocations is None:
        return
    if not revocations.started and not _following_on_portal(verifier, revocations):
        _portal(verifier).run(revocations.start())
    revocations.check(principal)


def _following_on_portal(verifier: Verifier, revocations: RevocationList) -> bool:
    """Whether the list's Redis follower runs on this verifier's portal loop.

    ``RevocationList.started`` compares the follower's loop with the *running* loop, which a
    worker thread has none of: without this, every call would hop to the portal to learn
    that the list is started.
    """
    portal = _portals.get(verifier)
    task = getattr(revocations, "_task", None)
    return (
        portal is not None
        and isinstance(task, asyncio.Task)
        and not task.done()
        and task.get_loop() is portal.loop
    )


class _Portal:
    """One event loop in a daemon thread, for the asynchronous parts of one verifier."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(
            target=self.loop.run_forever, name="authbridge verify_sync loop", daemon=True
        ).start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


_portals: weakref.WeakKeyDictionary[Verifier, _Portal] = weakref.WeakKeyDictionary()
_portals_lock = threading.Lock()


def _portal(verifier: Verifier) -> _Portal:
    with _portals_lock:
        portal = _portals.get(verifier)
        if portal is None:
            portal = _portals[verifier] = _Portal()
        return portal
