"""``authbridge mint``: development tokens shaped like Better Auth's JWT-plugin tokens."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from ..config import load_settings
from ..errors import ConfigError
from ..jose.sign import sign_compact
from .dev_guard import refuse_in_production
from .devkeys import ASYMMETRIC_DEV_ALGORITHMS
from .mint_target import MintTarget, mint_target
from .output import emit_json, err_console, escape, fail_usage, guarded
from .timefmt import describe_time

__all__ = ["mint_command", "parse_duration"]

MINT_ALGORITHMS: Final = (*ASYMMETRIC_DEV_ALGORITHMS, "HS256")
DEFAULT_LIFETIME: Final = 900  # Better Auth's: 15 minutes
_DURATION: Final = re.compile(r"(-?\d{1,9})\s*(s|m|min|h|d)?")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, option: str) -> int:
    """ "15m" → 900. A negative value puts the time in the past (e.g. an expired token)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise typer.BadParameter(
            f"{text!r} is not a duration like 30s, 15m, 2h or -1h", param_hint=option
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


def _iso_ms(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _extra_claims(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise typer.BadParameter("is not valid JSON", param_hint="--claims") from None
    if not isinstance(value, dict):
        raise typer.BadParameter(
            'must be a JSON object like {"role": "admin"}', param_hint="--claims"
        )
    return value


def _require_claims(target: MintTarget, payload: dict[str, Any]) -> None:
    """The verifier's required claims that the token lacks: refuse rather than mint a token
    that verify refuses."""
    missing = sorted(target.rules.required - payload.keys()) if target.rules else []
    if missing:
        raise ConfigError(
            "AUTHBRIDGE_REQUIRED_CLAIMS",
            f"requires {', '.join(missing)}, which this token would lack, so verify would "
            "refuse it.",
            "add them with --claims, e.g. --claims '" + json.dumps({missing[0]: "..."}) + "'.",
        )


@guarded
def mint_command(
    sub: Annotated[str, typer.Option("--sub", help="The user id (sub and id claims).")],
    email: Annotated[
        str | None, typer.Option("--email", help="Default: <sub>@example.com.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Default: the sub.")] = None,
    claims: Annotated[
        str | None, typer.Option("--claims", help="Extra claims as a JSON object; they win.")
    ] = None,
    alg: Annotated[
        str | None,
        typer.Option(
            "--alg",
            help="EdDSA, ES256, ES512, PS256, RS256 or HS256 (default: what the settings verify).",
            show_default=False,
        ),
    ] = None,
    exp: Annotated[
        str | None,
        typer.Option(
            "--exp",
            help="Lifetime like 15m; negative = expired. Default 15m, or the API's "
            "AUTHBRIDGE_MAX_TOKEN_LIFETIME when that is shorter.",
            show_default=False,
        ),
    ] = None,
    nbf: Annotated[
        str | None, typer.Option("--nbf", help="Add nbf = now + this duration (e.g. 10m).")
    ] = None,
    iss: Annotated[
        str | None, typer.Option("--iss", help="Default: the issuer the settings verify.")
    ] = None,
    aud: Annotated[
        str | None,
        typer.Option("--aud", help="Default: --iss if given, else the audience verified."),
    ] = None,
    kid: Annotated[
        str | None, typer.Option("--kid", help="Override the header kid (to test unknown kids).")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            help="Sign HS256 with this secret (default AUTHBRIDGE_JWT_SECRET).",
            show_default=False,
        ),
    ] = None,
    keys_file: Annotated[
        Path | None,
        typer.Option(
            "--keys-file",
            help="Dev keys file (default .authbridge/dev-keys.json at the repo root).",
            envvar="AUTHBRIDGE_DEV_KEYS_FILE",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Mint a development token like Better Auth's /api/auth/token. Refused in production."""
    settings = load_settings()
    refuse_in_production(settings, "mint")
    if alg is not None and alg not in MINT_ALGORITHMS:
        fail_usage(f"--alg must be one of {', '.join(MINT_ALGORITHMS)}", as_json=json_output)
    lifetime = parse_duration(exp, "--exp") if exp is not None else None
    not_before = parse_duration(nbf, "--nbf") if nbf is not None else None
    extra = _extra_claims(claims)
    target = mint_target(settings, alg=alg, secret=secret, keys_file=keys_file)
    if lifetime is None:
        longest = target.rules.max_lifetime if target.rules else None
        lifetime = min(DEFAULT_LIFETIME, int(longest)) if longest else DEFAULT_LIFETIME
    issuer = iss or target.issuer
    audience = aud or (iss if iss and not aud else target.audience)

    now = int(time.time())
    created = _iso_ms(now)
    payload: dict[str, Any] = {
        "iat": now,
        "name": name if name is not None else sub,
        "email": email if email is not None else f"{sub}@example.com",
        "emailVerified": False,
        "image": None,
        "createdAt": created,
        "updatedAt": created,
        "id": sub,
        "sub": sub,
        "exp": now + lifetime,
        "iss": issuer,
        "aud": audience,
    }
    if not_before is not None:
        payload["nbf"] = now + not_before
    payload.update(extra)
    _require_claims(target, payload)

    key_info: dict[str, Any]
    dev_key = target.dev_key
    if dev_key is None:
        assert target.secret is not None
        token = sign_compact(payload, target.secret, target.alg, kid=kid)
        key_info = {"kind": "shared secret", "kid": kid}
    else:
        header_kid = kid if kid is not None else dev_key.kid
        token = sign_compact(payload, dev_key.private_key, target.alg, kid=header_kid)
        key_info = {
            "kind": "dev key",
            "kid": header_kid,
            "file": str(target.keys_file),
            "created": target.key_created,
            "thumbprint": dev_key.thumbprint,
        }
    header = {"alg": target.alg, **({"kid": key_info["kid"]} if key_info.get("kid") else {})}
    if json_output:
        emit_json(
            {
                "token": token,
                "header": header,
                "claims": payload,
                "key": key_info,
                "expires": describe_time("exp", payload["exp"], time.time()),
                "notes": list(target.notes),
            }
        )
        return
    if target.key_created:
        err_console.print(
            f"[green]created[/] the {escape(target.alg)} dev key in "
            f"{escape(str(key_info['file']))} (mode 600)"
        )
    for note in target.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}")
    sys_out = typer.get_text_stream("stdout")
    sys_out.write(token + "\n")
    err_console.print(
        f"[dim]{escape(target.alg)} token for sub {escape(sub)}; iss {escape(issuer)}, "
        f"aud {escape(str(audience))}; {escape(describe_time('exp', payload['exp'], now) or '')}[/]"
    )
