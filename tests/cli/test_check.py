"""``authbridge check``: effective settings with sources, secrets masked, and the checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import CLI, NARROW_MODES, DevIssuer, Result, shown_at_80_columns

from authbridge.cli.check_cmd import _ed25519_check
from authbridge.jose.algorithms import use_ed25519_backend

STRONG = "check-tests-secret-0123456789-abcdefghijklmnopqrstuv"
OTHER_STRONG = "check-tests-other-9876543210-zyxwvutsrqponmlkjihgf"


def _rows(result: Result) -> dict[str, dict[str, object]]:
    return {row["variable"]: row for row in result.json()["settings"]}


def _checks(result: Result, step: str) -> list[dict[str, str]]:
    return [c for c in result.json()["checks"] if c["step"] == step]


def test_healthy_configuration(issuer_cli: CLI, dev_issuer: DevIssuer) -> None:
    result = issuer_cli("check", "--json")
    assert result.code == 0, result.output
    document = result.json()
    assert set(document) == {"ok", "settings", "checks"}
    assert document["ok"] is True
    rows = _rows(result)
    for row in rows.values():
        assert set(row) == {"variable", "value", "source"}
    assert rows["BETTER_AUTH_URL"] == {
        "variable": "BETTER_AUTH_URL",
        "value": dev_issuer.issuer,
        "source": "env",
    }
    assert rows["AUTHBRIDGE_LEEWAY_SECONDS"]["source"] == "default"
    assert rows["effective issuer"]["value"] == dev_issuer.issuer
    assert rows["effective issuer"]["source"] == "derived from BETTER_AUTH_URL"
    assert rows["effective JWKS URL"]["value"] == dev_issuer.jwks_url
    jwks = _checks(result, "jwks")
    assert jwks[0]["status"] == "pass"
    assert "1 usable key(s) (EdDSA)" in jwks[0]["detail"]
    # The development environment has PyNaCl (``all`` includes ``nacl``).
    assert jwks[1] == {
        "step": "jwks",
        "status": "info",
        "detail": "EdDSA signatures are checked by libsodium (PyNaCl).",
        "fix": None,
    }
    assert _checks(result, "issuer")[0]["status"] == "pass"
    assert _checks(result, "audience")[0]["status"] == "pass"


def test_dotenv_source_and_masked_secrets(issuer_cli: CLI, workdir: Path) -> None:
    (workdir / ".env").write_text(f"AUTHBRIDGE_LEEWAY_SECONDS=10\nBETTER_AUTH_SECRET={STRONG}\n")
    result = issuer_cli("check", "--json", env={"AUTHBRIDGE_JWT_SECRET": OTHER_STRONG})
    assert result.code == 0, result.output
    rows = _rows(result)
    assert rows["AUTHBRIDGE_LEEWAY_SECONDS"] == {
        "variable": "AUTHBRIDGE_LEEWAY_SECONDS",
        "value": 10.0,
        "source": ".env",
    }
    assert rows["BETTER_AUTH_SECRET"]["source"] == ".env"
    assert rows["BETTER_AUTH_SECRET"]["value"] == f"•••••• ({len(STRONG)} chars)"
    assert rows["AUTHBRIDGE_JWT_SECRET"]["source"] == "env"
    human = issuer_cli("check", env={"AUTHBRIDGE_JWT_SECRET": OTHER_STRONG})
    for output in (result.stdout, human.stdout):
        assert STRONG not in output
        assert OTHER_STRONG not in output
    assert all(c["status"] == "pass" for c in _checks(result, "secret"))


def test_better_auths_public_default_secret_fails(issuer_cli: CLI) -> None:
    env = {"BETTER_AUTH_SECRET": "better-auth-secret-12345678901234567890"}
    result = issuer_cli("check", "--json", env=env)
    assert result.code == 1
    (secret,) = _checks(result, "secret")
    assert secret["status"] == "fail"
    assert "public default secret" in secret["detail"]
    assert "authbridge secret" in secret["fix"]


def test_weak_jwt_secret_is_a_config_error(issuer_cli: CLI) -> None:
    result = issuer_cli("check", "--json", env={"AUTHBRIDGE_JWT_SECRET": "too-short"})
    assert result.code == 2
    assert _checks(result, "verifier")[0]["status"] == "fail"
    assert "AUTHBRIDGE_JWT_SECRET" in _checks(result, "verifier")[0]["detail"]


def test_issuer_and_audience_disagreeing_with_better_auth_url(issuer_cli: CLI) -> None:
    env = {"AUTHBRIDGE_ISSUER": "https://other.example", "AUTHBRIDGE_AUDIENCE": "api"}
    result = issuer_cli("check", "--json", env=env)
    assert _checks(result, "issuer")[0]["status"] == "warn"
    assert "https://other.example" in _checks(result, "issuer")[0]["detail"]
    assert _checks(result, "audience")[0]["status"] == "warn"
    assert _rows(result)["effective issuer"]["source"] == "AUTHBRIDGE_ISSUER"


def test_unreachable_jwks_fails_and_offline_skips_it(cli: CLI, closed_port: int) -> None:
    env = {"BETTER_AUTH_URL": f"http://127.0.0.1:{closed_port}"}
    result = cli("check", "--json", env=env)
    assert result.code == 1
    (jwks,) = _checks(result, "jwks")
    assert jwks["status"] == "fail"
    assert "ConnectError" in jwks["detail"]
    offline = cli("check", "--json", "--offline", env=env)
    assert offline.code == 0
    assert _checks(offline, "jwks") == []


def test_human_output(issuer_cli: CLI) -> None:
    result = issuer_cli("check")
    assert result.code == 0
    assert "Effective configuration" in result.stdout
    assert "derived from BETTER_AUTH_URL" in result.stdout
    assert "✔ jwks" in result.stdout


@pytest.mark.parametrize("mode", NARROW_MODES)
def test_every_value_and_source_is_whole_at_80_columns(
    issuer_cli: CLI, dev_issuer: DevIssuer, mode: str
) -> None:
    env = {"AUTHBRIDGE_JWKS_URL": dev_issuer.jwks_url + "?" + "v=1&" * 20}
    shown = shown_at_80_columns(issuer_cli, mode, "check", "--offline", env=env)
    lines = [line.strip() for line in shown.splitlines()]
    assert "variable AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH" in lines, shown
    assert f"value   {env['AUTHBRIDGE_JWKS_URL']}" in lines
    assert "source  AUTHBRIDGE_JWKS_URL" in lines
    assert "source  derived from BETTER_AUTH_URL" in lines  # the effective issuer
    assert "…" not in shown
    assert "✔ settings  settings load" in shown


def test_configuration_errors_exit_2(cli: CLI) -> None:
    nothing = cli("check")
    assert nothing.code == 2
    assert "no key source is configured" in nothing.stdout
    invalid = cli("check", "--json", env={"AUTHBRIDGE_LEEWAY_SECONDS": "999"})
    assert invalid.code == 2
    assert invalid.json()["variable"] == "AUTHBRIDGE_LEEWAY_SECONDS"


def test_passwords_in_urls_are_masked(issuer_cli: CLI) -> None:
    url = "postgresql+asyncpg://tasks:hunter2-database-password@127.0.0.1:5432/test"
    result = issuer_cli(
        "check", "--json", "--offline", env={"AUTHBRIDGE_SESSION_DATABASE_URL": url}
    )
    assert result.code == 0, result.output
    row = _rows(result)["AUTHBRIDGE_SESSION_DATABASE_URL"]
    assert row["value"] == "postgresql+asyncpg://tasks:••••••@127.0.0.1:5432/test"
    assert "hunter2-database-password" not in result.stdout


def test_frontend_env_must_agree_with_the_api(
    issuer_cli: CLI, dev_issuer: DevIssuer, git_repo: Path
) -> None:
    frontend = git_repo / "web" / ".env.local"
    localhost = dev_issuer.issuer.replace("127.0.0.1", "localhost")
    frontend.write_text(f"BETTER_AUTH_URL={localhost}\nBETTER_AUTH_SECRET={OTHER_STRONG}\n")
    result = issuer_cli("check", "--json", env={"BETTER_AUTH_SECRET": STRONG})
    assert result.code == 1
    secret, url = _checks(result, "frontend")
    assert secret["status"] == "fail"
    assert "BETTER_AUTH_SECRET differs between web/.env.local and this API" in secret["detail"]
    assert url["status"] == "warn"
    assert localhost in url["detail"]
    assert STRONG not in result.stdout
    assert OTHER_STRONG not in result.stdout

    frontend.write_text(f"BETTER_AUTH_URL={dev_issuer.issuer}\nBETTER_AUTH_SECRET={STRONG}\n")
    agreed = issuer_cli("check", "--json", env={"BETTER_AUTH_SECRET": STRONG})
    assert agreed.code == 0, agreed.output
    assert [c["status"] for c in _checks(agreed, "frontend")] == ["pass", "pass"]


def test_without_pynacl_check_says_openssl_checks_eddsa_and_names_the_extra() -> None:
    try:
        use_ed25519_backend("openssl")  # as without PyNaCl
        found = _ed25519_check()
    finally:
        use_ed25519_backend()
    assert found.status == "info"
    assert found.detail.startswith("EdDSA signatures are checked by OpenSSL")
    assert found.fix == "pip install 'authbridge[nacl]' (PyNaCl), then restart."
