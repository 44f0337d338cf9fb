"""The ``authbridge`` Typer app: every command registered in one place.

Exit codes: 0 ok; 1 invalid (a token failed verification, a check failed, a write was
refused); 2 usage or configuration error (the variable and the fix are printed).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from .. import __version__
from .check_cmd import check_command
from .decode_cmd import decode_command
from .dev_issuer import dev_issuer_command
from .jwks_cmd import jwks_command
from .mint_cmd import mint_command
from .revoke_cmd import revoke_command
from .secret_cmd import secret_command
from .verify_cmd import verify_command

__all__ = ["app"]

# The commands report what the library would log (a failed JWKS fetch, say) in their own
# output; without this, Python's last-resort handler would print it a second time.
logging.getLogger("authbridge").addHandler(logging.NullHandler())

app = typer.Typer(
    name="authbridge",
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

app.command("secret")(secret_command)
app.command("decode")(decode_command)
app.command("verify")(verify_command)
app.command("mint")(mint_command)
app.command("dev-issuer")(dev_issuer_command)
app.command("jwks")(jwks_command)
app.command("check")(check_command)
app.command("revoke")(revoke_command)


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
