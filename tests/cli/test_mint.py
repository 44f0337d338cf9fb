"""``authbridge mint``: Better Auth-shaped dev tokens, checked independently with PyJWT."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import httpx
import jwt
import pytest
from cli_helpers import CLI, DevIssuer

HS_SECRET = "mint-tests-secret-0123456789-abcdefghijklmnopqrstuv"
BETTER_AUTH_CLAIMS = [
    "iat", "name", "email", "emailVerified", "image", "createdAt", "updatedAt",
    "id", "sub", "exp", "iss", "aud",
]  # fmt: skip


def _mint_json(cli: CLI, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    result = cli("mint", "--sub", "alice", "--json", *args, env=env)
    assert result.code == 0, result.output
    document: dict[str, object] = result.json()
    return document


def test_token_is_shaped_like_better_auths(issuer_cli: CLI, dev_issuer: DevIssuer) -> None:
    # iss and aud are BETTER_AUTH_URL's origin; the keys come from the dev issuer.
    env = {
        "BETTER_AUTH_URL": "http://127.0.0.1:4000/some/path",
        "AUTHBRIDGE_JWKS_URL": dev_issuer.jwks_url,
    }
    document = _mint_json(issuer_cli, "--email", "a@example.com", "--name", "Alice", env=env)
    assert set(document) == {"token", "header", "claims", "key", "expires", "notes"}
    assert document["notes"] == []
    token = str(document["token"])
    header = jwt.get_unverified_header(token)
    assert set(header) == {"alg", "kid"}
    assert header["alg"] == "EdDSA"
    assert len(header["kid"]) == 32
    claims = jwt.decode(token, options={"verify_signature": False})
    assert list(claims) == BETTER_AUTH_CLAIMS
    assert claims["iss"] == claims["aud"] == "http://127.0.0.1:4000"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["id"] == claims["sub"] == "alice"
    assert claims["email"] == "a@example.com"
    assert claims["name"] == "Alice"
    assert claims["emailVerified"] is False
    assert document["claims"] == claims


def test_plain_output_is_just_the_token(cli: CLI) -> None:
    result = cli("mint", "--sub", "bob")
    assert result.code == 0
    assert result.stdout.count("\n") == 1
    assert result.stdout.strip().count(".") == 2
    assert "token for sub bob" in result.stderr


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "ES512", "PS256", "RS256"])
def test_each_algorithm_verifies_with_the_dev_issuer_jwks(
    issuer_cli: CLI, dev_issuer: DevIssuer, alg: str
) -> None:
    token = str(_mint_json(issuer_cli, "--alg", alg)["token"])
    jwks = httpx.get(dev_issuer.jwks_url, trust_env=False).json()
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [key for key in jwks["keys"] if key["kid"] == kid]
    assert jwk["alg"] == alg
    assert "d" not in jwk  # the served JWKS is public only
    claims = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=[alg],
        audience=dev_issuer.issuer,
        issuer=dev_issuer.issuer,
    )
    assert claims["sub"] == "alice"
    assert issuer_cli("verify", token).code == 0


def test_keys_file_is_private_and_reused(cli: CLI, workdir: Path) -> None:
    first = _mint_json(cli)
    second = _mint_json(cli)
    keys_file = workdir / ".authbridge" / "dev-keys.json"
    assert first["key"] == {**second["key"], "created": True}  # type: ignore[dict-item]
    assert second["key"]["created"] is False  # type: ignore[index]
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_file.parent.stat().st_mode) == 0o700
    stored = json.loads(keys_file.read_text())
    assert [entry["alg"] for entry in stored["keys"]] == ["EdDSA"]


def test_keys_file_option_and_tracked_file_refused(cli: CLI, git_repo: Path) -> None:
    custom = git_repo / "keys.json"
    document = _mint_json(cli, "--keys-file", str(custom))
    assert document["key"]["file"] == str(custom)  # type: ignore[index]
    subprocess.run(["git", "add", "keys.json"], cwd=git_repo, check=True)
    refused = cli("mint", "--sub", "alice", "--keys-file", str(custom))
    assert refused.code == 2
    assert "tracked by git" in refused.stderr


def test_claims_exp_nbf_iss_aud_and_kid_options(cli: CLI) -> None:
    document = _mint_json(
        cli,
        "--claims", '{"role": "admin", "scope": "tasks:read", "email": "x@y.z"}',
        "--exp", "2h", "--nbf", "5m", "--iss", "https://auth.example", "--kid", "custom-kid",
    )  # fmt: skip
    claims = document["claims"]
    assert isinstance(claims, dict)
    assert claims["role"] == "admin"
    assert claims["email"] == "x@y.z"  # --claims win
    assert claims["exp"] - claims["iat"] == 7200
    assert claims["nbf"] - claims["iat"] == 300
    assert claims["iss"] == claims["aud"] == "https://auth.example"
    assert jwt.get_unverified_header(str(document["token"]))["kid"] == "custom-kid"
    expired = _mint_json(cli, "--exp", "-1h")["claims"]
    assert isinstance(expired, dict)
    assert expired["exp"] - expired["iat"] == -3600


def test_hs256_with_the_configured_secret(cli: CLI) -> None:
    env = {
        "AUTHBRIDGE_JWT_SECRET": HS_SECRET,
        "AUTHBRIDGE_JWT_ISSUER": "https://svc.example",
        "AUTHBRIDGE_JWT_AUDIENCE": "https://svc.example",
    }
    token = str(_mint_json(cli, "--alg", "HS256", env=env)["token"])
    assert jwt.get_unverified_header(token) == {"alg": "HS256"}
    claims = jwt.decode(token, HS_SECRET, algorithms=["HS256"], audience="https://svc.example")
    assert claims["iss"] == "https://svc.example"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--alg", "HS256"], {}, "AUTHBRIDGE_JWT_SECRET"),
        (["--alg", "HS256", "--secret", "short"], {}, "--secret"),
        (["--alg", "HS512"], {}, "--alg must be one of"),
        (["--claims", "{not json"], {}, "not valid JSON"),
        (["--claims", "[1, 2]"], {}, "JSON object"),
        (["--exp", "soon"], {}, "not a duration"),
        ([], {"AUTHBRIDGE_ENV": "production"}, "AUTHBRIDGE_ENV"),
    ],
)
def test_usage_and_config_errors_exit_2(
    cli: CLI, args: list[str], env: dict[str, str], message: str
) -> None:
    result = cli("mint", "--sub", "alice", *args, env=env)
    assert result.code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_production_refusal_in_json(cli: CLI) -> None:
    result = cli("mint", "--sub", "a", "--json", env={"AUTHBRIDGE_ENV": "production"})
    assert result.code == 2
    assert result.json()["variable"] == "AUTHBRIDGE_ENV"


def test_a_corrupt_keys_file_is_a_config_error(cli: CLI, workdir: Path) -> None:
    keys_file = workdir / "keys.json"
    keys_file.write_text('{"keys": [{"kid": "x"}]}')
    result = cli("mint", "--sub", "alice", "--keys-file", str(keys_file))
    assert result.code == 2
    assert "not a readable authbridge dev keys file" in result.stderr
    assert "Traceback" not in result.stderr
