"""``authbridge decode``: show what a credential says, plainly marked as NOT verified."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from .output import EXIT_INVALID, console, emit_json, escape, guarded
from .recognize import Recognized, recognize
from .timefmt import describe_time, format_utc, relative
from .token_input import MAX_INPUT_CHARS, clean_token, read_token_argument

__all__ = ["decode_command", "time_lines"]

NOT_VERIFIED = (
    "NOT verified: anyone can write these values. Run `authbridge verify` to check the token."
)


def time_lines(found: Recognized, now: float) -> dict[str, dict[str, Any]]:
    """Human descriptions of exp/iat/nbf (and the cookie cache's expiresAt)."""
    times: dict[str, dict[str, Any]] = {}
    claims = found.claims or {}
    for name in ("exp", "iat", "nbf"):
        text = describe_time(name, claims.get(name), now)
        if text is not None:
            times[name] = {"timestamp": claims[name], "text": text}
    expires_ms = claims.get("expiresAt")
    if isinstance(expires_ms, int | float) and found.kind == "cookie_cache_compact":
        seconds = float(expires_ms) / 1000
        text = (
            f"expiresAt {format_utc(seconds)}, "
            f"{relative(seconds, now, future='expires in', past='expired')}"
        )
        times["expiresAt"] = {"timestamp": expires_ms, "text": text}
    return times


def _print_json_block(title: str, value: dict[str, Any]) -> None:
    # Syntax pulls in Pygments: imported here, so `decode --json` never pays for it.
    from rich.syntax import Syntax

    console.print(f"[bold]{title}[/]")
    text = json.dumps(value, indent=2, ensure_ascii=False)
    console.print(Syntax(text, "json", theme="ansi_dark", background_color="default"))


@guarded
def decode_command(
    token: Annotated[str, typer.Argument(help="The credential, or - to read it from stdin.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Print a token's header and claims with human times. Does NOT verify anything."""
    raw = read_token_argument(token)
    if len(raw) > MAX_INPUT_CHARS:
        raw = raw[:MAX_INPUT_CHARS]
    cleaned = clean_token(raw)
    found = recognize(cleaned.value)
    now = time.time()
    times = time_lines(found, now)
    if json_output:
        emit_json(
            {
                "verified": False,
                "kind": found.kind,
                "title": found.title,
                "header": found.header,
                "claims": found.claims,
                "times": times,
                "notes": cleaned.notes,
                "explanation": found.explanation,
                "hints": found.hints,
                "details": found.details,
            }
        )
    else:
        console.print(f"[bold yellow]{escape(NOT_VERIFIED)}[/]")
        console.print()
        console.print(f"[bold]{escape(found.title)}[/]")
        for note in cleaned.notes:
            console.print(f"  [cyan]note:[/] {escape(note)}")
        for line in found.explanation:
            console.print(f"  {escape(line)}")
        if found.header is not None:
            _print_json_block("Header", found.header)
        if found.claims is not None:
            _print_json_block("Claims" if found.is_jws else "Content", found.claims)
        if times:
            console.print("[bold]Times[/]")
            for entry in times.values():
                console.print(f"  {escape(entry['text'])}")
        if found.hints:
            console.print("[bold]Hints[/]")
            for hint in found.hints:
                console.print(f"  • {escape(hint)}")
    if found.kind == "unknown":
        raise typer.Exit(EXIT_INVALID)
