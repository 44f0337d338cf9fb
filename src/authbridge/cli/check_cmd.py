"""``authbridge check``: the effective configuration, where each value came from, and checks.

Secrets are shown masked (presence and length only). Checks: the settings load, a verifier
can be built from them, the JWKS answers with usable keys, issuer and audience agree with
``BETTER_AUTH_URL``, secrets are strong enough, and the frontend's ``web/.env.local`` (when
present) has the same ``BETTER_AUTH_SECRET`` and ``BETTER_AUTH_URL``.
"""

from __future__ import annotations

import hmac
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..config import Secret, Settings, field_specs, load_settings, origin_of, read_dotenv
from ..errors import ConfigError
from ..extras import MissingExtra
from ..jose.algorithms import ed25519_backend
from ..keys.secret import check_secret
from ..verifier import Verifier
from .doctor import Check
from .envfile import read_env_value
from .jwks_cmd import describe_key_set
from .jwks_fetch import JWKSFetchError, fetch_jwks_document
from .output import (
    EXIT_INVALID,
    EXIT_USAGE,
    console,
    emit_json,
    escape,
    guarded,
    hide_password,
    mask_secret,
    print_table,
)
from .private_files import repo_root
from .secret_cmd import FRONTEND_ENV
from .service_checks import check_connections, check_cors_origins

__all__ = ["check_command", "effective_settings"]

_MARKS = {"pass": "[green]✔[/]", "fail": "[red]✘[/]", "warn": "[yellow]![/]", "info": "[blue]i[/]"}


_SENSITIVE_WORDS = ("SECRET", "PASSWORD", "TOKEN", "PRIVATE")


def _shown_value(variable: str, value: Any) -> Any:
    """The value as it may be displayed: secrets masked, URL passwords hidden."""
    if isinstance(value, Secret):
        return mask_secret(value.get_secret_value())
    if not isinstance(value, str):
        return value
    if any(word in variable for word in _SENSITIVE_WORDS):
        return mask_secret(value)
    if variable == "AUTHBRIDGE_JWKS":
        return f"(inline JWK Set, {len(value)} chars)"
    return hide_password(value)


def effective_settings(settings: Settings) -> list[dict[str, Any]]:
    """Every setting: its variable, its (masked) value and where it came from."""
    dotenv = read_dotenv(Path(".env"), os.environ)
    rows: list[dict[str, Any]] = []
    for spec in field_specs(Settings):
        variable = spec.variable
        value = getattr(settings, spec.name)
        if variable in os.environ:
            source = "env"
        elif variable in dotenv:
            source = ".env"
        else:
            source = "default"
        rows.append(
            {"variable": variable, "value": _shown_value(variable, value), "source": source}
        )
    derived_from = (
        "derived from BETTER_AUTH_URL" if settings.better_auth_url else "unset (no BETTER_AUTH_URL)"
    )
    issuer_source = "AUTHBRIDGE_ISSUER" if settings.issuer else derived_from
    audience_source = "AUTHBRIDGE_AUDIENCE" if settings.audience else derived_from
    jwks_source = "AUTHBRIDGE_JWKS_URL" if settings.jwks_url else derived_from
    try:
        issuer, audiences = settings.resolved_issuer(), settings.resolved_audiences()
        jwks_url = settings.resolved_jwks_url()
    except ConfigError:
        issuer, audiences, jwks_url = None, [], None
    rows.append({"variable": "effective issuer", "value": issuer, "source": issuer_source})
    rows.append(
        {
            "variable": "effective audience",
            "value": ", ".join(audiences) or None,
            "source": audience_source,
        }
    )
    rows.append({"variable": "effective JWKS URL", "value": jwks_url, "source": jwks_source})
    return rows


def _check_secrets(settings: Settings, checks: list[Check]) -> None:
    candidates = [
        ("BETTER_AUTH_SECRET", settings.current_better_auth_secret()),
        (
            "AUTHBRIDGE_JWT_SECRET",
            settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
        ),
    ]
    for variable, value in candidates:
        if value is None:
            continue
        try:
            check_secret(value, variable)
        except ConfigError as exc:
            checks.append(Check("secret", "fail", f"{variable} {exc.problem}", exc.fix))
        else:
            checks.append(Check("secret", "pass", f"{variable} is long and varied enough"))
    if candidates[0][1] is None:
        checks.append(
            Check(
                "secret",
                "info",
                "BETTER_AUTH_SECRET is not set (needed only for session tokens and cookies).",
            )
        )


def _check_origins(settings: Settings, checks: list[Check]) -> None:
    if not settings.better_auth_url:
        checks.append(
            Check(
                "origin",
                "info",
                "BETTER_AUTH_URL is not set: issuer and audience come from "
                "AUTHBRIDGE_ISSUER / AUTHBRIDGE_AUDIENCE only.",
            )
        )
        return
    origin = settings.base_origin
    if settings.better_auth_url.rstrip("/") != origin:
        checks.append(
            Check(
                "origin",
                "info",
                f"BETTER_AUTH_URL has a path; Better Auth's iss and aud are its origin {origin}.",
            )
        )
    if settings.issuer and settings.issuer != origin:
        checks.append(
            Check(
                "issuer",
                "warn",
                f"AUTHBRIDGE_ISSUER is {settings.issuer} but BETTER_AUTH_URL's origin is {origin}.",
                "Better Auth signs iss = its BETTER_AUTH_URL origin unless jwt.issuer is set: "
                "make them agree.",
            )
        )
    else:
        checks.append(
            Check(
                "issuer", "pass", f"issuer {settings.resolved_issuer()} agrees with BETTER_AUTH_URL"
            )
        )
    audiences = settings.resolved_audiences()
    if settings.audience and origin not in audiences:
        checks.append(
            Check(
                "audience",
                "warn",
                f"AUTHBRIDGE_AUDIENCE is {settings.audience} but BETTER_AUTH_URL's origin "
                f"is {origin}.",
                "Better Auth signs aud = its BETTER_AUTH_URL origin unless jwt.audience is set: "
                "make them agree.",
            )
        )
    else:
        checks.append(
            Check(
                "audience", "pass", f"audience {', '.join(audiences)} agrees with BETTER_AUTH_URL"
            )
        )


def _check_frontend(settings: Settings, checks: list[Check]) -> None:
    """The API and the Next.js frontend must agree on the secret and the base URL."""
    frontend = repo_root() / FRONTEND_ENV
    if not frontend.is_file():
        return
    shown = str(FRONTEND_ENV)
    web_secret = read_env_value(frontend, "BETTER_AUTH_SECRET")
    api_secret = settings.current_better_auth_secret()
    if web_secret and api_secret and not hmac.compare_digest(web_secret, api_secret):
        checks.append(
            Check(
                "frontend",
                "fail",
                f"BETTER_AUTH_SECRET differs between {shown} and this API: session tokens and "
                "cookies will fail their signature check.",
                "Use the same value in both (`authbridge secret --write --force` sets both).",
            )
        )
    elif web_secret and api_secret:
        checks.append(Check("frontend", "pass", f"BETTER_AUTH_SECRET matches {shown}"))
    web_url = read_env_value(frontend, "BETTER_AUTH_URL")
    if web_url and settings.better_auth_url:
        try:
            same = origin_of(web_url) == settings.base_origin
        except ConfigError:
            same = False
        if same:
            checks.append(Check("frontend", "pass", f"BETTER_AUTH_URL matches {shown}"))
        else:
            checks.append(
                Check(
                    "frontend",
                    "warn",
                    f"BETTER_AUTH_URL is {web_url} in {shown} but {settings.better_auth_url} "
                    "here: tokens' iss and aud come from the frontend's value.",
                    "Make them the same origin (localhost and 127.0.0.1 differ).",
                )
            )


def _check_jwks(settings: Settings, checks: list[Check]) -> None:
    asymmetric, _ = settings.split_algorithms()
    source = settings.resolved_jwks_url() or settings.jwks_file
    if source is None and settings.jwks_json is None:
        only = " (HS256 shared secret only)" if settings.jwt_secret else ""
        checks.append(Check("jwks", "info", f"no JWKS configured{only}."))
        return
    try:
        if settings.jwks_json is not None:
            document = json.loads(settings.jwks_json)
            source = "AUTHBRIDGE_JWKS"
        else:
            assert source is not None
            document = fetch_jwks_document(
                source, timeout=settings.jwks_timeout, max_bytes=settings.jwks_max_bytes
            )
        rows = describe_key_set(
            document,
            rsa_algorithm=settings.resolved_rsa_algorithm(asymmetric),
            max_keys=settings.jwks_max_keys,
        )
    except (JWKSFetchError, ValueError) as exc:
        checks.append(
            Check(
                "jwks",
                "fail",
                f"{source} is not reachable or not a usable JWK Set: {exc}",
                "Start the auth server, or fix BETTER_AUTH_URL / AUTHBRIDGE_JWKS_URL "
                "(the JWKS is at <BETTER_AUTH_URL>/api/auth/jwks).",
            )
        )
        return
    usable = [row for row in rows if row["usable"]]
    refused = [row for row in rows if not row["usable"]]
    algs = ", ".join(sorted({str(row["alg"]) for row in usable}))
    if usable:
        checks.append(Check("jwks", "pass", f"{source}: {len(usable)} usable key(s) ({algs})"))
        if any(row["alg"] == "EdDSA" for row in usable):
            checks.append(_ed25519_check())
    else:
        checks.append(
            Check(
                "jwks",
                "fail",
                f"{source} has no usable keys.",
                "Better Auth creates its first key on the first /api/auth/jwks or /token call.",
            )
        )
    for row in refused:
        checks.append(
            Check(
                "jwks",
                "warn",
                f"key {row['kid']!r} refused: {row['problem']}",
                "`authbridge jwks` shows every key.",
            )
        )


def _ed25519_check() -> Check:
    """Which implementation checks EdDSA signatures, and how to get the faster one."""
    if ed25519_backend() == "libsodium":
        return Check("jwks", "info", "EdDSA signatures are checked by libsodium (PyNaCl).")
    return Check(
        "jwks",
        "info",
        "EdDSA signatures are checked by OpenSSL; libsodium takes about half the time.",
        "pip install 'authbridge[nacl]' (PyNaCl), then restart.",
    )


@guarded
def check_command(
    skip_network: Annotated[
        bool,
        typer.Option("--offline", help="Connect to nothing: skip the JWKS, Redis and database."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the effective configuration (secrets masked) and check that it can work."""
    settings = load_settings()
    rows = effective_settings(settings)
    checks: list[Check] = [Check("settings", "pass", "settings load")]
    config_error: ConfigError | None = None
    verifier: Verifier | None = None
    try:
        verifier = Verifier.from_settings(settings)
    except ConfigError as exc:
        config_error = exc
        checks.append(Check("verifier", "fail", f"{exc.variable}: {exc.problem}", exc.fix))
    except MissingExtra as exc:  # a setting asks for a part whose extra is not installed
        checks.append(
            Check(
                "verifier", "fail", str(exc), f"Install it: pip install 'authbridge[{exc.extra}]'."
            )
        )
    else:
        paths = ", ".join(f"{p.name} ({', '.join(sorted(p.algorithms))})" for p in verifier.paths)
        only = [
            name
            for name, part in (
                ("session credentials", verifier.sessions),
                ("API keys", verifier.api_keys),
            )
            if part is not None
        ]
        trusted = f"trusted paths: {paths}" if paths else f"{' and '.join(only)} only (no JWTs)"
        checks.append(Check("verifier", "pass", trusted))
    _check_origins(settings, checks)
    _check_secrets(settings, checks)
    _check_frontend(settings, checks)
    check_cors_origins(settings, checks)
    if not skip_network:
        _check_jwks(settings, checks)
        check_connections(settings, verifier, checks)
    failed = any(check.status == "fail" for check in checks)
    if json_output:
        emit_json(
            {
                "ok": not failed,
                "settings": rows,
                "checks": [check.as_dict() for check in checks],
            }
        )
    else:
        _render(rows, checks)
    if config_error is not None:
        raise typer.Exit(EXIT_USAGE)
    if failed:
        raise typer.Exit(EXIT_INVALID)


def _render(rows: list[dict[str, Any]], checks: list[Check]) -> None:
    table = Table(title="Effective configuration")
    for column in ("variable", "value", "source"):
        table.add_column(column)
    for row in rows:
        table.add_row(escape(row["variable"]), escape(str(row["value"])), escape(row["source"]))
    print_table(table)
    console.print("[bold]Checks[/]")
    for check in checks:
        console.print(f"  {_MARKS[check.status]} {check.step:<9} {escape(check.detail)}")
        if check.fix and check.status in ("fail", "warn"):
            console.print(f"    {'':<9} [bold]fix:[/] {escape(check.fix)}")
