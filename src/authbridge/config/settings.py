"""Settings from the environment and ``.env``: what authbridge reads, and what derives from it.

Every field is declared once (variable, type, default, bounds, a one-line doc). Every problem
is reported as a ``ConfigError`` that names the variable and the fix, at startup.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from ..errors import ConfigError
from .fields import Secret, ValueProblem, collect, convert, field_specs, read_dotenv, setting

__all__ = ["Settings", "load_settings", "origin_of", "split_list"]


def split_list(value: str | None) -> list[str]:
    """Split a comma-separated setting; blanks are dropped."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


_DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443}


def origin_of(url: str, variable: str = "BETTER_AUTH_URL") -> str:
    """``scheme://host[:port]``, as Better Auth derives its iss and aud from its base URL.

    Mirrors JavaScript's ``new URL(url).origin``: lower-case host, punycode for non-ASCII
    hosts, no user info, and no port when it is the scheme's default.
    """
    problem = ConfigError(
        variable, "is not an http(s) URL.", "set it like https://auth.example.com"
    )
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
        if host and not host.isascii():
            host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise problem from None
    if parts.scheme not in _DEFAULT_PORTS or not host:
        raise problem
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


def _safe_realm(value: str) -> str | None:
    # The realm goes into a header verbatim (RFC 6750 §3).
    if not value or any(c in value for c in '"\\') or not value.isprintable():
        return "must be printable characters without quotes or backslashes."
    return None


RsaAlgorithm = Literal["RS256", "PS256", "RS384", "PS384", "RS512", "PS512"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Every variable authbridge reads. See docs/settings.md.

    Build it with :func:`load_settings` (environment, ``.env``, overrides), or directly with
    field names; either way every value is checked, and a bad one is a ``ConfigError``
    naming its variable. ``field_specs(Settings)`` lists the declarations.
    """

    # ``setting()`` declares a field; ruff's RUF009 cannot tell it from a shared mutable default.

    # Better Auth
    better_auth_url: str | None = setting(
        "BETTER_AUTH_URL",
        None,
        "Better Auth's base URL; issuer, audience and JWKS URL derive from it.",
    )
    better_auth_secret: Secret | None = setting(  # noqa: RUF009
        "BETTER_AUTH_SECRET", None, "Better Auth's secret: checks session-token HMACs."
    )
    better_auth_secrets: Secret | None = setting(  # noqa: RUF009
        "BETTER_AUTH_SECRETS", None, "Better Auth's versioned secrets, current first: 2:new,1:old."
    )

    # JWKS path
    jwks_url: str | None = setting("AUTHBRIDGE_JWKS_URL", None, "The JWKS to trust.")
    jwks_json: str | None = setting("AUTHBRIDGE_JWKS", None, "A static JWK Set as JSON text.")
    jwks_file: str | None = setting("AUTHBRIDGE_JWKS_FILE", None, "A static JWK Set file.")
    issuer: str | None = setting("AUTHBRIDGE_ISSUER", None, "The exact iss of the JWKS path.")
    audience: str | None = setting(
        "AUTHBRIDGE_AUDIENCE", None, "Accepted audiences, comma-separated."
    )
    algorithms: str | None = setting(
        "AUTHBRIDGE_ALGORITHMS", None, "Comma-separated, case-sensitive algorithm allow-list."
    )
    rsa_algorithm: RsaAlgorithm | None = setting(  # noqa: RUF009
        "AUTHBRIDGE_RSA_ALGORITHM", None, "The algorithm for RSA keys that carry no alg."
    )
    jwks_cache_ttl: float = setting(
        "AUTHBRIDGE_JWKS_CACHE_TTL", 600.0, "JWKS freshness in seconds.", ge=0
    )
    jwks_cooldown: float = setting(
        "AUTHBRIDGE_JWKS_COOLDOWN", 30.0, "Minimum seconds between unknown-kid refetches.", ge=0
    )
    jwks_timeout: float = setting(
        "AUTHBRIDGE_JWKS_TIMEOUT", 5.0, "JWKS fetch timeout in seconds.", gt=0, le=60
    )
    jwks_max_bytes: int = setting(
        "AUTHBRIDGE_JWKS_MAX_BYTES", 65536, "JWKS response size cap in bytes.", ge=1024
    )
    jwks_max_keys: int = setting(
        "AUTHBRIDGE_JWKS_MAX_KEYS", 20, "Maximum keys in a JWKS.", ge=1, le=1000
    )

    # HS256 path
    jwt_secret: Secret | None = setting(  # noqa: RUF009
        "AUTHBRIDGE_JWT_SECRET", None, "Turns on the HS256 path for service tokens."
    )
    jwt_issuer: str | None = setting("AUTHBRIDGE_JWT_ISSUER", None, "The HS256 path's iss.")
    jwt_audience: str | None = setting("AUTHBRIDGE_JWT_AUDIENCE", None, "The HS256 path's aud.")
    allow_better_auth_secret: bool = setting(
        "AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH",
        False,
        "Allow AUTHBRIDGE_JWT_SECRET to equal BETTER_AUTH_SECRET.",
    )

    # Claim policy
    leeway_seconds: float = setting(
        "AUTHBRIDGE_LEEWAY_SECONDS", 30.0, "Clock-skew leeway for exp, nbf, iat.", ge=0, le=60
    )
    max_token_bytes: int = setting(
        "AUTHBRIDGE_MAX_TOKEN_BYTES",
        8192,
        "Tokens larger than this are refused before decoding.",
        ge=512,
        le=65536,
    )
    max_token_age: float | None = setting(
        "AUTHBRIDGE_MAX_TOKEN_AGE", None, "Refuse tokens whose iat is older (seconds).", gt=0
    )
    max_token_lifetime: float = setting(
        "AUTHBRIDGE_MAX_TOKEN_LIFETIME", 3600.0, "Longest exp - iat accepted (seconds).", gt=0
    )
    required_claims: str = setting(
        "AUTHBRIDGE_REQUIRED_CLAIMS", "exp,iat,iss,aud,sub", "Claims every token must carry."
    )
    roles_claim: str = setting("AUTHBRIDGE_ROLES_CLAIM", "role,roles", "Where roles are read.")
    scopes_claim: str = setting(
        "AUTHBRIDGE_SCOPES_CLAIM", "scope,scp,scopes", "Where scopes are read."
    )
    token_cache_size: int = setting(
        "AUTHBRIDGE_TOKEN_CACHE_SIZE", 10000, "Verified-token cache entries (0: off).", ge=0
    )

    # Better Auth session credentials
    session_mode: Literal["off", "database", "remote"] = setting(
        "AUTHBRIDGE_SESSION_MODE", "off", "Accept Better Auth session tokens: database or remote."
    )
    session_database_url: str | None = setting(
        "AUTHBRIDGE_SESSION_DATABASE_URL", None, "Better Auth's database (database mode)."
    )
    session_cookie: bool = setting(
        "AUTHBRIDGE_SESSION_COOKIE", False, "on: the session cookie is a credential too."
    )
    session_cookie_prefix: str = setting(
        "AUTHBRIDGE_SESSION_COOKIE_PREFIX", "better-auth", "Better Auth's advanced.cookiePrefix."
    )
    session_cookie_name: str | None = setting(
        "AUTHBRIDGE_SESSION_COOKIE_NAME", None, "A custom session cookie name."
    )
    session_allow_unsigned: bool = setting(
        "AUTHBRIDGE_SESSION_ALLOW_UNSIGNED", False, "Accept the raw session token as a bearer."
    )
    session_cache_ttl: float | None = setting(
        "AUTHBRIDGE_SESSION_CACHE_TTL",
        None,
        "Seconds a resolved session is cached (default 0 database, 5 remote).",
        ge=0,
        le=300,
    )
    session_cookie_cache: Literal["off", "compact", "jwt", "jwe"] = setting(
        "AUTHBRIDGE_SESSION_COOKIE_CACHE", "off", "Trust Better Auth's session_data cookie cache."
    )
    session_remote_credential: Literal["cookie", "bearer"] = setting(
        "AUTHBRIDGE_SESSION_REMOTE_CREDENTIAL", "cookie", "How remote mode forwards the credential."
    )
    session_timeout: float = setting(
        "AUTHBRIDGE_SESSION_TIMEOUT",
        5.0,
        "Seconds per session-store query or get-session call.",
        gt=0,
        le=60,
    )
    session_tables: str | None = setting(
        "AUTHBRIDGE_SESSION_TABLES", None, "JSON overrides for schema, table and column names."
    )
    jwt_session_check: bool = setting(
        "AUTHBRIDGE_JWT_SESSION_CHECK", False, "Refuse JWTs whose sid session row is gone."
    )
    trusted_origins: str | None = setting(
        "AUTHBRIDGE_TRUSTED_ORIGINS", None, "Origins that may send cookie-authenticated writes."
    )

    # Better Auth API keys (@better-auth/api-key)
    api_keys: Literal["off", "remote", "database"] = setting(
        "AUTHBRIDGE_API_KEYS", "off", "Accept Better Auth API keys: remote or database."
    )
    api_key_header: str = setting(
        "AUTHBRIDGE_API_KEY_HEADER", "x-api-key", "Headers an API key is read from (comma list)."
    )
    api_key_cache_ttl: float = setting(
        "AUTHBRIDGE_API_KEY_CACHE_TTL",
        5.0,
        "Seconds an unlimited API key is cached (database mode).",
        ge=0,
        le=60,
    )
    api_key_min_length: int = setting(
        "AUTHBRIDGE_API_KEY_MIN_LENGTH", 64, "Better Auth's defaultKeyLength.", ge=1, le=512
    )
    api_key_rate_limit: bool = setting(
        "AUTHBRIDGE_API_KEY_RATE_LIMIT", True, "Better Auth's apiKey rateLimit.enabled."
    )
    api_key_tables: str | None = setting(
        "AUTHBRIDGE_API_KEY_TABLES", None, "JSON overrides for the apikey table and columns."
    )

    # Shared state across instances (Redis, optional)
    redis_url: Secret | None = setting(  # noqa: RUF009
        "AUTHBRIDGE_REDIS_URL", None, "Optional Redis for shared state across instances."
    )
    redis_prefix: str = setting(
        "AUTHBRIDGE_REDIS_PREFIX", "authbridge:", "Redis key prefix.", min_length=1
    )
    redis_failure: Literal["open", "closed"] = setting(
        "AUTHBRIDGE_REDIS_FAILURE", "open", "When Redis is down: open or closed."
    )
    redis_timeout: float = setting(
        "AUTHBRIDGE_REDIS_TIMEOUT", 0.5, "Redis call timeout in seconds.", gt=0, le=30
    )
    revocation: bool = setting(
        "AUTHBRIDGE_REVOCATION", False, "Shared JWT revocation list (needs Redis)."
    )
    revocation_resync: float = setting(
        "AUTHBRIDGE_REVOCATION_RESYNC", 30.0, "Full resync interval in seconds.", gt=0, le=3600
    )
    revocation_retention: float = setting(
        "AUTHBRIDGE_REVOCATION_RETENTION", 604800.0, "How long revocations are kept.", gt=0
    )
    jwks_shared_cache: bool = setting(
        "AUTHBRIDGE_JWKS_SHARED_CACHE", True, "With Redis, workers share one JWKS copy."
    )

    # HTTP layer
    realm: str = setting(
        "AUTHBRIDGE_REALM", "authbridge", "The realm in WWW-Authenticate.", check=_safe_realm
    )
    environment: Literal["development", "test", "production"] = setting(
        "AUTHBRIDGE_ENV", "development", "production disables dev-only commands."
    )

    def __post_init__(self) -> None:
        # Every value is checked however the object is built; strings become Secrets.
        for spec in field_specs(Settings):
            try:
                value = convert(spec, getattr(self, spec.name))
            except ValueProblem as problem:
                raise ConfigError(spec.variable, str(problem), _FIX) from None
            object.__setattr__(self, spec.name, value)

    # --- derived values -------------------------------------------------------------------

    @property
    def base_origin(self) -> str | None:
        return origin_of(self.better_auth_url) if self.better_auth_url else None

    def resolved_issuer(self) -> str | None:
        return self.issuer or self.base_origin

    def resolved_audiences(self) -> list[str]:
        return split_list(self.audience) or ([self.base_origin] if self.base_origin else [])

    def resolved_jwks_url(self) -> str | None:
        if self.jwks_url:
            return self.jwks_url
        if self.better_auth_url and not (self.jwks_json or self.jwks_file):
            return self.better_auth_url.rstrip("/") + "/api/auth/jwks"
        return None

    def split_algorithms(self) -> tuple[list[str], list[str]]:
        """(asymmetric, symmetric) allow-lists, validated."""
        # The algorithm table needs cryptography: imported when asked, so reading settings
        # (the Tasks API's settings, `authbridge check`) does not load it.
        from ..jose.algorithms import ALGORITHMS, DEFAULT_ASYMMETRIC, DEFAULT_SYMMETRIC

        names = split_list(self.algorithms)
        if not names:
            return list(DEFAULT_ASYMMETRIC), list(DEFAULT_SYMMETRIC)
        unknown = [n for n in names if n not in ALGORITHMS]
        if unknown:
            raise ConfigError(
                "AUTHBRIDGE_ALGORITHMS",
                f"unknown algorithm(s) {', '.join(map(repr, unknown))} (names are case-sensitive).",
                "choose from " + ", ".join(sorted(ALGORITHMS)) + ".",
            )
        asym = [n for n in names if not ALGORITHMS[n].symmetric]
        sym = [n for n in names if ALGORITHMS[n].symmetric]
        return asym, sym

    def resolved_rsa_algorithm(self, asymmetric: list[str]) -> str:
        if self.rsa_algorithm:
            return self.rsa_algorithm
        from ..jose.algorithms import ALGORITHMS

        rsa = [n for n in asymmetric if ALGORITHMS[n].family == "RSA"]
        return "RS256" if "RS256" in rsa or not rsa else rsa[0]

    def current_better_auth_secret(self) -> str | None:
        """Better Auth's current secret: first of BETTER_AUTH_SECRETS, else BETTER_AUTH_SECRET."""
        if self.better_auth_secrets:
            first = split_list(self.better_auth_secrets.get_secret_value())[:1]
            if first:
                return first[0].split(":", 1)[-1]
        return self.better_auth_secret.get_secret_value() if self.better_auth_secret else None


_FIX = "correct the value in the environment or .env (see docs/settings.md)."


def load_settings(env_file: str | os.PathLike[str] | None = ".env", **overrides: Any) -> Settings:
    """Settings from ``overrides``, else the environment, else ``env_file``, else defaults.

    ``overrides`` are keyed by variable name (``BETTER_AUTH_URL="..."``); a None override
    unsets that variable. Environment names match case-insensitively, as pydantic-settings
    did. A bad value is a ``ConfigError`` that names the variable and the fix.
    """
    specs = field_specs(Settings)
    known = {variable for spec in specs for variable in spec.variables}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"load_settings() got unknown variable(s): {', '.join(unknown)}")
    environ = _folded(os.environ)
    dotenv = _folded(read_dotenv(env_file, os.environ)) if env_file is not None else {}
    return Settings(**collect(specs, overrides, environ, dotenv))


def _folded(source: Mapping[str, str]) -> dict[str, str]:
    # Any spelling of a name is accepted; the exact upper-case one wins over the others.
    return {**{key.upper(): value for key, value in source.items()}, **source}
