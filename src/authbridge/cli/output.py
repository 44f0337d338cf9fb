"""Shared plumbing for commands: exit codes, consoles, JSON output and error handling."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, Final, NoReturn, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from ..errors import ConfigError

__all__ = [
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "console",
    "emit_json",
    "err_console",
    "escape",
    "fail_usage",
    "guarded",
    "hide_password",
    "mask_secret",
    "print_table",
]

EXIT_OK: Final = 0
EXIT_INVALID: Final = 1
EXIT_USAGE: Final = 2

# soft_wrap: long values (URLs, kids) stay on one line so output can be pasted and grepped.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


def emit_json(document: Any) -> None:
    """Write one JSON document to stdout, for scripts."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def print_table(table: Table) -> None:
    """The table when it fits the console at its natural width; else one record per row.

    Rich fits a table to the console by shrinking columns, down to nothing: in 80 columns
    (and in a pipe, where it assumes 80) the kid was cut to "…" and the refusal reasons
    vanished. So a table that does not fit is printed as records, one "column  value" line
    per cell, each value whole on its line (``soft_wrap``: the terminal wraps, Rich never cuts).
    """
    unbounded = console.options.update_width(1_000_000)
    if Measurement.get(console, unbounded, table).maximum <= console.width:
        console.print(table)
        return
    if table.title:
        console.print(table.title, style="bold")
    headers = [str(column.header) for column in table.columns]
    width = max(len(header) for header in headers[1:]) if len(headers) > 1 else 0
    for row in zip(*(column.cells for column in table.columns), strict=True):
        console.print(f"[bold]{escape(headers[0])}[/] {row[0]}")
        for header, cell in zip(headers[1:], row[1:], strict=True):
            console.print(f"  {escape(header):<{width}}  {cell}")


def mask_secret(value: str | None) -> str:
    """A secret's presence and length, never any of its characters."""
    if value is None:
        return "(not set)"
    return f"•••••• ({len(value)} chars)"


def hide_password(url: str) -> str:
    """A URL as it may be shown: a password in it replaced by ``••••••``."""
    parts = urlsplit(url)
    if not parts.scheme or parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a port number: the URL cannot be rebuilt without the password
        return f"(a URL with a password, {len(url)} chars)"
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}••••••@{host}{port}"))


def report_config_error(exc: ConfigError, *, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "error": "config",
                "variable": exc.variable,
                "problem": exc.problem,
                "fix": exc.fix,
            }
        )
        return
    err_console.print(f"[bold red]Configuration error[/] in [bold]{escape(exc.variable)}[/]:")
    err_console.print(f"  {escape(exc.problem)}")
    err_console.print(f"  [bold]Fix:[/] {escape(exc.fix)}")


def fail_usage(message: str, *, as_json: bool = False) -> NoReturn:
    """Stop with exit code 2 and a one-line explanation."""
    if as_json:
        emit_json({"error": "usage", "message": message})
    else:
        err_console.print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(EXIT_USAGE)


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a ``ConfigError`` into exit code 2 with the variable and the fix printed."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            report_config_error(exc, as_json=bool(kwargs.get("json_output", False)))
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper
