"""``python -m tasks_api migrate [upgrade [REV] | downgrade REV | current]``."""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["main"]


async def _migrate(action: str, revision: str | None) -> str | None:
    # Imported here so that usage errors answer at once, without loading SQLAlchemy.
    from .db import create_engine
    from .migrate import current_revision, migrate
    from .settings import load_service_settings

    settings = load_service_settings()
    engine = create_engine(settings)
    try:
        if action == "upgrade":
            await migrate(engine, "upgrade", revision or "head", schema=settings.database_schema)
        elif action == "downgrade":
            assert revision is not None
            await migrate(engine, "downgrade", revision, schema=settings.database_schema)
        return await current_revision(engine)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasks_api")
    commands = parser.add_subparsers(dest="command", required=True)
    migrate_parser = commands.add_parser("migrate", help="apply or revert database migrations")
    migrate_parser.add_argument(
        "action", nargs="?", default="upgrade", choices=["upgrade", "downgrade", "current"]
    )
    migrate_parser.add_argument("revision", nargs="?", help="target (default head; base = empty)")
    args = parser.parse_args(argv)
    if args.action == "downgrade" and not args.revision:
        parser.error("downgrade needs a revision (e.g. base, or -1)")
    from authbridge.errors import ConfigError

    try:
        revision = asyncio.run(_migrate(args.action, args.revision))
    except ConfigError as exc:  # a bad variable: one message, like `authbridge serve`
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    print(f"database at revision: {revision or 'base (empty)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
