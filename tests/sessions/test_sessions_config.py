"""SessionConfig defaults and validation, and Better Auth's secret variables."""

from __future__ import annotations

import pytest

from authbridge.errors import ConfigError
from authbridge.sessions.config import SessionConfig, SessionTables, parse_secrets, resolve_secrets


def test_parse_secrets_keeps_order_current_first() -> None:
    assert parse_secrets("2:new-secret, 1:old-secret") == ((2, "new-secret"), (1, "old-secret"))


def test_parse_secrets_allows_colons_inside_the_secret() -> None:
    assert parse_secrets("3:a:b:c") == ((3, "a:b:c"),)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("zq9Marker", "has no version"),
        ("x:zq9Marker", "not a non-negative integer"),
        ("-1:zq9Marker", "not a non-negative integer"),
        ("1:", "empty secret"),
        ("1:zq9Marker,1:zq9Marker", "appears twice"),
    ],
)
def test_parse_secrets_rejects_bad_entries_without_echoing_them(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_secrets(value)
    assert caught.value.variable == "BETTER_AUTH_SECRETS"
    assert problem in caught.value.problem
    assert "zq9Marker" not in str(caught.value)


def test_resolve_secrets_prefers_versioned_and_keeps_legacy() -> None:
    secrets, legacy = resolve_secrets(secrets_env="2:new,1:old", secret_env="legacy")
    assert secrets == ((2, "new"), (1, "old"))
    assert legacy == "legacy"


def test_resolve_secrets_single_secret_is_version_zero() -> None:
    assert resolve_secrets(secrets_env=None, secret_env="s1") == (((0, "s1"),), None)
    assert resolve_secrets(secrets_env="", secret_env=None, auth_secret_env="s2") == (
        ((0, "s2"),),
        None,
    )
    assert resolve_secrets(secrets_env=None, secret_env=None) == ((), None)


def test_defaults_are_better_auths() -> None:
    config = SessionConfig()
    tables = config.tables
    assert config.mode == "off"
    assert config.allow_unsigned is False
    assert config.cookie_prefix == "better-auth"
    assert (tables.session_table, tables.user_table) == ("session", "user")
    assert (tables.session_token, tables.session_user_id, tables.session_expires_at) == (
        "token",
        "userId",
        "expiresAt",
    )
    assert (tables.user_email_verified, tables.user_role) == ("emailVerified", "role")


def test_cache_ttl_defaults_per_mode() -> None:
    database = SessionConfig(mode="database", database_url="x.db", secrets=((0, "s" * 40),))
    remote = SessionConfig(mode="remote", base_url="http://auth.example")
    assert database.effective_cache_ttl == 0
    assert remote.effective_cache_ttl == 5
    assert (
        SessionConfig(mode="remote", base_url="http://a.example", cache_ttl=0).effective_cache_ttl
        == 0
    )


def test_repr_hides_secrets_and_database_url() -> None:
    config = SessionConfig(
        mode="database",
        database_url="postgres://user:pw-in-url@db/x",
        secrets=((1, "super-secret-value-0123456789abcdef"),),
        legacy_secret="legacy-secret-value",
    )
    text = repr(config)
    assert "super-secret-value" not in text
    assert "legacy-secret-value" not in text
    assert "pw-in-url" not in text


@pytest.mark.parametrize(
    ("kwargs", "variable"),
    [
        ({"mode": "database", "database_url": "x.db"}, "BETTER_AUTH_SECRET"),
        ({"mode": "database", "secrets": ((0, "s" * 40),)}, "AUTHBRIDGE_SESSION_DATABASE_URL"),
        ({"mode": "remote"}, "BETTER_AUTH_URL"),
        ({"mode": "remote", "base_url": "ftp://x"}, "BETTER_AUTH_URL"),
        ({"mode": "remote", "base_url": "http://a", "cookie_cache": "jwe"}, "BETTER_AUTH_SECRET"),
        (
            {
                "mode": "database",
                "database_url": "x.db",
                "secrets": ((0, "better-auth-secret-12345678901234567890"),),
            },
            "BETTER_AUTH_SECRET",
        ),
        ({"mode": "sometimes"}, "AUTHBRIDGE_SESSION_MODE"),
        (
            {"mode": "remote", "base_url": "http://a", "trusted_origins": ("app.example",)},
            "AUTHBRIDGE_TRUSTED_ORIGINS",
        ),
    ],
)
def test_invalid_settings_raise_config_error(kwargs: dict[str, object], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SessionConfig(**kwargs)  # type: ignore[arg-type]
    assert caught.value.variable == variable
    assert caught.value.fix


def test_remote_mode_needs_no_secret() -> None:
    config = SessionConfig(mode="remote", base_url="https://auth.example.com/")
    assert config.current_secret is None
    assert config.issuer == "https://auth.example.com"


def test_issuer_falls_back_without_base_url() -> None:
    config = SessionConfig(mode="database", database_url="x.db", secrets=((0, "s" * 40),))
    assert config.issuer == "better-auth-session"
    assert config.current_secret == "s" * 40


def test_tables_are_configurable() -> None:
    tables = SessionTables(schema="auth", session_table="sessions", session_user_id="user_id")
    assert tables.schema == "auth"
    assert tables.session_user_id == "user_id"
