"""The service's own settings (pydantic-settings). authbridge reads its settings separately."""

from __future__ import annotations

import re
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from authbridge.apikeys import ApiKeyConfig
from authbridge.cors import parse_cors_origins, split_origins
from authbridge.errors import ConfigError

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ServiceSettings",
    "check_api_key_permissions",
    "load_service_settings",
]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/tasks.db"
_ASYNC_DRIVERS = {
    "sqlite://": "sqlite+aiosqlite://",
    "postgres://": "postgresql+asyncpg://",
    "postgresql://": "postgresql+asyncpg://",
}
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _env(name: str, default: Any, **constraints: Any) -> Any:
    return Field(default=default, validation_alias=AliasChoices(name), **constraints)


class ServiceSettings(BaseSettings):
    """Every variable the Tasks API reads (see docs/tasks-api.md)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = _env("DATABASE_URL", DEFAULT_DATABASE_URL)
    database_schema: str | None = _env("DATABASE_SCHEMA", None)
    cors_origins: str = _env("CORS_ORIGINS", "http://localhost:3000")
    require_scopes: bool = _env("TASKS_REQUIRE_SCOPES", False)
    run_migrations: bool = _env("TASKS_RUN_MIGRATIONS", True)
    cursor_secret: SecretStr | None = _env("TASKS_CURSOR_SECRET", None)
    max_body_bytes: int = _env("TASKS_MAX_BODY_BYTES", 65536, ge=1024, le=10 * 1024 * 1024)
    # PostgreSQL connection pool, per worker process (workers × (size + overflow) connections).
    # Pooled connections are opened on demand and kept; overflow ones are closed as soon as
    # they are returned, which under steady load means a new PostgreSQL backend (about 10 ms
    # of its CPU) every few requests. So the default keeps them all: 15 + 0.
    pool_size: int = _env("DATABASE_POOL_SIZE", 15, ge=1, le=200)
    max_overflow: int = _env("DATABASE_MAX_OVERFLOW", 0, ge=0, le=200)
    pool_timeout: float = _env("DATABASE_POOL_TIMEOUT", 10.0, gt=0, le=300)
    pool_recycle: float = _env("DATABASE_POOL_RECYCLE", 1800.0, gt=0)
    connect_timeout: float = _env("DATABASE_CONNECT_TIMEOUT", 5.0, gt=0, le=120)
    # A pooled connection idle this long is tested before use (0: before every use).
    ping_after_idle: float = _env("DATABASE_PING_AFTER_IDLE", 10.0, ge=0, le=86400)

    @field_validator("database_url")
    @classmethod
    def _supported_driver(cls, value: str) -> str:
        # Plain URLs (as many hosts hand them out) get the async driver this service uses.
        for plain, driver in _ASYNC_DRIVERS.items():
            if value.startswith(plain):
                value = driver + value[len(plain) :]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db")
        return value

    @field_validator("database_schema")
    @classmethod
    def _plain_schema(cls, value: str | None) -> str | None:
        # It is interpolated into DDL (CREATE SCHEMA), so only plain identifiers are allowed.
        if value is not None and not _SCHEMA_NAME.fullmatch(value):
            raise ValueError("use a lower-case identifier: letters, digits and underscores")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _plain_origins(cls, value: str) -> str:
        parse_cors_origins(value)
        return value

    @property
    def origins(self) -> list[str]:
        return split_origins(self.cors_origins)

    @property
    def cors_credentials(self) -> bool:
        # Never combine credentials with a wildcard: it would trust every site's cookies.
        return "*" not in self.origins

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_VARIABLES = {
    "database_url": "DATABASE_URL",
    "database_schema": "DATABASE_SCHEMA",
    "cors_origins": "CORS_ORIGINS",
    "require_scopes": "TASKS_REQUIRE_SCOPES",
    "run_migrations": "TASKS_RUN_MIGRATIONS",
    "cursor_secret": "TASKS_CURSOR_SECRET",
    "max_body_bytes": "TASKS_MAX_BODY_BYTES",
    "pool_size": "DATABASE_POOL_SIZE",
    "max_overflow": "DATABASE_MAX_OVERFLOW",
    "pool_timeout": "DATABASE_POOL_TIMEOUT",
    "pool_recycle": "DATABASE_POOL_RECYCLE",
    "connect_timeout": "DATABASE_CONNECT_TIMEOUT",
    "ping_after_idle": "DATABASE_PING_AFTER_IDLE",
}


def load_service_settings(**overrides: Any) -> ServiceSettings:
    """Read the settings; a bad value is a ``ConfigError`` naming the variable."""
    try:
        return ServiceSettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        raise ConfigError(
            _VARIABLES.get(field, field.upper()),
            f"{first['msg']}.",
            "correct the value in the environment or .env (see docs/tasks-api.md).",
        ) from None


def check_api_key_permissions(config: ApiKeyConfig | None) -> None:
    """The Tasks API holds every API key to its permissions (``tasks:read``,
    ``tasks:write``). In remote mode Better Auth's get-session answers none, so authbridge can
    read them only from the ``apikey`` table: without that database every key would be
    refused 403. Fine for an app without scopes, a configuration error here."""
    if config is None or config.mode != "remote" or config.database_url:
        return
    raise ConfigError(
        "AUTHBRIDGE_SESSION_DATABASE_URL",
        "is required by the Tasks API when AUTHBRIDGE_API_KEYS is remote: Better Auth's "
        "get-session answers no key permissions, so every API key would be refused 403 "
        "insufficient_scope.",
        "point it at the database Better Auth keeps its apikey table in (the key's "
        "permissions are read there), or set AUTHBRIDGE_API_KEYS=database.",
    )
