"""The ``authbridge`` console script.

It is installed with the core, but the command line needs the ``cli`` extra (Typer and
Rich). Without it, the script prints one line naming the extra and exits 2 (a setup error),
instead of a traceback from deep inside the import.
"""

from __future__ import annotations

import sys

from .extras import MissingExtra

__all__ = ["main"]


def main() -> None:
    try:
        from .cli.main import app
    except MissingExtra as missing:
        sys.stderr.write(f"authbridge: {missing}\n")
        raise SystemExit(2) from None
    app()
