"""``authbridge revoke session|user ISSUER ID``: revoke JWTs on every instance through Redis.

A session revocation refuses tokens whose ``sid`` is ``ID``; a user revocation refuses the
user's tokens issued before ``--not-before`` (default now). Every instance that shares
``AUTHBRIDGE_REDIS_URL`` sees it within a second.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Annotated

import typer

from ..config import load_settings
from .output import EXIT_INVALID, console, emit_json, err_console, escape, fail_usage, guarded

__all__ = ["revoke_command"]


class Kind(StrEnum):
    session = "session"
    user = "user"


@guarded
def revoke_command(
    kind: Annotated[Kind, typer.Argument(help="session (by sid) or user (by sub).")],
    issuer: Annotated[str, typer.Argument(help="The tokens' iss (Better Auth's origin).")],
    subject: Annotated[str, typer.Argument(metavar="ID", help="The session id or user id.")],
    not_before: Annotated[
        float | None,
        typer.Option("--not-before", help="User cut-off as Unix time (default: now)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Revoke a session or all of a user's tokens on every instance (needs Redis)."""
    from ..revocation import RevocationUnavailable, revoke_once

    settings = load_settings()
    if settings.redis_url is None:
        fail_usage(
            "AUTHBRIDGE_REDIS_URL is not set: there is no shared revocation list to write to.",
            as_json=json_output,
        )
    try:
        asyncio.run(revoke_once(settings, kind.value, issuer, subject, not_before))
    except (RevocationUnavailable, ValueError) as exc:
        if json_output:
            emit_json({"revoked": False, "error": str(exc)})
        else:
            err_console.print(f"[bold red]Not revoked:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_INVALID) from None
    if json_output:
        emit_json({"revoked": True, "kind": kind.value, "issuer": issuer, "id": subject})
    else:
        console.print(f"revoked {kind.value} {escape(repr(subject))} of {escape(repr(issuer))}")
