"""Settings for Better Auth session credentials: a plain frozen dataclass.

The lead's ``config.py`` maps environment variables onto :class:`SessionConfig`;
this module only defines the shape, the defaults (Better Auth's own) and the
helpers that parse Better Auth's secret variables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from authbridge.errors import ConfigError
from authbridge.sessions.csrf import TrustedOrigins

__all__ = [
    "CookieCacheStrategy",
    "RemoteCredential",
    "SessionConfig",
    "SessionMode",
    "SessionTables",
    "parse_secrets",
    "resolve_secrets",
]

SessionMode = Literal["off", "database", "remote"]
CookieCacheStrategy = Literal["off", "compact", "jwt", "jwe"]
RemoteCredential = Literal["cookie", "bearer"]

# Better Auth's public fallback secret. Anyone can forge cookies with it.
_BETTER_AUTH_DEFAULT_SECRET = "better-auth-secret-12345678901234567890"

_DEFAULT_REMOTE_CACHE_TTL = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionTables:
    """Table and column names; the defaults are Better Auth's core schema."""

    schema: str | None = None
    session_table: str = "session"
    user_table: str = "user"
    session_id: str = "id"
    session_token: str = "token"
    session_user_id: str = "userId"
    session_expires_at: str = "expiresAt"
    user_id: str = "id"
    user_email: str = "email"
    user_name: str = "name"
    user_email_verified: str = "emailVerified"
    user_image: str = "image"
    # Plugin columns, each used only when its table has it (checked once, at start); None
    # never reads it. The admin plugin's role, ban and impersonator, the organization
    # plugin's active organization.
    user_role: str | None = "role"
    user_banned: str | None = "banned"
    user_ban_expires: str | None = "banExpires"
    session_active_organization_id: str | None = "activeOrganizationId"
    session_impersonated_by: str | None = "impersonatedBy"
    # The organization plugin's member table: the caller's role in the active organization
    # is joined from it (and a session whose user is no longer a member has no active
    # organization). Used only when the table and the session's active organization exist.
    member_table: str | None = "member"
    member_organization_id: str = "organizationId"
    member_user_id: str = "userId"
    member_role: str = "role"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """How to verify Better Auth session tokens and cookies.

    ``secrets`` is ``((version, secret), ...)`` with the current secret first, as
    in ``BETTER_AUTH_SECRETS``; a single ``BETTER_AUTH_SECRET`` is ``((0, s),)``.
    ``legacy_secret`` is ``BETTER_AUTH_SECRET`` when versioned secrets are also set
    (Better Auth still decrypts JWE cookie caches with it).
    """

    mode: SessionMode = "off"
    secrets: tuple[tuple[int, str], ...] = field(default=(), repr=False)
    legacy_secret: str | None = field(default=None, repr=False)
    allow_unsigned: bool = False
    database_url: str | None = field(default=None, repr=False)
    tables: SessionTables = field(default_factory=SessionTables)
    # None means the mode's default: 0 (off) for database, 5 s for remote.
    cache_ttl: float | None = None
    cache_max_entries: int = 10_000
    base_url: str | None = None
    remote_credential: RemoteCredential = "cookie"
    cookies_enabled: bool = False
    cookie_prefix: str = "better-auth"
    # Better Auth's advanced.cookies.session_token.name: replaces "{prefix}.session_token".
    session_cookie_name: str | None = None
    # None accepts both the __Secure- and the plain cookie name (preferring __Secure-).
    secure_cookies: bool | None = None
    cookie_cache: CookieCacheStrategy = "off"
    cookie_cache_version: str = "1"
    trusted_origins: tuple[str, ...] = ()
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.mode not in ("off", "database", "remote"):
            raise ConfigError(
                "AUTHBRIDGE_SESSION_MODE",
                "must be off, database or remote.",
                "Set it to one of those values.",
            )
        if self.mode == "off":
            return
        if any(value == _BETTER_AUTH_DEFAULT_SECRET for _, value in self.secrets):
            raise ConfigError(
                "BETTER_AUTH_SECRET",
                "is Better Auth's public default secret, so anyone can forge sessions.",
                "Give Better Auth and authbridge the same random secret.",
            )
        needs_secret = self.mode == "database" or self.cookie_cache != "off"
        if needs_secret and not self.secrets:
            raise ConfigError(
                "BETTER_AUTH_SECRET",
                "is required to check session token signatures.",
                "Set BETTER_AUTH_SECRET (or BETTER_AUTH_SECRETS) to Better Auth's secret.",
            )
        if self.mode == "database" and not self.database_url:
            raise ConfigError(
                "AUTHBRIDGE_SESSION_DATABASE_URL",
                "is required when the session mode is database.",
                "Point it at the database Better Auth writes its session table to.",
            )
        if self.mode == "remote" and not _is_http_url(self.base_url):
            raise ConfigError(
                "BETTER_AUTH_URL",
                "must be an http(s) URL when the session mode is remote.",
                "Set it to the Better Auth server's base URL, e.g. https://auth.example.com.",
            )
        if self.cookie_cache not in ("off", "compact", "jwt", "jwe"):
            raise ConfigError(
                "AUTHBRIDGE_SESSION_COOKIE_CACHE",
                "must be off, compact, jwt or jwe.",
                "Use the same strategy as Better Auth's session.cookieCache.strategy.",
            )
        try:
            TrustedOrigins(self.trusted_origins)
        except ValueError:
            raise ConfigError(
                "AUTHBRIDGE_TRUSTED_ORIGINS",
                "has an entry that is not a web origin.",
                "List origins like https://app.example.com or https://*.example.com.",
            ) from None
        if self.timeout <= 0 or (self.cache_ttl is not None and self.cache_ttl < 0):
            raise ConfigError(
                "AUTHBRIDGE_SESSION_TIMEOUT",
                "timeouts must be positive and the cache TTL not negative.",
                "Use a number of seconds.",
            )

    @property
    def current_secret(self) -> str | None:
        """The secret Better Auth signs cookies with now (``ctx.context.secret``)."""
        return self.secrets[0][1] if self.secrets else None

    @property
    def effective_cache_ttl(self) -> float:
        if self.cache_ttl is not None:
            return self.cache_ttl
        return _DEFAULT_REMOTE_CACHE_TTL if self.mode == "remote" else 0.0

    @property
    def issuer(self) -> str:
        """The Principal's issuer: the Better Auth origin, as Better Auth itself uses."""
        if self.base_url and _is_http_url(self.base_url):
            parts = urlsplit(self.base_url)
            return f"{parts.scheme}://{parts.netloc}"
        return "better-auth-session"


def _is_http_url(value: str | None) -> bool:
    if not value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def parse_secrets(env_value: str) -> tuple[tuple[int, str], ...]:
    """Parse ``BETTER_AUTH_SECRETS`` ("2:new,1:old") exactly as Better Auth does.

    The first entry is the current secret. Raises :class:`ConfigError` without
    echoing any secret.
    """
    entries: list[tuple[int, str]] = []
    seen: set[int] = set()
    for position, raw in enumerate(env_value.split(","), start=1):
        entry = raw.strip()
        version_text, colon, value = entry.partition(":")
        if not colon:
            raise ConfigError(
                "BETTER_AUTH_SECRETS",
                f"entry {position} has no version.",
                'Write entries as "<version>:<secret>", e.g. "2:new-secret,1:old-secret".',
            )
        version_text = version_text.strip()
        if not version_text.isdigit():
            raise ConfigError(
                "BETTER_AUTH_SECRETS",
                f"entry {position} has a version that is not a non-negative integer.",
                'Write entries as "<version>:<secret>", e.g. "2:new-secret,1:old-secret".',
            )
        version = int(version_text)
        value = value.strip()
        if not value:
            raise ConfigError(
                "BETTER_AUTH_SECRETS",
                f"entry {position} (version {version}) has an empty secret.",
                "Give every version a secret.",
            )
        if version in seen:
            raise ConfigError(
                "BETTER_AUTH_SECRETS",
                f"version {version} appears twice.",
                "Give each secret its own version number.",
            )
        seen.add(version)
        entries.append((version, value))
    return tuple(entries)


def resolve_secrets(
    *,
    secrets_env: str | None,
    secret_env: str | None,
    auth_secret_env: str | None = None,
) -> tuple[tuple[tuple[int, str], ...], str | None]:
    """Pick secrets the way Better Auth's ``create-context`` does.

    Returns ``(secrets, legacy_secret)``: ``BETTER_AUTH_SECRETS`` when set (with
    ``BETTER_AUTH_SECRET``/``AUTH_SECRET`` as the legacy secret), else the single
    ``BETTER_AUTH_SECRET`` or ``AUTH_SECRET`` as version 0.
    """
    single = secret_env or auth_secret_env or None
    if secrets_env:
        parsed = parse_secrets(secrets_env)
        legacy = single if single and single != _BETTER_AUTH_DEFAULT_SECRET else None
        return parsed, legacy
    if single:
        return ((0, single),), None
    return (), None
