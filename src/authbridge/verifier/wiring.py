"""Settings in, verifier parts out: every object ``Verifier.from_settings`` needs, built here.

The verifier itself only verifies. Which key source a setting selects (a static or remote
JWKS, one shared through Redis, a shared secret), which claim rules each path gets, and which
session store and revocation list back it are decided here, with a ``ConfigError`` naming the
variable and its fix for every inconsistent combination.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from ..cache import TokenCache
from ..claims import ClaimNames
from ..config import Settings, split_list
from ..errors import ConfigError
from ..jose.algorithms import DEFAULT_SYMMETRIC
from ..keys.secret import SharedSecret
from ..keys.source import KeySource
from ..keys.static import StaticJWKS
from .trusted import TokenPolicy, TrustedIssuer, VerifierOptions

if TYPE_CHECKING:
    from ..apikeys.verifier import ApiKeyVerifier
    from ..revocation import RevocationList
    from ..sessions.verifier import SessionVerifier

__all__ = [
    "api_key_verifier",
    "jwks_source",
    "revocation_list",
    "session_verifier",
    "trusted_issuers",
    "verifier_parts",
]

_JWKS_FIX: Final = 'provide JSON like {"keys": [...]} as served by /api/auth/jwks.'


class _Secret(Protocol):
    def get_secret_value(self) -> str: ...


TablesT = TypeVar("TablesT")

_SESSION_TABLES_EXAMPLE: Final = '{"session_table": "sessions", "session_user_id": "user_id"}'


def verifier_parts(settings: Settings) -> tuple[tuple[TrustedIssuer, ...], VerifierOptions]:
    """The trusted paths and the keyword arguments of ``Verifier`` that ``settings`` ask for."""
    policy = TokenPolicy(
        max_token_bytes=settings.max_token_bytes,
        claim_names=ClaimNames(
            roles=tuple(split_list(settings.roles_claim)),
            scopes=tuple(split_list(settings.scopes_claim)),
        ),
        jwt_session_check=settings.jwt_session_check,
    )
    options: VerifierOptions = {
        "sessions": session_verifier(settings),
        "api_keys": api_key_verifier(settings),
        "revocations": revocation_list(settings),
        "policy": policy,
        "cache": TokenCache(settings.token_cache_size),
    }
    return trusted_issuers(settings), options


def trusted_issuers(settings: Settings) -> tuple[TrustedIssuer, ...]:
    """The JWKS path (if a JWKS is configured), then the HS256 path (if a secret is)."""
    asym, sym = settings.split_algorithms()
    paths: list[TrustedIssuer] = []
    common: dict[str, Any] = {
        "leeway": settings.leeway_seconds,
        "required_claims": split_list(settings.required_claims),
        "max_token_lifetime": settings.max_token_lifetime,
        "max_token_age": settings.max_token_age,
    }
    jwks = jwks_source(settings, asym)
    issuer, audiences = settings.resolved_issuer(), settings.resolved_audiences()
    if jwks is not None:
        if not issuer or not audiences:
            raise ConfigError(
                "AUTHBRIDGE_ISSUER",
                "the JWKS path has no issuer or audience.",
                "set BETTER_AUTH_URL, or AUTHBRIDGE_ISSUER and AUTHBRIDGE_AUDIENCE.",
            )
        paths.append(
            TrustedIssuer.create(
                jwks, issuer=issuer, audience=audiences, algorithms=asym or None, **common
            )
        )
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
        if secret == settings.current_better_auth_secret() and not (
            settings.allow_better_auth_secret
        ):
            raise ConfigError(
                "AUTHBRIDGE_JWT_SECRET",
                "equals BETTER_AUTH_SECRET, which also signs Better Auth's session_data cookie.",
                "use a separate secret (`authbridge secret`), or opt in with "
                "AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH=true.",
            )
        hs_issuer = settings.jwt_issuer or issuer
        hs_audiences = split_list(settings.jwt_audience) or audiences
        if not hs_issuer or not hs_audiences:
            raise ConfigError(
                "AUTHBRIDGE_JWT_ISSUER",
                "the HS256 path has no issuer or audience.",
                "set AUTHBRIDGE_JWT_ISSUER and AUTHBRIDGE_JWT_AUDIENCE (or BETTER_AUTH_URL).",
            )
        paths.append(
            TrustedIssuer.create(
                SharedSecret(secret, algorithms=sym or DEFAULT_SYMMETRIC),
                issuer=hs_issuer,
                audience=hs_audiences,
                **common,
            )
        )
    return tuple(paths)


def jwks_source(settings: Settings, asymmetric: list[str]) -> KeySource | None:
    """The JWKS the settings name: inline, a file, or a URL (shared through Redis if set)."""
    rsa_algorithm = settings.resolved_rsa_algorithm(asymmetric)
    if settings.jwks_json:
        try:
            return StaticJWKS(settings.jwks_json, rsa_algorithm=rsa_algorithm)
        except ValueError as exc:
            raise ConfigError("AUTHBRIDGE_JWKS", f"is not a JWK Set ({exc}).", _JWKS_FIX) from None
    if settings.jwks_file:
        try:
            return StaticJWKS.from_file(settings.jwks_file, rsa_algorithm=rsa_algorithm)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                "AUTHBRIDGE_JWKS_FILE", f"cannot be loaded ({type(exc).__name__}).", _JWKS_FIX
            ) from None
    url = settings.resolved_jwks_url()
    if url is None:
        return None
    from ..keys.remote import RemoteJWKS

    options: dict[str, Any] = {
        "ttl": settings.jwks_cache_ttl,
        "cooldown": settings.jwks_cooldown,
        "timeout": settings.jwks_timeout,
        "max_bytes": settings.jwks_max_bytes,
        "max_keys": settings.jwks_max_keys,
        "rsa_algorithm": rsa_algorithm,
        "variable": "AUTHBRIDGE_JWKS_URL" if settings.jwks_url else "BETTER_AUTH_URL",
    }
    if settings.redis_url is not None and settings.jwks_shared_cache:
        # N workers, one fetch: the set is shared through Redis (keys/shared_jwks.py).
        from ..keys.shared_jwks import SharedRemoteJWKS

        return SharedRemoteJWKS(
            url,
            redis_url=settings.redis_url.get_secret_value(),
            prefix=settings.redis_prefix,
            redis_timeout=settings.redis_timeout,
            **options,
        )
    return RemoteJWKS(url, **options)


def session_verifier(settings: Settings) -> SessionVerifier | None:
    """The Better Auth session store (database or remote mode), or ``None`` when off."""
    if settings.session_mode == "off":
        if settings.session_cookie or settings.jwt_session_check:
            raise ConfigError(
                "AUTHBRIDGE_SESSION_MODE",
                "is off, but session cookies or the JWT session check need a session store.",
                "set AUTHBRIDGE_SESSION_MODE=database (shared database) or remote.",
            )
        return None
    from ..sessions.config import SessionConfig, SessionTables, resolve_secrets
    from ..sessions.verifier import SessionVerifier

    secrets, legacy = resolve_secrets(
        secrets_env=_reveal(settings.better_auth_secrets),
        secret_env=_reveal(settings.better_auth_secret),
    )
    tables = _tables(
        SessionTables, settings.session_tables, "AUTHBRIDGE_SESSION_TABLES", _SESSION_TABLES_EXAMPLE
    )
    config = SessionConfig(
        mode=settings.session_mode,
        secrets=secrets,
        legacy_secret=legacy,
        allow_unsigned=settings.session_allow_unsigned,
        database_url=settings.session_database_url,
        tables=tables,
        cache_ttl=settings.session_cache_ttl,
        base_url=settings.better_auth_url,
        remote_credential=settings.session_remote_credential,
        cookies_enabled=settings.session_cookie,
        cookie_prefix=settings.session_cookie_prefix,
        session_cookie_name=settings.session_cookie_name,
        cookie_cache=settings.session_cookie_cache,
        trusted_origins=tuple(split_list(settings.trusted_origins)),
        timeout=settings.session_timeout,
    )
    return SessionVerifier(config)


def api_key_verifier(settings: Settings) -> ApiKeyVerifier | None:
    """Better Auth API keys (``AUTHBRIDGE_API_KEYS``), or ``None`` when off.

    Remote mode asks the Better Auth server the session remote mode asks (``BETTER_AUTH_URL``);
    database mode, and remote mode's permission lookup, use the session database
    (``AUTHBRIDGE_SESSION_DATABASE_URL``) and its table names.
    """
    if settings.api_keys == "off":
        return None
    from ..apikeys.config import ApiKeyConfig, ApiKeyTables, parse_headers
    from ..apikeys.verifier import ApiKeyVerifier
    from ..sessions.config import SessionTables

    tables = _tables(
        ApiKeyTables,
        settings.api_key_tables,
        "AUTHBRIDGE_API_KEY_TABLES",
        '{"table": "api_keys", "reference_id": "user_id"}',
    )
    user_tables = _tables(
        SessionTables, settings.session_tables, "AUTHBRIDGE_SESSION_TABLES", _SESSION_TABLES_EXAMPLE
    )
    config = ApiKeyConfig(
        mode=settings.api_keys,
        headers=parse_headers(settings.api_key_header),
        base_url=settings.better_auth_url,
        database_url=settings.session_database_url,
        tables=tables,
        user_tables=user_tables,
        min_key_length=settings.api_key_min_length,
        rate_limit=settings.api_key_rate_limit,
        cache_ttl=settings.api_key_cache_ttl,
        timeout=settings.session_timeout,
        issuer=settings.base_origin or "better-auth-session",
    )
    return ApiKeyVerifier(config)


def revocation_list(settings: Settings) -> RevocationList | None:
    """The Redis revocation list when ``AUTHBRIDGE_REVOCATION`` is on, else ``None``."""
    if not settings.revocation:
        return None
    if settings.redis_url is None:
        raise ConfigError(
            "AUTHBRIDGE_REVOCATION",
            "needs a shared store so that every instance sees each revocation.",
            "set AUTHBRIDGE_REDIS_URL (e.g. redis://127.0.0.1:6379/0).",
        )
    from ..revocation import RevocationList

    return RevocationList(
        settings.redis_url.get_secret_value(),
        prefix=settings.redis_prefix,
        failure=settings.redis_failure,
        resync_interval=settings.revocation_resync,
        retention=settings.revocation_retention,
        timeout=settings.redis_timeout,
    )


def _tables(kind: type[TablesT], text: str | None, variable: str, example: str) -> TablesT:
    """The table names in ``variable`` (a JSON object of ``kind``'s fields), else the
    defaults."""
    if not text:
        return kind()
    try:
        return kind(**json.loads(text))
    except (ValueError, TypeError):
        raise ConfigError(
            variable,
            f"is not a JSON object of {kind.__name__} fields.",
            f"write e.g. {example}.",
        ) from None


def _reveal(value: _Secret | None) -> str | None:
    return value.get_secret_value() if value is not None else None
