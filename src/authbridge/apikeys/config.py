"""Settings for Better Auth API keys (``@better-auth/api-key``): a plain frozen dataclass.

``config/settings.py`` maps environment variables onto :class:`ApiKeyConfig`; this module only
defines the shape, the defaults (the plugin's own) and the checks that need no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

from authbridge.errors import ConfigError
from authbridge.sessions.config import SessionTables

__all__ = ["ApiKeyConfig", "ApiKeyMode", "ApiKeyTables", "parse_headers"]

ApiKeyMode = Literal["off", "remote", "database"]

# An HTTP field name (RFC 9110 token), compared lower-case as ASGI servers hand them over.
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")
# Headers that already carry another credential or are hop-by-hop: never an API key here.
_RESERVED: Final = frozenset({"authorization", "cookie", "host", "content-length", "connection"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyTables:
    """The ``apikey`` table's name and columns; the defaults are the plugin's schema (1.7.x).

    ``schema`` None means the session tables' schema.
    """

    schema: str | None = None
    table: str = "apikey"
    id: str = "id"
    key: str = "key"
    reference_id: str = "referenceId"
    config_id: str = "configId"
    enabled: str = "enabled"
    expires_at: str = "expiresAt"
    remaining: str = "remaining"
    refill_amount: str = "refillAmount"
    refill_interval: str = "refillInterval"
    last_refill_at: str = "lastRefillAt"
    rate_limit_enabled: str = "rateLimitEnabled"
    rate_limit_time_window: str = "rateLimitTimeWindow"
    rate_limit_max: str = "rateLimitMax"
    request_count: str = "requestCount"
    last_request: str = "lastRequest"
    created_at: str = "createdAt"
    updated_at: str = "updatedAt"
    permissions: str = "permissions"


def parse_headers(value: str) -> tuple[str, ...]:
    """``AUTHBRIDGE_API_KEY_HEADER``: one or more header names, comma-separated (like the
    plugin's ``apiKeyHeaders``), lower-cased; the first one a request carries is read."""
    names = tuple(dict.fromkeys(part.strip().lower() for part in value.split(",") if part.strip()))
    if not names or any(_HEADER_NAME.fullmatch(name) is None for name in names):
        raise ConfigError(
            "AUTHBRIDGE_API_KEY_HEADER",
            "must be one or more HTTP header names, comma-separated.",
            "use Better Auth's apiKeyHeaders, e.g. x-api-key.",
        )
    if any(name in _RESERVED for name in names):
        raise ConfigError(
            "AUTHBRIDGE_API_KEY_HEADER",
            "names a header that carries another credential (Authorization, Cookie).",
            "use a dedicated header such as x-api-key.",
        )
    return names


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyConfig:
    """How to verify Better Auth API keys.

    ``remote`` asks ``{base_url}/api/auth/get-session`` with the key in its header (the plugin
    with ``enableSessionForAPIKeys`` validates and counts it); ``database`` runs the plugin's
    ``validateApiKey`` against its ``apikey`` table, writes included. ``min_key_length`` is
    the plugin's ``defaultKeyLength`` (the get-session hook refuses shorter keys),
    ``rate_limit`` its ``rateLimit.enabled``, ``config_id`` the configuration whose keys are
    accepted. ``cache_ttl`` applies only to keys with no usage limit and no rate limit.
    """

    mode: ApiKeyMode = "off"
    headers: tuple[str, ...] = ("x-api-key",)
    base_url: str | None = None
    database_url: str | None = field(default=None, repr=False)
    tables: ApiKeyTables = field(default_factory=ApiKeyTables)
    user_tables: SessionTables = field(default_factory=SessionTables)
    min_key_length: int = 64
    rate_limit: bool = True
    config_id: str = "default"
    cache_ttl: float = 5.0
    cache_max_entries: int = 10_000
    timeout: float = 5.0
    issuer: str = "better-auth-session"

    def __post_init__(self) -> None:
        if self.mode not in ("off", "remote", "database"):
            raise ConfigError(
                "AUTHBRIDGE_API_KEYS",
                "must be off, remote or database.",
                "Set it to one of those values.",
            )
        if self.mode == "database" and not self.database_url:
            raise ConfigError(
                "AUTHBRIDGE_SESSION_DATABASE_URL",
                "is required when AUTHBRIDGE_API_KEYS is database.",
                "Point it at the database Better Auth writes its apikey table to.",
            )
        if self.mode == "remote" and not self.base_url:
            raise ConfigError(
                "BETTER_AUTH_URL",
                "is required when AUTHBRIDGE_API_KEYS is remote.",
                "Set it to the Better Auth server's base URL, e.g. https://auth.example.com.",
            )
        if not self.headers:
            raise ConfigError(
                "AUTHBRIDGE_API_KEY_HEADER", "names no header.", "use e.g. x-api-key."
            )

    @property
    def enabled(self) -> bool:
        return self.mode != "off"
