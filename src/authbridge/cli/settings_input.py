"""Settings for a command: the environment and ``.env``, plus command-line overrides."""

from __future__ import annotations

from typing import Any

from ..config import Settings, load_settings, origin_of

__all__ = ["settings_with_overrides"]


def settings_with_overrides(
    *,
    jwks_url: str | None = None,
    secret: str | None = None,
    issuer: str | None = None,
    audience: str | None = None,
) -> tuple[Settings, list[str]]:
    """Settings with the flags applied, and notes on what was derived."""
    notes: list[str] = []
    overrides: dict[str, Any] = {}
    base = load_settings()
    if jwks_url is not None:
        overrides["AUTHBRIDGE_JWKS_URL"] = jwks_url
        # An explicit URL wins over a static JWKS from the environment.
        overrides["AUTHBRIDGE_JWKS"] = None
        overrides["AUTHBRIDGE_JWKS_FILE"] = None
        if issuer is None and base.resolved_issuer() is None:
            issuer = origin_of(jwks_url, "--jwks")
            notes.append(f"issuer taken from the --jwks origin: {issuer}")
        if audience is None and not base.resolved_audiences():
            audience = origin_of(jwks_url, "--jwks")
            notes.append(f"audience taken from the --jwks origin: {audience}")
    if secret is not None:
        overrides["AUTHBRIDGE_JWT_SECRET"] = secret
    if issuer is not None:
        overrides["AUTHBRIDGE_ISSUER"] = issuer
        overrides["AUTHBRIDGE_JWT_ISSUER"] = issuer
    if audience is not None:
        overrides["AUTHBRIDGE_AUDIENCE"] = audience
        overrides["AUTHBRIDGE_JWT_AUDIENCE"] = audience
    if not overrides:
        return base, notes
    return load_settings(**overrides), notes
