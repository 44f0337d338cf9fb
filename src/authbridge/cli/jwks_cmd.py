"""``authbridge jwks``: fetch a key set and show each key, flagging every problem."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import typer
from rich.table import Table

from ..config import load_settings
from ..errors import ConfigError
from ..jose.b64 import b64url_decode
from ..keys.jwk import KeyProblem, parse_jwks, thumbprint
from .jwks_fetch import JWKSFetchError, fetch_jwks_document
from .output import EXIT_INVALID, console, emit_json, escape, guarded, print_table

__all__ = ["describe_key_set", "jwks_command"]


def _size(entry: Mapping[str, Any]) -> str | None:
    kty = entry.get("kty")
    if kty in ("OKP", "EC"):
        crv = entry.get("crv")
        return str(crv) if crv is not None else None
    if kty == "RSA" and type(entry.get("n")) is str:
        try:
            return f"{int.from_bytes(b64url_decode(entry['n']), 'big').bit_length()} bits"
        except ValueError:
            return None
    return None


def _safe_thumbprint(entry: Mapping[str, Any]) -> str | None:
    try:
        return thumbprint(entry)
    except (KeyError, TypeError, ValueError):
        return None


def describe_key_set(
    document: Mapping[str, Any], *, rsa_algorithm: str, max_keys: int
) -> list[dict[str, Any]]:
    """One row per JWK in the set: what it is and whether the verifier would use it."""
    parsed = parse_jwks(document, rsa_algorithm=rsa_algorithm, max_keys=max_keys)
    problems: Iterator[KeyProblem] = iter(parsed.problems)
    rows: list[dict[str, Any]] = []
    kids = [e.get("kid") if isinstance(e, Mapping) else None for e in document["keys"]]
    for entry, kid in zip(document["keys"], kids, strict=True):
        if not isinstance(entry, Mapping):
            problem = next(problems, None)
            rows.append(
                {
                    "kid": None,
                    "usable": False,
                    "problem": problem.reason if problem else "not an object",
                }
            )
            continue
        key = parsed.keys.get(kid) if type(kid) is str and kids.count(kid) == 1 else None
        problem_reason = None
        if key is None:
            problem = next(problems, None)
            problem_reason = problem.reason if problem else "not usable"
        rows.append(
            {
                "kid": kid if type(kid) is str else None,
                "kty": entry.get("kty"),
                "alg": key.alg if key else entry.get("alg"),
                "curve_or_size": key.detail if key else _size(entry),
                "thumbprint": key.thumbprint if key else _safe_thumbprint(entry),
                "usable": key is not None,
                "problem": problem_reason,
            }
        )
    return rows


@guarded
def jwks_command(
    url: Annotated[
        str | None,
        typer.Argument(
            help="JWKS URL or file (default: from BETTER_AUTH_URL / AUTHBRIDGE_JWKS_URL)."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Fetch a JWK Set and show each key: kid, kty, alg, curve or size, thumbprint, problems."""
    settings = load_settings()
    asymmetric, _ = settings.split_algorithms()
    source = url or settings.resolved_jwks_url() or settings.jwks_file
    if source is None:
        raise ConfigError(
            "BETTER_AUTH_URL",
            "is not set, so there is no JWKS URL to fetch.",
            "pass the URL (authbridge jwks https://auth.example.com/api/auth/jwks) or set "
            "BETTER_AUTH_URL / AUTHBRIDGE_JWKS_URL.",
        )
    variable = "URL" if url else ("AUTHBRIDGE_JWKS_URL" if settings.jwks_url else "BETTER_AUTH_URL")
    error: str | None = None
    rows: list[dict[str, Any]] = []
    try:
        document = fetch_jwks_document(
            source,
            timeout=settings.jwks_timeout,
            max_bytes=settings.jwks_max_bytes,
            variable=variable,
        )
        rows = describe_key_set(
            document,
            rsa_algorithm=settings.resolved_rsa_algorithm(asymmetric),
            max_keys=settings.jwks_max_keys,
        )
    except JWKSFetchError as exc:
        error = f"cannot fetch the JWKS: {exc}"
    except ValueError as exc:  # parse_jwks: the document as a whole is unusable
        error = f"not a usable JWK Set: {exc}"
    usable = sum(1 for row in rows if row["usable"])
    ok = error is None and usable > 0 and all(row["usable"] for row in rows)
    if json_output:
        emit_json({"source": source, "ok": ok, "error": error, "usable": usable, "keys": rows})
    else:
        _render(source, rows, error, usable)
    if not ok:
        raise typer.Exit(EXIT_INVALID)


def _render(source: str, rows: list[dict[str, Any]], error: str | None, usable: int) -> None:
    console.print(f"[bold]JWKS[/] {escape(source)}")
    if error is not None:
        console.print(f"[red]✘[/] {escape(error)}")
        return
    table = Table(show_lines=False)
    for column in ("kid", "kty", "alg", "curve/size", "thumbprint", "status"):
        table.add_column(column)
    for row in rows:
        status = (
            "[green]ok[/]" if row["usable"] else f"[red]refused:[/] {escape(str(row['problem']))}"
        )
        table.add_row(
            escape(str(row.get("kid"))),
            escape(str(row.get("kty"))),
            escape(str(row.get("alg"))),
            escape(str(row.get("curve_or_size"))),
            escape(str(row.get("thumbprint"))),
            status,
        )
    print_table(table)
    refused = len(rows) - usable
    summary = f"{usable} usable key(s)" + (f", {refused} refused" if refused else "")
    console.print(("[green]✔[/] " if refused == 0 and usable else "[red]✘[/] ") + summary)
