"""Settings: every variable parses, every bad value is a ConfigError naming the variable and
the fix, and the values derived from BETTER_AUTH_URL are Better Auth's own."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from authbridge import Verifier
from authbridge.config import Secret, Settings, field_specs, load_settings, origin_of, split_list
from authbridge.config.fields import FieldSpec, collect
from authbridge.errors import ConfigError
from authbridge.keys.remote import RemoteJWKS
from authbridge.keys.secret import SharedSecret
from authbridge.keys.static import StaticJWKS
from tokens import ed25519_key, hs_secret, jwks

VARIABLES = sorted(spec.variable for spec in field_specs(Settings))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable from the real environment or a stray .env leaks into these tests."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return


# (variable, a valid value, the field, the parsed value)
VALID: list[tuple[str, str, str, Any]] = [
    ("BETTER_AUTH_URL", "https://auth.example.com", "better_auth_url", "https://auth.example.com"),
    ("AUTHBRIDGE_JWKS_URL", "https://keys.example/jwks", "jwks_url", "https://keys.example/jwks"),
    ("AUTHBRIDGE_JWKS", '{"keys": []}', "jwks_json", '{"keys": []}'),
    ("AUTHBRIDGE_JWKS_FILE", "/etc/jwks.json", "jwks_file", "/etc/jwks.json"),
    ("AUTHBRIDGE_ISSUER", "https://i.example", "issuer", "https://i.example"),
    ("AUTHBRIDGE_AUDIENCE", "a,b", "audience", "a,b"),
    ("AUTHBRIDGE_ALGORITHMS", "EdDSA,HS256", "algorithms", "EdDSA,HS256"),
    ("AUTHBRIDGE_RSA_ALGORITHM", "PS256", "rsa_algorithm", "PS256"),
    ("AUTHBRIDGE_JWKS_CACHE_TTL", "120", "jwks_cache_ttl", 120.0),
    ("AUTHBRIDGE_JWKS_COOLDOWN", "10", "jwks_cooldown", 10.0),
    ("AUTHBRIDGE_JWKS_TIMEOUT", "2.5", "jwks_timeout", 2.5),
    ("AUTHBRIDGE_JWKS_MAX_BYTES", "4096", "jwks_max_bytes", 4096),
    ("AUTHBRIDGE_JWKS_MAX_KEYS", "5", "jwks_max_keys", 5),
    ("AUTHBRIDGE_JWT_ISSUER", "https://svc.example", "jwt_issuer", "https://svc.example"),
    ("AUTHBRIDGE_JWT_AUDIENCE", "https://api.example", "jwt_audience", "https://api.example"),
    ("AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH", "true", "allow_better_auth_secret", True),
    ("AUTHBRIDGE_LEEWAY_SECONDS", "60", "leeway_seconds", 60.0),
    ("AUTHBRIDGE_MAX_TOKEN_BYTES", "16384", "max_token_bytes", 16384),
    ("AUTHBRIDGE_MAX_TOKEN_AGE", "600", "max_token_age", 600.0),
    ("AUTHBRIDGE_MAX_TOKEN_LIFETIME", "900", "max_token_lifetime", 900.0),
    ("AUTHBRIDGE_REQUIRED_CLAIMS", "exp,sub", "required_claims", "exp,sub"),
    ("AUTHBRIDGE_ROLES_CLAIM", "groups", "roles_claim", "groups"),
    ("AUTHBRIDGE_SCOPES_CLAIM", "permissions", "scopes_claim", "permissions"),
    ("AUTHBRIDGE_TOKEN_CACHE_SIZE", "0", "token_cache_size", 0),
    ("AUTHBRIDGE_SESSION_MODE", "database", "session_mode", "database"),
    ("AUTHBRIDGE_SESSION_DATABASE_URL", "sqlite:///x.db", "session_database_url", "sqlite:///x.db"),
    ("AUTHBRIDGE_SESSION_COOKIE", "on", "session_cookie", True),
    ("AUTHBRIDGE_SESSION_COOKIE_PREFIX", "myapp", "session_cookie_prefix", "myapp"),
    ("AUTHBRIDGE_SESSION_COOKIE_NAME", "sid", "session_cookie_name", "sid"),
    ("AUTHBRIDGE_SESSION_ALLOW_UNSIGNED", "false", "session_allow_unsigned", False),
    ("AUTHBRIDGE_SESSION_CACHE_TTL", "30", "session_cache_ttl", 30.0),
    ("AUTHBRIDGE_SESSION_COOKIE_CACHE", "compact", "session_cookie_cache", "compact"),
    ("AUTHBRIDGE_SESSION_REMOTE_CREDENTIAL", "bearer", "session_remote_credential", "bearer"),
    ("AUTHBRIDGE_SESSION_TIMEOUT", "3", "session_timeout", 3.0),
    ("AUTHBRIDGE_SESSION_TABLES", "session=sessions", "session_tables", "session=sessions"),
    ("AUTHBRIDGE_JWT_SESSION_CHECK", "true", "jwt_session_check", True),
    ("AUTHBRIDGE_TRUSTED_ORIGINS", "https://app.example", "trusted_origins", "https://app.example"),
    ("AUTHBRIDGE_API_KEYS", "database", "api_keys", "database"),
    ("AUTHBRIDGE_API_KEY_HEADER", "x-api-key,x-key", "api_key_header", "x-api-key,x-key"),
    ("AUTHBRIDGE_API_KEY_CACHE_TTL", "2", "api_key_cache_ttl", 2.0),
    ("AUTHBRIDGE_API_KEY_MIN_LENGTH", "32", "api_key_min_length", 32),
    ("AUTHBRIDGE_API_KEY_RATE_LIMIT", "false", "api_key_rate_limit", False),
    ("AUTHBRIDGE_API_KEY_TABLES", '{"table": "keys"}', "api_key_tables", '{"table": "keys"}'),
    ("AUTHBRIDGE_REDIS_PREFIX", "ab:", "redis_prefix", "ab:"),
    ("AUTHBRIDGE_REDIS_FAILURE", "closed", "redis_failure", "closed"),
    ("AUTHBRIDGE_REDIS_TIMEOUT", "1", "redis_timeout", 1.0),
    ("AUTHBRIDGE_REVOCATION", "false", "revocation", False),
    ("AUTHBRIDGE_REVOCATION_RESYNC", "60", "revocation_resync", 60.0),
    ("AUTHBRIDGE_REVOCATION_RETENTION", "3600", "revocation_retention", 3600.0),
    ("AUTHBRIDGE_JWKS_SHARED_CACHE", "false", "jwks_shared_cache", False),
    ("AUTHBRIDGE_REALM", "tasks", "realm", "tasks"),
    ("AUTHBRIDGE_ENV", "production", "environment", "production"),
]
SECRETS = [
    ("BETTER_AUTH_SECRET", "better_auth_secret"),
    ("BETTER_AUTH_SECRETS", "better_auth_secrets"),
    ("AUTHBRIDGE_JWT_SECRET", "jwt_secret"),
    ("AUTHBRIDGE_REDIS_URL", "redis_url"),
]

INVALID: list[tuple[str, str]] = [
    ("AUTHBRIDGE_RSA_ALGORITHM", "RS1"),
    ("AUTHBRIDGE_RSA_ALGORITHM", "ES256"),
    ("AUTHBRIDGE_JWKS_CACHE_TTL", "-1"),
    ("AUTHBRIDGE_JWKS_CACHE_TTL", "ten"),
    ("AUTHBRIDGE_JWKS_COOLDOWN", "-5"),
    ("AUTHBRIDGE_JWKS_TIMEOUT", "0"),
    ("AUTHBRIDGE_JWKS_TIMEOUT", "61"),
    ("AUTHBRIDGE_JWKS_MAX_BYTES", "100"),
    ("AUTHBRIDGE_JWKS_MAX_KEYS", "0"),
    ("AUTHBRIDGE_JWKS_MAX_KEYS", "1001"),
    ("AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH", "maybe"),
    ("AUTHBRIDGE_LEEWAY_SECONDS", "61"),
    ("AUTHBRIDGE_LEEWAY_SECONDS", "-1"),
    ("AUTHBRIDGE_MAX_TOKEN_BYTES", "100"),
    ("AUTHBRIDGE_MAX_TOKEN_BYTES", "1000000"),
    ("AUTHBRIDGE_MAX_TOKEN_AGE", "0"),
    ("AUTHBRIDGE_MAX_TOKEN_LIFETIME", "0"),
    ("AUTHBRIDGE_TOKEN_CACHE_SIZE", "-1"),
    ("AUTHBRIDGE_SESSION_MODE", "cookie"),
    ("AUTHBRIDGE_SESSION_CACHE_TTL", "301"),
    ("AUTHBRIDGE_SESSION_COOKIE_CACHE", "hs256"),
    ("AUTHBRIDGE_SESSION_REMOTE_CREDENTIAL", "token"),
    ("AUTHBRIDGE_SESSION_TIMEOUT", "0"),
    ("AUTHBRIDGE_API_KEYS", "on"),
    ("AUTHBRIDGE_API_KEY_CACHE_TTL", "61"),
    ("AUTHBRIDGE_API_KEY_MIN_LENGTH", "0"),
    ("AUTHBRIDGE_API_KEY_RATE_LIMIT", "maybe"),
    ("AUTHBRIDGE_REDIS_PREFIX", ""),
    ("AUTHBRIDGE_REDIS_FAILURE", "fail"),
    ("AUTHBRIDGE_REDIS_TIMEOUT", "31"),
    ("AUTHBRIDGE_REVOCATION_RESYNC", "0"),
    ("AUTHBRIDGE_REVOCATION_RETENTION", "-1"),
    ("AUTHBRIDGE_REALM", 'tasks"api'),
    ("AUTHBRIDGE_REALM", "tasks\r\nX: y"),
    ("AUTHBRIDGE_ENV", "staging"),
]


def test_the_tables_cover_every_variable() -> None:
    covered = {v for v, *_ in VALID} | {v for v, _ in SECRETS}
    assert covered == set(VARIABLES)
    assert {v for v, _ in INVALID} <= set(VARIABLES)


@pytest.mark.parametrize(("variable", "value", "field", "parsed"), VALID, ids=[v[0] for v in VALID])
def test_each_variable_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str, parsed: Any
) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(load_settings(), field) == parsed


@pytest.mark.parametrize(("variable", "field"), SECRETS)
def test_secret_variables_are_read_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, variable: str, field: str
) -> None:
    secret = hs_secret()
    monkeypatch.setenv(variable, secret)
    settings = load_settings()
    assert getattr(settings, field).get_secret_value() == secret
    assert secret not in repr(settings)
    assert secret not in str(dataclasses.asdict(settings))


def test_variables_are_read_from_dot_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BETTER_AUTH_URL=https://dotenv.example\nAUTHBRIDGE_REALM=x\n")
    settings = load_settings()
    assert settings.better_auth_url == "https://dotenv.example"
    assert settings.realm == "x"


@pytest.mark.parametrize(("variable", "value"), INVALID, ids=[f"{v}={x!r}" for v, x in INVALID])
def test_a_bad_value_names_the_variable_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.variable == variable
    assert info.value.fix
    assert str(info.value).startswith(f"{variable}: ")


def test_defaults() -> None:
    settings = load_settings()
    assert settings.leeway_seconds == 30
    assert settings.max_token_bytes == 8192
    assert settings.max_token_lifetime == 3600
    assert settings.required_claims == "exp,iat,iss,aud,sub"
    assert settings.split_algorithms() == (["EdDSA", "ES256", "ES512", "PS256", "RS256"], ["HS256"])


# --- BETTER_AUTH_URL derivations ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "origin", "jwks_url"),
    [
        (
            "https://auth.example.com",
            "https://auth.example.com",
            "https://auth.example.com/api/auth/jwks",
        ),
        (
            "https://auth.example.com/",
            "https://auth.example.com",
            "https://auth.example.com/api/auth/jwks",
        ),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000", "http://127.0.0.1:3000/api/auth/jwks"),
        ("https://example.com/app", "https://example.com", "https://example.com/app/api/auth/jwks"),
    ],
)
def test_better_auth_url_derivations(url: str, origin: str, jwks_url: str) -> None:
    settings = load_settings(BETTER_AUTH_URL=url)
    assert settings.resolved_issuer() == origin
    assert settings.resolved_audiences() == [origin]
    assert settings.resolved_jwks_url() == jwks_url
    verifier = Verifier.from_settings(settings)
    (path,) = verifier.paths
    assert path.rules.issuer == origin
    assert path.rules.audiences == {origin}
    assert isinstance(path.keys, RemoteJWKS)
    assert path.keys.url == jwks_url


def test_explicit_settings_win_over_derivations() -> None:
    settings = load_settings(
        BETTER_AUTH_URL="https://auth.example.com",
        AUTHBRIDGE_ISSUER="https://issuer.example",
        AUTHBRIDGE_AUDIENCE="https://a.example, https://b.example",
        AUTHBRIDGE_JWKS_URL="https://keys.example/jwks.json",
    )
    assert settings.resolved_issuer() == "https://issuer.example"
    assert settings.resolved_audiences() == ["https://a.example", "https://b.example"]
    assert settings.resolved_jwks_url() == "https://keys.example/jwks.json"


@pytest.mark.parametrize("url", ["ftp://auth.example.com", "auth.example.com", "https://", ""])
def test_a_bad_better_auth_url_is_named(url: str) -> None:
    if not url:
        with pytest.raises(ConfigError) as info:
            Verifier.from_settings(load_settings(BETTER_AUTH_URL=url))
        assert info.value.variable == "BETTER_AUTH_URL"  # nothing configured at all
        return
    with pytest.raises(ConfigError) as info:
        origin_of(url)
    assert info.value.variable == "BETTER_AUTH_URL"
    with pytest.raises(ConfigError):
        Verifier.from_settings(load_settings(BETTER_AUTH_URL=url))


def test_static_jwks_from_json_and_file(tmp_path: Path) -> None:
    key = ed25519_key("k1")
    document = json.dumps(jwks(key))
    inline = Verifier.from_settings(
        load_settings(AUTHBRIDGE_JWKS=document, BETTER_AUTH_URL="https://auth.example.com")
    )
    assert isinstance(inline.paths[0].keys, StaticJWKS)
    (tmp_path / "jwks.json").write_text(document)
    from_file = Verifier.from_settings(
        load_settings(
            AUTHBRIDGE_JWKS_FILE=str(tmp_path / "jwks.json"),
            AUTHBRIDGE_ISSUER="https://i.example",
            AUTHBRIDGE_AUDIENCE="https://a.example",
        )
    )
    assert isinstance(from_file.paths[0].keys, StaticJWKS)
    assert from_file.paths[0].rules.issuer == "https://i.example"


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        (
            {"AUTHBRIDGE_JWKS": "not json", "BETTER_AUTH_URL": "https://a.example"},
            "AUTHBRIDGE_JWKS",
        ),
        (
            {"AUTHBRIDGE_JWKS": '{"no": 1}', "BETTER_AUTH_URL": "https://a.example"},
            "AUTHBRIDGE_JWKS",
        ),
        ({"AUTHBRIDGE_JWKS_FILE": "/nonexistent/jwks.json"}, "AUTHBRIDGE_JWKS_FILE"),
        ({"AUTHBRIDGE_JWKS": '{"keys": []}'}, "AUTHBRIDGE_ISSUER"),
        (
            {"BETTER_AUTH_URL": "https://a.example", "AUTHBRIDGE_ALGORITHMS": "eddsa"},
            "AUTHBRIDGE_ALGORITHMS",
        ),
        ({}, "BETTER_AUTH_URL"),
        ({"AUTHBRIDGE_JWT_SECRET": "short"}, "AUTHBRIDGE_JWT_ISSUER"),
    ],
)
def test_startup_problems_name_the_variable(overrides: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        Verifier.from_settings(load_settings(**overrides))
    assert info.value.variable == variable
    assert info.value.fix


# --- the HS256 path and BETTER_AUTH_SECRET --------------------------------------------------


def _hs_settings(**overrides: str) -> Settings:
    base = {
        "AUTHBRIDGE_JWT_ISSUER": "https://svc.example",
        "AUTHBRIDGE_JWT_AUDIENCE": "https://api.example",
    }
    return load_settings(**{**base, **overrides})


def test_hs_path_from_settings() -> None:
    verifier = Verifier.from_settings(_hs_settings(AUTHBRIDGE_JWT_SECRET=hs_secret()))
    (path,) = verifier.paths
    assert isinstance(path.keys, SharedSecret)
    assert path.algorithms == {"HS256"}
    assert path.rules.issuer == "https://svc.example"


def test_jwt_secret_equal_to_better_auth_secret_needs_the_opt_in() -> None:
    secret = hs_secret()
    with pytest.raises(ConfigError) as info:
        Verifier.from_settings(
            _hs_settings(AUTHBRIDGE_JWT_SECRET=secret, BETTER_AUTH_SECRET=secret)
        )
    assert info.value.variable == "AUTHBRIDGE_JWT_SECRET"
    assert "AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH" in info.value.fix
    assert secret not in str(info.value)
    opted_in = _hs_settings(
        AUTHBRIDGE_JWT_SECRET=secret,
        BETTER_AUTH_SECRET=secret,
        AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH="true",
    )
    assert Verifier.from_settings(opted_in).paths


def test_versioned_better_auth_secrets_use_the_current_one() -> None:
    current, old = hs_secret(), hs_secret()
    settings = _hs_settings(
        BETTER_AUTH_SECRETS=f"2:{current},1:{old}", AUTHBRIDGE_JWT_SECRET=current
    )
    assert settings.current_better_auth_secret() == current
    with pytest.raises(ConfigError):
        Verifier.from_settings(settings)


def test_hs_path_inherits_better_auth_issuer_and_audience_when_not_set() -> None:
    settings = load_settings(
        AUTHBRIDGE_JWKS=json.dumps(jwks(ed25519_key("k1"))),
        BETTER_AUTH_URL="https://auth.example.com",
        AUTHBRIDGE_JWT_SECRET=hs_secret(),
    )
    jwks_path, hs_path = Verifier.from_settings(settings).paths
    assert hs_path.rules.issuer == jwks_path.rules.issuer == "https://auth.example.com"
    assert hs_path.keys.symmetric
    assert not jwks_path.keys.symmetric


def test_claim_policy_reaches_the_verifier() -> None:
    settings = load_settings(
        BETTER_AUTH_URL="https://auth.example.com",
        AUTHBRIDGE_LEEWAY_SECONDS="5",
        AUTHBRIDGE_MAX_TOKEN_LIFETIME="900",
        AUTHBRIDGE_MAX_TOKEN_AGE="300",
        AUTHBRIDGE_REQUIRED_CLAIMS="exp,iss,aud,sub",
        AUTHBRIDGE_ALGORITHMS="EdDSA,ES256",
        AUTHBRIDGE_TOKEN_CACHE_SIZE="7",
    )
    verifier = Verifier.from_settings(settings)
    rules = verifier.paths[0].rules
    assert (rules.leeway, rules.max_lifetime, rules.max_age) == (5, 900, 300)
    assert rules.required == {"exp", "iss", "aud", "sub"}
    assert verifier.paths[0].algorithms == {"EdDSA", "ES256"}
    assert verifier.cache.max_entries == 7


def test_split_list() -> None:
    assert split_list(" a, ,b ,") == ["a", "b"]
    assert split_list(None) == []


ORIGIN_CASES = [
    "https://user:pw@AUTH.Example.com:443/x",
    "http://Localhost:80/",
    "http://127.0.0.1:3000/api/auth",
    "https://bücher.example/",
    "https://[::1]:8443/",
    "HTTPS://A.com:8443",
    "https://auth.example.com/",
]


def test_origin_matches_javascripts_url_origin() -> None:
    """Better Auth sets iss/aud to ``new URL(baseURL).origin``: ask Node for the truth."""
    script = "console.log(JSON.stringify(JSON.parse(process.argv[1]).map(u => new URL(u).origin)))"
    result = subprocess.run(
        ["node", "-e", script, json.dumps(ORIGIN_CASES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    expected = json.loads(result.stdout)
    assert [origin_of(url) for url in ORIGIN_CASES] == expected


@pytest.mark.parametrize("url", ["https://a.example:99999", "http://[::1", "https://a.example:x"])
def test_origin_refuses_broken_urls_without_echoing_them(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        origin_of(url, "AUTHBRIDGE_X")
    assert info.value.variable == "AUTHBRIDGE_X"
    assert url not in str(info.value)


# --- the loader itself (no pydantic-settings) -----------------------------------------------


def test_dot_env_syntax_follows_python_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FROM_ENV", "env-value")
    (tmp_path / ".env").write_text(
        "# a comment\n"
        "export BETTER_AUTH_URL=https://dotenv.example  # trailing comment\n"
        "AUTHBRIDGE_REALM='single $quoted #kept'\n"
        'AUTHBRIDGE_ISSUER="https://${FROM_ENV}.example"\n'
        "AUTHBRIDGE_AUDIENCE=${BETTER_AUTH_URL},${MISSING:-https://b.example}\n"
        'AUTHBRIDGE_JWKS="{\\"keys\\":\n[]}"\n'
        "NOT_A_SETTING=ignored\n"
        "NO_EQUALS_SIGN\n"
    )
    settings = load_settings()
    assert settings.better_auth_url == "https://dotenv.example"
    assert settings.realm == "single $quoted #kept"
    assert settings.issuer == "https://env-value.example"
    assert settings.audience == "https://dotenv.example,https://b.example"
    assert settings.jwks_json == '{"keys":\n[]}'


def test_precedence_is_overrides_then_environment_then_dot_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("AUTHBRIDGE_REALM=dotenv\nAUTHBRIDGE_ISSUER=https://d.example\n")
    monkeypatch.setenv("AUTHBRIDGE_REALM", "env")
    assert load_settings().realm == "env"
    assert load_settings().issuer == "https://d.example"
    assert load_settings(AUTHBRIDGE_REALM="override").realm == "override"
    assert load_settings(env_file=None).issuer is None
    assert load_settings(AUTHBRIDGE_ISSUER=None).issuer is None  # None unsets


def test_variable_names_match_case_insensitively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("authbridge_realm", "lower")
    assert load_settings().realm == "lower"
    monkeypatch.setenv("AUTHBRIDGE_REALM", "exact")
    assert load_settings().realm == "exact"


def test_typed_overrides_and_direct_construction_are_checked() -> None:
    assert load_settings(AUTHBRIDGE_JWKS_TIMEOUT=0.5).jwks_timeout == 0.5
    assert load_settings(AUTHBRIDGE_JWKS_MAX_KEYS=5).jwks_max_keys == 5
    built = Settings(realm="tasks", jwt_secret=Secret("x" * 32))
    assert built.jwt_secret is not None
    assert built.jwt_secret.get_secret_value() == "x" * 32
    with pytest.raises(ConfigError) as info:
        Settings(leeway_seconds=61)
    assert info.value.variable == "AUTHBRIDGE_LEEWAY_SECONDS"
    with pytest.raises(ConfigError):
        load_settings(AUTHBRIDGE_JWKS_MAX_KEYS=True)  # a bool is not a count
    with pytest.raises(TypeError, match="AUTHBRIDGE_REALMS"):
        load_settings(AUTHBRIDGE_REALMS="typo")


@pytest.mark.parametrize("value", ["nan", "inf", "1e999", "1.5"])
def test_numbers_must_be_finite_and_counts_whole(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("AUTHBRIDGE_JWKS_MAX_BYTES", value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.problem == "must be a whole number."


def test_a_bad_value_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHBRIDGE_REDIS_FAILURE", "s3cr3t-value")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "s3cr3t-value" not in str(info.value)
    assert info.value.problem == "must be one of open, closed."


def test_every_field_is_declared_with_a_variable_and_a_doc() -> None:
    specs = field_specs(Settings)
    assert [spec.name for spec in specs] == [f.name for f in dataclasses.fields(Settings)]
    for spec in specs:
        assert spec.variable.isupper()
        assert spec.doc.endswith(".")
    (leeway,) = [spec for spec in specs if spec.name == "leeway_seconds"]
    assert (leeway.kind, leeway.default, leeway.ge, leeway.le) == (float, 30.0, 0, 60)


def test_alternative_variables_are_tried_in_order_within_each_source() -> None:
    spec = FieldSpec("x", ("NEW_NAME", "OLD_NAME"), str, True, None, "A setting.")
    overrides: dict[str, str] = {}
    environ = {"OLD_NAME": "old", "NEW_NAME": "new"}
    dotenv = {"NEW_NAME": "from-dotenv"}
    assert collect((spec,), overrides, environ, dotenv) == {"x": "new"}
    assert collect((spec,), overrides, {"OLD_NAME": "old"}, dotenv) == {"x": "old"}
    assert collect((spec,), {"OLD_NAME": "o"}, environ, dotenv) == {"x": "o"}
    assert collect((spec,), {}, {}, {}) == {}
