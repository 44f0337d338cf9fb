"""Ping a pooled database connection only when it sat idle, not on every checkout.

``pool_pre_ping`` costs a round trip (three with asyncpg outside autocommit) on every
checkout, which on a busy service is most of a one-statement lookup's cost. A connection
used moments ago is almost always alive; one that died while in use fails its statement,
and SQLAlchemy then drops every older pooled connection with it.
"""

from __future__ import annotations

from authbridge.extras import require_extra

require_extra("authbridge.sessions.pool_ping", "sessions", sqlalchemy="SQLAlchemy")

import time
from typing import Any, Final

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["ping_after_idle"]

_RETURNED_AT: Final = "authbridge_returned_at"  # key in the pool record's ``info``


def ping_after_idle(engine: AsyncEngine, seconds: float) -> None:
    """Test a pooled connection on checkout if it was idle ``seconds`` or more (0: always)."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < seconds:
            return  # new, or used moments ago
        try:
            dbapi_connection.ping()
        except Exception as error:
            # The pool replaces the connection and tries again (SQLAlchemy's documented
            # pessimistic-disconnect hook).
            raise exc.DisconnectionError("pooled connection is gone") from error
