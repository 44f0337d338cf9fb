"""Settings from the environment and ``.env`` (pydantic-settings).

Every problem is reported as a ``ConfigError`` that names the variable and the fix, at startup.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError
from .jose.algorithms import ALGORITHMS, DEFAULT_ASYMMETRIC, DEFAULT_SYMMETRIC

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


def _env(name: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(name))


class Settings(BaseSettings):
    """Every variable authbridge reads. See the README's settings table."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=False
    )

    # Better Auth
    better_auth_url: str | None = _env("BETTER_AUTH_URL")
    better_auth_secret: SecretStr | None = _env("BETTER_AUTH_SECRET")
    better_auth_secrets: SecretStr | None = _env("BETTER_AUTH_SECRETS")

    # JWKS path
    jwks_url: str | None = _env("AUTHBRIDGE_JWKS_URL")
    jwks_json: str | None = _env("AUTHBRIDGE_JWKS")
    jwks_file: str | None = _env("AUTHBRIDGE_JWKS_FILE")
    issuer: str | None = _env("AUTHBRIDGE_ISSUER")
    audience: str | None = _env("AUTHBRIDGE_AUDIENCE")
    algorithms: str | None = _env("AUTHBRIDGE_ALGORITHMS")
    rsa_algorithm: Literal["RS256", "PS256", "RS384", "PS384", "RS512", "PS512"] | None = _env(
        "AUTHBRIDGE_RSA_ALGORITHM"
    )
    jwks_cache_ttl: float = Field(
        default=600.0, ge=0, validation_alias=AliasChoices("AUTHBRIDGE_JWKS_CACHE_TTL")
    )
    jwks_cooldown: float = Field(
        default=30.0, ge=0, validation_alias=AliasChoices("AUTHBRIDGE_JWKS_COOLDOWN")
    )
    jwks_timeout: float = Field(
        default=5.0, gt=0, le=60, validation_alias=AliasChoices("AUTHBRIDGE_JWKS_TIMEOUT")
    )
    jwks_max_bytes: int = Field(
        default=65536, ge=1024, validation_alias=AliasChoices("AUTHBRIDGE_JWKS_MAX_BYTES")
    )
    jwks_max_keys: int = Field(
        default=20, ge=1, le=1000, validation_alias=AliasChoices("AUTHBRIDGE_JWKS_MAX_KEYS")
    )

    # HS256 path
    jwt_secret: SecretStr | None = _env("AUTHBRIDGE_JWT_SECRET")
    jwt_issuer: str | None = _env("AUTHBRIDGE_JWT_ISSUER")
    jwt_audience: str | None = _env("AUTHBRIDGE_JWT_AUDIENCE")
    allow_better_auth_secret: bool = Field(
        default=False, validation_alias=AliasChoices("AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH")
    )

    # Claim policy
    leeway_seconds: float = Field(
        default=30.0, ge=0, le=60, validation_alias=AliasChoices("AUTHBRIDGE_LEEWAY_SECONDS")
    )
    max_token_bytes: int = Field(
        default=8192, ge=512, le=65536, validation_alias=AliasChoices("AUTHBRIDGE_MAX_TOKEN_BYTES")
    )
    max_token_age: float | None = Field(
        default=None, gt=0, validation_alias=AliasChoices("AUTHBRIDGE_MAX_TOKEN_AGE")
    )
    max_token_lifetime: float = Field(
        default=3600.0, gt=0, validation_alias=AliasChoices("AUTHBRIDGE_MAX_TOKEN_LIFETIME")
    )
    required_claims: str = Field(
        default="exp,iat,iss,aud,sub", validation_alias=AliasChoices("AUTHBRIDGE_REQUIRED_CLAIMS")
    )
    roles_claim: str = Field(
        default="role,roles", validation_alias=AliasChoices("AUTHBRIDGE_ROLES_CLAIM")
    )
    scopes_claim: str = Field(
        default="scope,scp,scopes", validation_alias=AliasChoices("AUTHBRIDGE_SCOPES_CLAIM")
    )
    token_cache_size: int = Field(
        default=10000, ge=0, validation_alias=AliasChoices("AUTHBRIDGE_TOKEN_CACHE_SIZE")
    )

    # Better Auth session credentials
    session_mode: Literal["off", "database", "remote"] = Field(
        default="off", validation_alias=AliasChoices("AUTHBRIDGE_SESSION_MODE")
    )
    session_database_url: str | None = _env("AUTHBRIDGE_SESSION_DATABASE_URL")
    session_cookie: bool = Field(
        default=False, validation_alias=AliasChoices("AUTHBRIDGE_SESSION_COOKIE")
    )
    session_cookie_prefix: str = Field(
        default="better-auth", validation_alias=AliasChoices("AUTHBRIDGE_SESSION_COOKIE_PREFIX")
    )
    session_cookie_name: str | None = _env("AUTHBRIDGE_SESSION_COOKIE_NAME")
    session_allow_unsigned: bool = Field(
        default=False, validation_alias=AliasChoices("AUTHBRIDGE_SESSION_ALLOW_UNSIGNED")
    )
    session_cache_ttl: float | None = Field(
        default=None, ge=0, le=300, validation_alias=AliasChoices("AUTHBRIDGE_SESSION_CACHE_TTL")
    )
    session_cookie_cache: Literal["off", "compact", "jwt", "jwe"] = Field(
        default="off", validation_alias=AliasChoices("AUTHBRIDGE_SESSION_COOKIE_CACHE")
    )
    session_remote_credential: Literal["cookie", "bearer"] = Field(
        default="cookie", validation_alias=AliasChoices("AUTHBRIDGE_SESSION_REMOTE_CREDENTIAL")
    )
    session_timeout: float = Field(
        default=5.0, gt=0, le=60, validation_alias=AliasChoices("AUTHBRIDGE_SESSION_TIMEOUT")
    )
    session_tables: str | None = _env("AUTHBRIDGE_SESSION_TABLES")
    jwt_session_check: bool = Field(
        default=False, validation_alias=AliasChoices("AUTHBRIDGE_JWT_SESSION_CHECK")
    )
    trusted_origins: str | None = _env("AUTHBRIDGE_TRUSTED_ORIGINS")

    @field_validator("session_cookie", mode="before")
    @classmethod
    def _on_off(cls, value: object) -> object:
        return {"on": True, "off": False}.get(value, value) if isinstance(value, str) else value

    # Shared state across instances (Redis, optional)
    redis_url: SecretStr | None = _env("AUTHBRIDGE_REDIS_URL")
    redis_prefix: str = Field(
        default="authbridge:",
        min_length=1,
        validation_alias=AliasChoices("AUTHBRIDGE_REDIS_PREFIX"),
    )
    redis_failure: Literal["open", "closed"] = Field(
        default="open", validation_alias=AliasChoices("AUTHBRIDGE_REDIS_FAILURE")
    )
    redis_timeout: float = Field(
        default=0.5, gt=0, le=30, validation_alias=AliasChoices("AUTHBRIDGE_REDIS_TIMEOUT")
    )
    revocation: bool = Field(default=False, validation_alias=AliasChoices("AUTHBRIDGE_REVOCATION"))
    revocation_resync: float = Field(
        default=30.0, gt=0, le=3600, validation_alias=AliasChoices("AUTHBRIDGE_REVOCATION_RESYNC")
    )
    revocation_retention: float = Field(
        default=604800.0, gt=0, validation_alias=AliasChoices("AUTHBRIDGE_REVOCATION_RETENTION")
    )
    jwks_shared_cache: bool = Field(
        default=True, validation_alias=AliasChoices("AUTHBRIDGE_JWKS_SHARED_CACHE")
    )

    # HTTP layer
    realm: str = Field(default="authbridge", validation_alias=AliasChoices("AUTHBRIDGE_REALM"))
    environment: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=AliasChoices("AUTHBRIDGE_ENV")
    )

    @field_validator("realm")
    @classmethod
    def _safe_realm(cls, value: str) -> str:
        # The realm goes into a header verbatim (RFC 6750 §3).
        if not value or any(c in value for c in '"\\') or not value.isprintable():
            raise ValueError("use printable characters without quotes or backslashes")
        return value

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
        rsa = [n for n in asymmetric if ALGORITHMS[n].family == "RSA"]
        return "RS256" if "RS256" in rsa or not rsa else rsa[0]

    def current_better_auth_secret(self) -> str | None:
        """Better Auth's current secret: first of BETTER_AUTH_SECRETS, else BETTER_AUTH_SECRET."""
        if self.better_auth_secrets:
            first = split_list(self.better_auth_secrets.get_secret_value())[:1]
            if first:
                return first[0].split(":", 1)[-1]
        return self.better_auth_secret.get_secret_value() if self.better_auth_secret else None


_VARIABLE_FOR: dict[str, str] = {}


def _variable(field: str) -> str:
    if not _VARIABLE_FOR:
        for name, info in Settings.model_fields.items():
            alias = info.validation_alias
            choices = alias.choices if isinstance(alias, AliasChoices) else []
            _VARIABLE_FOR[name] = str(choices[0]) if choices else name.upper()
    return _VARIABLE_FOR.get(field, field.upper())


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation errors into a ``ConfigError`` that names the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        raise ConfigError(
            _variable(field),
            f"{first['msg']}.",
            "correct the value in the environment or .env (see the README's settings table).",
        ) from None
