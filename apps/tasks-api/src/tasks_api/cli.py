"""The ``tasks-api`` command: ``serve`` runs the API under uvicorn, ``migrate`` its schema.

Exit codes: 0 ok; 1 the server could not listen; 2 usage or configuration error (the
variable and the fix are printed). ``python -m tasks_api`` is the same command.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Annotated

import typer

from authbridge.errors import ConfigError

from .serve import serve

__all__ = ["app", "main"]

app = typer.Typer(
    name="tasks-api",
    help=(
        "The Tasks API, a FastAPI service guarded by authbridge: serve it, or migrate its "
        "database.\n\nExit codes: 0 ok, 1 cannot listen, 2 usage or configuration error."
    ),
    no_args_is_help=True,
    add_completion=False,
    # Locals in tracebacks could hold tokens or secrets: never print them.
    pretty_exceptions_show_locals=False,
)


class Action(enum.StrEnum):
    upgrade = "upgrade"
    downgrade = "downgrade"
    current = "current"


async def _migrate(action: Action, revision: str | None) -> str | None:
    # Imported here so that usage errors answer at once, without loading SQLAlchemy.
    from .db import create_engine
    from .migrate import current_revision, migrate
    from .settings import load_service_settings

    settings = load_service_settings()
    engine = create_engine(settings)
    try:
        if action is Action.upgrade:
            await migrate(engine, "upgrade", revision or "head", schema=settings.database_schema)
        elif action is Action.downgrade:
            assert revision is not None
            await migrate(engine, "downgrade", revision, schema=settings.database_schema)
        return await current_revision(engine)
    finally:
        await engine.dispose()


@app.command("migrate")
def migrate_command(
    action: Annotated[
        Action, typer.Argument(help="upgrade (default), downgrade or current.")
    ] = Action.upgrade,
    revision: Annotated[
        str | None,
        typer.Argument(help="Target revision (default head; base = empty; -1 = one back)."),
    ] = None,
) -> None:
    """Apply or revert the database migrations (DATABASE_URL, DATABASE_SCHEMA)."""
    if action is Action.downgrade and not revision:
        typer.echo("error: downgrade needs a revision (e.g. base, or -1).", err=True)
        raise typer.Exit(2)
    try:
        reached = asyncio.run(_migrate(action, revision))
    except ConfigError as exc:  # a bad variable: one message, like `tasks-api serve`
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"database at revision: {reached or 'base (empty)'}")


app.command("serve")(serve)


def main() -> None:
    """The ``tasks-api`` entry point."""
    app(prog_name="tasks-api")
