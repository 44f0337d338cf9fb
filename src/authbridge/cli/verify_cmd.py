"""``authbridge verify``: the doctor. Every check, passed or failed, with its reason and fix."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from ..config import Settings
from ..verifier import Verifier
from .doctor import Diagnosis, diagnose
from .output import EXIT_INVALID, console, emit_json, escape, guarded
from .settings_input import settings_with_overrides
from .token_input import MAX_INPUT_CHARS, clean_token, read_token_argument

__all__ = ["render_diagnosis", "verify_command"]

_MARKS = {
    "pass": "[green]✔[/]",
    "fail": "[red]✘[/]",
    "warn": "[yellow]![/]",
    "info": "[blue]i[/]",
    "skip": "[dim]-[/]",
}


def render_diagnosis(diagnosis: Diagnosis, notes: list[str]) -> None:
    console.print(f"[bold]authbridge verify[/]: {escape(diagnosis.recognized.title)}")
    for note in notes:
        console.print(f"  [blue]i[/] {'config':<10} {escape(note)}")
    for check in diagnosis.checks:
        console.print(f"  {_MARKS[check.status]} {check.step:<10} {escape(check.detail)}")
        if check.fix and check.status in ("fail", "warn"):
            console.print(f"    {'':<10} [bold]fix:[/] {escape(check.fix)}")
    if diagnosis.valid and diagnosis.principal is not None:
        who = diagnosis.principal
        console.print(
            f"[bold green]VALID[/]: sub {escape(str(who['sub']))}"
            + (f" ({escape(str(who['email']))})" if who.get("email") else "")
            + f", issuer {escape(str(who['issuer']))}"
        )
    else:
        console.print(
            f"[bold red]INVALID[/]: {escape(str(diagnosis.error_code))}: "
            f"{escape(str(diagnosis.error_message))}"
        )


async def _run(token: str, settings: Settings) -> Diagnosis:
    verifier = Verifier.from_settings(settings)
    try:
        return await diagnose(clean_token(token), verifier, settings)
    finally:
        await verifier.aclose()


@guarded
def verify_command(
    token: Annotated[str, typer.Argument(help="The token, or - to read it from stdin.")],
    jwks: Annotated[
        str | None, typer.Option("--jwks", help="Verify with this JWKS URL.", metavar="URL")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            help="The HS256 shared secret (default: AUTHBRIDGE_JWT_SECRET).",
            envvar="AUTHBRIDGE_VERIFY_SECRET",
            show_envvar=False,
        ),
    ] = None,
    issuer: Annotated[str | None, typer.Option("--issuer", help="Expected iss.")] = None,
    audience: Annotated[
        str | None, typer.Option("--audience", help="Expected aud (comma-separated).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Verify a token with the current settings and explain every check (the doctor)."""
    raw = read_token_argument(token)[:MAX_INPUT_CHARS]
    settings, notes = settings_with_overrides(
        jwks_url=jwks, secret=secret, issuer=issuer, audience=audience
    )
    diagnosis = asyncio.run(_run(raw, settings))
    if json_output:
        emit_json({**diagnosis.as_dict(), "notes": notes})
    else:
        render_diagnosis(diagnosis, notes)
    if not diagnosis.valid:
        raise typer.Exit(EXIT_INVALID)
