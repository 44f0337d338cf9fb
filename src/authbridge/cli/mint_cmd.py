"""``authbridge mint``: development tokens shaped like Better Auth's JWT-plugin tokens."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from ..config import Settings, load_settings
from ..errors import ConfigError
from ..jose.algorithms import ALGORITHMS
from ..jose.sign import sign_compact
from ..keys.secret import check_secret
from .dev_guard import dev_key_store, refuse_in_production
from .devkeys import ASYMMETRIC_DEV_ALGORITHMS
from .output import emit_json, err_console, escape, fail_usage, guarded
from .timefmt import describe_time

__all__ = ["DEV_ISSUER_ORIGIN", "mint_command", "parse_duration"]

DEV_ISSUER_ORIGIN: Final = "http://127.0.0.1:3999"
MINT_ALGORITHMS: Final = (*ASYMMETRIC_DEV_ALGORITHMS, "HS256")
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


def _default_origin(settings: Settings, symmetric: bool) -> tuple[str, str]:
    if symmetric:
        issuer = settings.jwt_issuer or settings.resolved_issuer()
        audiences = settings.jwt_audience or ",".join(settings.resolved_audiences())
        audience = audiences.split(",")[0].strip() if audiences else None
    else:
        issuer = settings.resolved_issuer()
        audience = next(iter(settings.resolved_audiences()), None)
    return issuer or DEV_ISSUER_ORIGIN, audience or issuer or DEV_ISSUER_ORIGIN


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


def _hs_secret(settings: Settings, secret: str | None) -> bytes:
    value = (
        secret
        if secret is not None
        else (settings.jwt_secret.get_secret_value() if settings.jwt_secret else None)
    )
    if value is None:
        raise ConfigError(
            "AUTHBRIDGE_JWT_SECRET",
            "is not set, so there is nothing to sign HS256 tokens with.",
            "run `authbridge secret --write --hs256`, or pass --secret.",
        )
    return check_secret(value, "--secret" if secret is not None else "AUTHBRIDGE_JWT_SECRET")


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
        str, typer.Option("--alg", help="EdDSA, ES256, ES512, PS256, RS256 or HS256.")
    ] = "EdDSA",
    exp: Annotated[
        str, typer.Option("--exp", help="Lifetime like 15m; negative = expired.")
    ] = "15m",
    nbf: Annotated[
        str | None, typer.Option("--nbf", help="Add nbf = now + this duration (e.g. 10m).")
    ] = None,
    iss: Annotated[
        str | None, typer.Option("--iss", help="Default: the BETTER_AUTH_URL origin.")
    ] = None,
    aud: Annotated[
        str | None, typer.Option("--aud", help="Default: the same origin as iss.")
    ] = None,
    kid: Annotated[
        str | None, typer.Option("--kid", help="Override the header kid (to test unknown kids).")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret", help="HS256 secret (default AUTHBRIDGE_JWT_SECRET).", show_default=False
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
    if alg not in MINT_ALGORITHMS:
        fail_usage(f"--alg must be one of {', '.join(MINT_ALGORITHMS)}", as_json=json_output)
    lifetime = parse_duration(exp, "--exp")
    not_before = parse_duration(nbf, "--nbf") if nbf is not None else None
    extra = _extra_claims(claims)
    symmetric = ALGORITHMS[alg].symmetric
    default_iss, default_aud = _default_origin(settings, symmetric)
    issuer = iss or default_iss
    audience = aud or (iss if iss and not aud else default_aud)

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

    key_created = False
    key_info: dict[str, Any]
    if symmetric:
        token = sign_compact(payload, _hs_secret(settings, secret), alg, kid=kid)
        key_info = {"kind": "shared secret", "kid": kid}
    else:
        store = dev_key_store(keys_file)
        dev_key, key_created = store.key_for(alg)
        header_kid = kid if kid is not None else dev_key.kid
        token = sign_compact(payload, dev_key.private_key, alg, kid=header_kid)
        key_info = {
            "kind": "dev key",
            "kid": header_kid,
            "file": str(store.path),
            "created": key_created,
            "thumbprint": dev_key.thumbprint,
        }
    header = {"alg": alg, **({"kid": key_info["kid"]} if key_info.get("kid") else {})}
    if json_output:
        emit_json(
            {
                "token": token,
                "header": header,
                "claims": payload,
                "key": key_info,
                "expires": describe_time("exp", payload["exp"], time.time()),
            }
        )
        return
    if key_created:
        err_console.print(
            f"[green]created[/] the {escape(alg)} dev key in {escape(str(key_info['file']))} "
            "(mode 600)"
        )
    sys_out = typer.get_text_stream("stdout")
    sys_out.write(token + "\n")
    err_console.print(
        f"[dim]{escape(alg)} token for sub {escape(sub)}; iss {escape(issuer)}, "
        f"aud {escape(str(audience))}; {escape(describe_time('exp', payload['exp'], now) or '')}[/]"
    )
