"""``authbridge mint`` mints what ``authbridge verify`` accepts in the same environment, for
every way the settings choose a trusted path; where it cannot, it says so (exit 2) instead.

Both commands run as real processes with the same environment, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jwt
import pytest
from cli_helpers import CLI, DevIssuer, Result, StaticServer, start_dev_issuer, stop
from cryptography.hazmat.primitives.asymmetric import ed25519

from authbridge.jose.b64 import b64url_encode
from harness.better_auth import BetterAuthServer

SECRET = "mint-verify-secret-0123456789-abcdefghijklmnopqrstu"
SERVICE = "https://service.example"
HS_ONLY = {
    "AUTHBRIDGE_JWT_SECRET": SECRET,
    "AUTHBRIDGE_JWT_ISSUER": SERVICE,
    "AUTHBRIDGE_JWT_AUDIENCE": SERVICE,
}


def _mint(cli: CLI, *args: str, env: dict[str, str]) -> Result:
    return cli("mint", "--sub", "alice", "--json", *args, env=env)


def _mint_then_verify(cli: CLI, *args: str, env: dict[str, str]) -> dict[str, object]:
    """Mint with ``env``, verify with the same ``env``; the minted document."""
    minted = _mint(cli, *args, env=env)
    assert minted.code == 0, minted.output
    document: dict[str, object] = minted.json()
    verified = cli("verify", str(document["token"]), "--json", env=env)
    assert verified.code == 0, verified.output
    assert verified.json()["valid"] is True
    return document


def _alg(document: dict[str, object]) -> str:
    return str(jwt.get_unverified_header(str(document["token"]))["alg"])


def _refused(result: Result, variable: str, *words: str) -> dict[str, str]:
    """Exit 2 and, instead of a token, the error naming the variable, the problem and the fix."""
    assert result.code == 2, result.output
    error: dict[str, str] = result.json()
    assert error["error"] == "config"
    assert error["variable"] == variable
    for word in words:
        assert word in error["problem"] + " " + error["fix"], error
    return error


def _public_jwks(dev_issuer: DevIssuer) -> str:
    return json.dumps(httpx.get(dev_issuer.jwks_url, trust_env=False).json())


def _foreign_jwks() -> dict[str, object]:
    """A key set like a real auth server's: mint holds none of its private keys."""
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    key = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw), "kid": "auth-server-key"}
    return {"keys": [{**key, "alg": "EdDSA"}]}


# --- each configuration: mint, then verify with the same environment ------------------------


def test_secret_only_mints_hs256(cli: CLI) -> None:
    document = _mint_then_verify(cli, env=HS_ONLY)
    assert _alg(document) == "HS256"
    assert document["key"] == {"kind": "shared secret", "kid": None}
    claims = jwt.decode(str(document["token"]), SECRET, algorithms=["HS256"], audience=SERVICE)
    assert claims["iss"] == SERVICE


def test_jwks_from_the_dev_issuer_mints_with_the_dev_key(
    issuer_cli: CLI, dev_issuer: DevIssuer
) -> None:
    document = _mint_then_verify(issuer_cli, env={})
    assert _alg(document) == "EdDSA"
    assert document["key"]["kid"] in dev_issuer.info["kids"]  # type: ignore[index]
    assert document["claims"]["iss"] == dev_issuer.issuer  # type: ignore[index]


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_another_algorithm_from_the_dev_issuer(
    issuer_cli: CLI, dev_issuer: DevIssuer, alg: str
) -> None:
    # The key is made on first use; the dev issuer serves it from the same file at once.
    assert _alg(_mint_then_verify(issuer_cli, "--alg", alg, env={})) == alg


@pytest.mark.parametrize("variable", ["AUTHBRIDGE_JWKS_FILE", "AUTHBRIDGE_JWKS"])
def test_static_jwks_of_the_dev_keys(
    cli: CLI, dev_issuer: DevIssuer, workdir: Path, variable: str
) -> None:
    public = _public_jwks(dev_issuer)
    if variable == "AUTHBRIDGE_JWKS_FILE":
        (workdir / "jwks.json").write_text(public)
        value = str(workdir / "jwks.json")
    else:
        value = public
    env = {
        variable: value,
        "AUTHBRIDGE_ISSUER": SERVICE,
        "AUTHBRIDGE_AUDIENCE": "tasks-api",
        "AUTHBRIDGE_DEV_KEYS_FILE": str(dev_issuer.keys_file),
    }
    document = _mint_then_verify(cli, env=env)
    assert _alg(document) == "EdDSA"
    assert document["claims"]["iss"] == SERVICE  # type: ignore[index]
    assert document["claims"]["aud"] == "tasks-api"  # type: ignore[index]


def test_both_paths_prefer_the_dev_key_and_hs256_on_request(
    issuer_cli: CLI, dev_issuer: DevIssuer
) -> None:
    env = {"AUTHBRIDGE_JWT_SECRET": SECRET}  # iss/aud from BETTER_AUTH_URL on both paths
    assert _alg(_mint_then_verify(issuer_cli, env=env)) == "EdDSA"
    assert _alg(_mint_then_verify(issuer_cli, "--alg", "HS256", env=env)) == "HS256"


def test_both_paths_with_a_foreign_jwks_fall_back_to_hs256(
    cli: CLI, static_server: StaticServer
) -> None:
    static_server.document = _foreign_jwks()
    env = {"AUTHBRIDGE_JWKS_URL": static_server.url, **HS_ONLY}
    env |= {"AUTHBRIDGE_ISSUER": SERVICE, "AUTHBRIDGE_AUDIENCE": SERVICE}
    document = _mint_then_verify(cli, env=env)
    assert _alg(document) == "HS256"
    (note,) = document["notes"]  # type: ignore[misc]
    assert f"the JWKS at {static_server.url} serves none of the dev keys" in note
    assert "signed HS256 with AUTHBRIDGE_JWT_SECRET instead" in note


def test_an_algorithm_allow_list_picks_the_dev_key_it_allows(cli: CLI, workdir: Path) -> None:
    keys_file = workdir / "keys.json"
    issuer = start_dev_issuer(workdir, keys_file, "--alg", "EdDSA", "--alg", "ES256")
    try:
        env = {
            "BETTER_AUTH_URL": issuer.issuer,
            "AUTHBRIDGE_DEV_KEYS_FILE": str(keys_file),
            "AUTHBRIDGE_ALGORITHMS": "ES256",
        }
        assert _alg(_mint_then_verify(cli, env=env)) == "ES256"
        refused = _mint(cli, "--alg", "EdDSA", env=env)
        _refused(refused, "AUTHBRIDGE_ALGORITHMS", "does not allow EdDSA", "add EdDSA")
    finally:
        stop(issuer.process)


def test_a_shorter_max_lifetime_shortens_the_default_exp(cli: CLI) -> None:
    env = {**HS_ONLY, "AUTHBRIDGE_MAX_TOKEN_LIFETIME": "300"}
    claims = _mint_then_verify(cli, env=env)["claims"]
    assert claims["exp"] - claims["iat"] == 300  # type: ignore[index]


def test_a_required_claim_the_token_lacks(cli: CLI) -> None:
    env = {**HS_ONLY, "AUTHBRIDGE_REQUIRED_CLAIMS": "exp,iat,iss,aud,sub,role"}
    error = _refused(_mint(cli, env=env), "AUTHBRIDGE_REQUIRED_CLAIMS", "requires role")
    assert "--claims" in error["fix"]
    _mint_then_verify(cli, "--claims", '{"role": "admin"}', env=env)


# --- what mint cannot make, it refuses with the variable and the fix -------------------------


def test_a_real_better_auth_jwks_is_refused(cli: CLI, better_auth: BetterAuthServer) -> None:
    better_auth.get_jwt(better_auth.sign_up())  # makes sure the server has a key
    result = _mint(cli, env={"BETTER_AUTH_URL": better_auth.url})
    error = _refused(result, "BETTER_AUTH_URL", "serves none of the dev keys", "/api/auth/token")
    assert f"the JWKS at {better_auth.url}/api/auth/jwks" in error["problem"]
    assert "authbridge dev-issuer" in error["fix"]
    human = cli("mint", "--sub", "alice", env={"BETTER_AUTH_URL": better_auth.url})
    assert human.code == 2
    assert human.stdout == ""  # no token to copy by mistake
    assert "Configuration error in BETTER_AUTH_URL" in human.stderr


def test_an_unreachable_jwks_is_refused(cli: CLI, closed_port: int) -> None:
    env = {"AUTHBRIDGE_JWKS_URL": f"http://127.0.0.1:{closed_port}/api/auth/jwks"}
    env |= {"AUTHBRIDGE_ISSUER": SERVICE, "AUTHBRIDGE_AUDIENCE": SERVICE}
    cli("mint", "--sub", "bootstrap")  # a dev key exists, so only the fetch can fail
    error = _refused(_mint(cli, env=env), "AUTHBRIDGE_JWKS_URL", "cannot be fetched")
    assert "ConnectError" in error["problem"]
    assert "authbridge dev-issuer" in error["fix"]


def test_a_public_key_algorithm_without_a_jwks_is_refused(cli: CLI) -> None:
    error = _refused(_mint(cli, "--alg", "EdDSA", env=HS_ONLY), "BETTER_AUTH_URL")
    assert "EdDSA tokens would be refused" in error["problem"]
    assert "drop --alg" in error["fix"]


def test_hs256_without_a_secret_is_refused(issuer_cli: CLI) -> None:
    error = _refused(_mint(issuer_cli, "--alg", "HS256", env={}), "AUTHBRIDGE_JWT_SECRET")
    assert "HS256 tokens would be refused" in error["problem"]


def test_a_bare_secret_is_refused_as_verify_refuses_it(cli: CLI) -> None:
    # No issuer or audience for the HS256 path: verify cannot accept any token, so mint
    # reports verify's own configuration error instead of a token.
    env = {"AUTHBRIDGE_JWT_SECRET": SECRET}
    minted = _mint(cli, env=env)
    _refused(minted, "AUTHBRIDGE_JWT_ISSUER", "no issuer or audience")
    token = _mint(cli, "--secret", SECRET, env={}).json()["token"]
    verified = cli("verify", token, "--json", env=env)
    assert verified.code == 2
    assert verified.json()["variable"] == minted.json()["variable"]
