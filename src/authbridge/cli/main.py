"""The ``authbridge`` Typer app: every command registered in one place.

Exit codes: 0 ok; 1 invalid (a token failed verification, a check failed, a write was
refused); 2 usage or configuration error (the variable and the fix are printed).

Commands are registered by name and loaded on use: ``authbridge decode`` imports the decode
module and nothing of ``check`` or ``serve``, and ``authbridge --help`` imports none of them
(bench/results/startup.md). Each command's one-line summary for ``--help`` is kept here;
tests/cli/test_lazy_commands.py checks it against the command's docstring.
"""

from __future__ import annotations

import importlib
import logging
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info
from typer.models import CommandInfo

from .. import __version__

__all__ = ["COMMANDS", "app", "load_command"]

# name -> (module under authbridge.cli, function, the first paragraph of its docstring)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "secret": (
        "secret_cmd",
        "secret_command",
        "Print a random secret (base64url), or write it where Better Auth and the API read it.",
    ),
    "decode": (
        "decode_cmd",
        "decode_command",
        "Print a token's header and claims with human times. Does NOT verify anything.",
    ),
    "verify": (
        "verify_cmd",
        "verify_command",
        "Verify a token with the current settings and explain every check (the doctor).",
    ),
    "mint": (
        "mint_cmd",
        "mint_command",
        "Mint a development token like Better Auth's /api/auth/token. Refused in production.",
    ),
    "dev-issuer": (
        "dev_issuer",
        "dev_issuer_command",
        "Serve the dev keys' JWKS at http://127.0.0.1:PORT/api/auth/jwks. Refused in production.",
    ),
    "jwks": (
        "jwks_cmd",
        "jwks_command",
        "Fetch a JWK Set and show each key: kid, kty, alg, curve or size, thumbprint, problems.",
    ),
    "check": (
        "check_cmd",
        "check_command",
        "Show the effective configuration (secrets masked) and check that it can work.",
    ),
    "revoke": (
        "revoke_cmd",
        "revoke_command",
        "Revoke a session or all of a user's tokens on every instance (needs Redis).",
    ),
}

# The commands report what the library would log (a failed JWKS fetch, say) in their own
# output; without this, Python's last-resort handler would print it a second time.
logging.getLogger("authbridge").addHandler(logging.NullHandler())


def load_command(name: str) -> Any:
    """The function behind a command (imports its module)."""
    module, function, _ = COMMANDS[name]
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)


class _Placeholder(TyperCommand):
    """Stands in for a command in the group's listing until the command is resolved."""


class _LazyGroup(TyperGroup):
    """A group whose commands are built from :data:`COMMANDS` when first resolved."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, (_, _, summary) in COMMANDS.items():
            self.commands[name] = _Placeholder(name=name, help=summary)

    def _real(self, name: str) -> typer.core.TyperCommand | None:
        command = self.commands.get(name)
        if isinstance(command, _Placeholder):
            info = CommandInfo(name=name, callback=load_command(name))
            built = get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
            self.commands[name] = command = built
        return command  # type: ignore[return-value]

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name is not None and isinstance(command, _Placeholder):
            command = self._real(name)
        return name, command, rest


app = typer.Typer(
    name="authbridge",
    cls=_LazyGroup,
    help=(
        "Verify Better Auth credentials from Python: secrets, token decoding, the "
        "verification doctor, dev tokens and revocation.\n\n"
        "Exit codes: 0 ok, 1 invalid, 2 usage or configuration error."
    ),
    no_args_is_help=True,
    add_completion=False,
    # Locals in tracebacks could hold tokens or secrets: never print them.
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"authbridge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    # No docstring: it would replace the app's help text above.
    del version  # handled by its callback, before any command runs
