"""Alembic environment: runs on the connection ``tasks_api.migrate`` hands over.

Run standalone (``alembic -c ...``) it builds the engine from the service settings.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from tasks_api.models import VERSION_TABLE, metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    from tasks_api.db import create_engine
    from tasks_api.settings import load_service_settings

    engine = create_engine(load_service_settings())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")

_connection = context.config.attributes.get("connection")
if _connection is not None:
    run_on(_connection)
else:
    asyncio.run(run_standalone())
