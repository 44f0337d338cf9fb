"""``/healthz`` (the process is alive) and ``/readyz`` (database and signing keys usable)."""

import asyncio
import logging
import time
import weakref
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from authbridge.fastapi import AuthBridge

from ..dependencies import STORE_STATE
from ..models import tasks
from ..statements import Shape
from ..store import Connection, Store

__all__ = ["build_health_router", "database_ready", "keys_ready"]

logger = logging.getLogger("tasks_api")
_CHECK_TIMEOUT_S: Final = 3.0
# /readyz needs no credentials: probes may refetch an empty key set at most this often, so a
# flood of them never becomes a flood of JWKS requests to the issuer.
_REFRESH_INTERVAL_S: Final = 5.0
_last_refresh: "weakref.WeakKeyDictionary[Any, float]" = weakref.WeakKeyDictionary()


_ANY_TASK: Final = Shape(select(tasks.c.id).limit(1))


async def _probe(conn: Connection) -> None:
    await conn.fetch(_ANY_TASK, {})


async def database_ready(store: Store) -> bool:
    """The database answers and the tasks table exists (migrations ran), through the store
    (and pool) that the task routes use."""
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT_S):
            await store.read(_probe)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness: database check failed (%s)", type(exc).__name__)
        return False
    return True


async def keys_ready(bridge: AuthBridge) -> bool:
    """Every trusted path has keys: remote JWKS sets are fetched (once more, if empty)."""
    for path in bridge.verifier.paths:
        source: Any = path.keys
        held = getattr(source, "keys", None)
        if not isinstance(held, dict) or held:
            continue  # a shared secret or static keys, or a fetched set
        refresh = getattr(source, "refresh", None)
        if refresh is None:
            return False
        now = time.monotonic()
        last = _last_refresh.get(source)
        if last is not None and now - last < _REFRESH_INTERVAL_S:
            return False  # refetched moments ago and still empty
        _last_refresh[source] = now
        try:
            async with asyncio.timeout(_CHECK_TIMEOUT_S):
                await refresh(reason="readiness")
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            logger.warning("readiness: key refresh failed (%s)", type(exc).__name__)
            return False
        if not getattr(source, "keys", None):
            return False
    return True


def build_health_router(*, dependency_overrides_provider: Any = None) -> APIRouter:
    router = APIRouter(tags=["health"], dependency_overrides_provider=dependency_overrides_provider)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        responses={503: {"description": "The database or the signing keys are unavailable."}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: the database is reachable and the verifier has signing keys."""
        bridge: AuthBridge = request.app.state.authbridge
        database = await database_ready(getattr(request.app.state, STORE_STATE))
        keys = await keys_ready(bridge)
        checks = {"database": database, "keys": keys}
        if all(checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        failing = ", ".join(name for name, ok in checks.items() if not ok)
        return JSONResponse(
            {"detail": f"Not ready: {failing} unavailable.", "code": "not_ready", "checks": checks},
            status_code=503,
            headers={"Retry-After": "5", "Cache-Control": "no-store"},
        )

    return router
