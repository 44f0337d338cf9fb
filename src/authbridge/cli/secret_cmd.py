"""``authbridge secret``: a CSPRNG secret, optionally written into the frontend and backend env.

``--write`` sets ``BETTER_AUTH_SECRET`` (the same value) in ``web/.env.local`` and ``.env``, and
with ``--hs256`` a different ``AUTHBRIDGE_JWT_SECRET`` in ``.env``. An existing value is kept
unless ``--force``; a file tracked by git is never written; files are written with mode 600.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from ..jose.b64 import b64url_encode
from ..keys.secret import MIN_SECRET_BYTES
from .envfile import read_env_value, set_env_values
from .output import EXIT_INVALID, console, emit_json, err_console, escape, fail_usage, guarded
from .private_files import is_tracked_by_git, repo_root, write_private

__all__ = ["generate_secret", "secret_command"]

FRONTEND_ENV: Final = Path("web/.env.local")
BACKEND_ENV: Final = Path(".env")


def generate_secret(n_bytes: int) -> str:
    return b64url_encode(secrets.token_bytes(n_bytes))


@dataclass(slots=True)
class _Plan:
    path: Path
    values: dict[str, str]
    existing: list[str] = field(default_factory=list)


def _refuse(message: str, as_json: bool, code: int) -> None:
    if as_json:
        emit_json({"error": "refused", "message": message, "written": []})
    else:
        err_console.print(f"[bold red]Refused:[/] {escape(message)}")
    raise typer.Exit(code)


@guarded
def secret_command(
    n_bytes: Annotated[
        int, typer.Option("--bytes", help=f"Random bytes (at least {MIN_SECRET_BYTES}).")
    ] = 32,
    write: Annotated[
        bool, typer.Option("--write", help="Write it into web/.env.local and .env.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace existing values.")] = False,
    hs256: Annotated[
        bool,
        typer.Option("--hs256", help="Also set a separate AUTHBRIDGE_JWT_SECRET in .env."),
    ] = False,
    frontend_env: Annotated[
        Path | None,
        typer.Option("--frontend-env", help="Frontend env file (default web/.env.local)."),
    ] = None,
    backend_env: Annotated[
        Path | None, typer.Option("--backend-env", help="Backend env file (default .env).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Print a random secret (base64url), or write it where Better Auth and the API read it."""
    if n_bytes < MIN_SECRET_BYTES or n_bytes > 1024:
        fail_usage(f"--bytes must be between {MIN_SECRET_BYTES} and 1024", as_json=json_output)
    if not write:
        if hs256 or force or frontend_env or backend_env:
            fail_usage("--hs256, --force and the file options need --write", as_json=json_output)
        value = generate_secret(n_bytes)
        if json_output:
            emit_json({"secret": value, "bytes": n_bytes, "encoding": "base64url"})
        else:
            typer.get_text_stream("stdout").write(value + "\n")
        return

    root = repo_root()
    frontend = frontend_env if frontend_env is not None else root / FRONTEND_ENV
    backend = backend_env if backend_env is not None else root / BACKEND_ENV
    shared = generate_secret(n_bytes)
    plans = [_Plan(frontend, {"BETTER_AUTH_SECRET": shared})]
    backend_values = {"BETTER_AUTH_SECRET": shared}
    if hs256:
        backend_values["AUTHBRIDGE_JWT_SECRET"] = generate_secret(n_bytes)
    if backend.resolve() == frontend.resolve():
        plans[0].values.update(backend_values)
    else:
        plans.append(_Plan(backend, backend_values))

    for plan in plans:
        if not plan.path.parent.is_dir():
            fail_usage(
                f"{plan.path.parent} does not exist; pass --frontend-env/--backend-env",
                as_json=json_output,
            )
        if plan.path.exists() and is_tracked_by_git(plan.path):
            _refuse(
                f"{plan.path} is tracked by git; a secret written there would be committed. "
                "Use an untracked, git-ignored file.",
                json_output,
                2,
            )
        plan.existing = [key for key in plan.values if read_env_value(plan.path, key)]
    conflicts = [f"{key} in {plan.path}" for plan in plans for key in plan.existing]
    if conflicts and not force:
        _refuse(
            f"already set: {', '.join(conflicts)}. Nothing was written. Pass --force to replace "
            "(changing BETTER_AUTH_SECRET signs everyone out).",
            json_output,
            EXIT_INVALID,
        )

    written: list[dict[str, Any]] = []
    for plan in plans:
        text = plan.path.read_text(encoding="utf-8") if plan.path.exists() else ""
        write_private(plan.path, set_env_values(text, plan.values))
        written.append(
            {"file": str(plan.path), "variables": list(plan.values), "replaced": plan.existing}
        )
    if json_output:
        emit_json({"written": written, "bytes": n_bytes, "encoding": "base64url"})
        return
    for entry in written:
        names = ", ".join(entry["variables"])
        console.print(f"[green]wrote[/] {escape(names)} to {escape(entry['file'])} (mode 600)")
    if any("BETTER_AUTH_SECRET" in entry["replaced"] for entry in written):
        err_console.print(
            "[yellow]warning:[/] BETTER_AUTH_SECRET changed: existing sessions stop working, and "
            "Better Auth can no longer decrypt the JWKS private keys it stored with the old "
            "secret ('Failed to decrypt private key'): delete the jwks rows so it makes new ones."
        )
