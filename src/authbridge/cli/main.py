"""The ``authbridge`` Typer app: every command registered in one place.

Exit codes: 0 ok; 1 invalid (a token failed verification, a check failed, a write was
refused); 2 usage or configuration error (the variable and the fix are printed).
"""

from __future__ import annotations

from typing import Annotated

import typer

from .check_cmd import check_command
from .decode_cmd import decode_command
from .dev_issuer import dev_issuer_command
from .jwks_cmd import jwks_command
from .mint_cmd import mint_command
from .output import fail_usage, guarded
from .secret_cmd import secret_command
from .verify_cmd import verify_command

__all__ = ["app"]

app = typer.Typer(
    name="authbridge",
    help=(
        "Verify Better Auth credentials from Python: secrets, token decoding, the "
        "verification doctor, dev tokens and the Tasks API server.\n\n"
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


@app.command("serve")
@guarded
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option("--reload", help="Reload on code changes (dev).")] = False,
) -> None:
    """Run the Tasks API (uvicorn)."""
    try:
        # Imported lazily: the server stack is heavy and not needed by other commands.
        from .serve import serve
    except ImportError as exc:
        fail_usage(f"the Tasks API server is not available ({exc.name or exc})")
    serve(host=host, port=port, workers=workers, reload=reload)
