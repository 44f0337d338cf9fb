"""``authbridge verify``: the doctor. Each diagnosis comes from a real failing token: minted by
``authbridge mint`` and served by ``authbridge dev-issuer``, or issued by a real Better Auth."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from cli_helpers import CLI, DevIssuer, Result, StaticServer, check

from authbridge.jose.b64 import b64url_encode
from authbridge.jose.sign import sign_compact
from harness.better_auth import BetterAuthServer, ServerPool

SECRET_A = "doctor-secret-A-0123456789-abcdefghijklmnopqrstuvwxyz"
SECRET_B = "doctor-secret-B-9876543210-zyxwvutsrqponmlkjihgfedcba"
SERVICE = "https://service.example"
EXPECTED_KEYS = {"kind", "title", "checks", "valid", "error", "principal", "notes"}


def _mint(cli: CLI, *args: str, env: dict[str, str] | None = None) -> str:
    result = cli("mint", "--sub", "alice", *args, env=env)
    assert result.code == 0, result.output
    return result.stdout.strip()


def _verify(cli: CLI, token: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return cli("verify", token, "--json", *args, env=env)


def _statuses(result: Result) -> dict[str, str]:
    return {entry["step"]: entry["status"] for entry in result.json()["checks"]}


# --- dev issuer: JWKS path ------------------------------------------------------------------


def test_valid_token_passes_every_check(issuer_cli: CLI, dev_issuer: DevIssuer) -> None:
    token = _mint(issuer_cli, "--email", "alice@example.com")
    result = _verify(issuer_cli, token)
    assert result.code == 0, result.output
    document = result.json()
    assert set(document) == EXPECTED_KEYS
    assert document["valid"] is True
    assert document["error"] is None
    assert document["principal"]["sub"] == "alice"
    assert document["principal"]["email"] == "alice@example.com"
    assert document["principal"]["issuer"] == dev_issuer.issuer
    steps = _statuses(result)
    for step in ("format", "header", "alg", "key", "signature", "claims", "exp", "iss", "aud"):
        assert steps[step] == "pass", result.stdout
    for entry in document["checks"]:
        assert set(entry) == {"step", "status", "detail", "fix"}


def test_human_output_lists_checks_and_verdict(issuer_cli: CLI) -> None:
    token = _mint(issuer_cli)
    result = issuer_cli("verify", token)
    assert result.code == 0
    assert "✔ signature" in result.stdout
    assert "VALID: sub alice" in result.stdout


def test_pasted_authorization_header_is_stripped_and_reported(issuer_cli: CLI) -> None:
    token = _mint(issuer_cli)
    for pasted in (f"Authorization: Bearer {token}", f"Bearer {token}"):
        result = _verify(issuer_cli, pasted)
        assert result.code == 0, result.output
        notes = [c["detail"] for c in result.json()["checks"] if c["step"] == "input"]
        assert any("Stripped the 'Bearer ' prefix" in note for note in notes)
    header_only = _verify(issuer_cli, f"Authorization: {token}")
    notes = [c["detail"] for c in header_only.json()["checks"] if c["step"] == "input"]
    assert any("no 'Bearer ' scheme" in note for note in notes)


def test_token_from_stdin(issuer_cli: CLI) -> None:
    token = _mint(issuer_cli)
    result = issuer_cli("verify", "-", "--json", stdin=token + "\n")
    assert result.code == 0
    assert result.json()["valid"] is True


def test_expired_says_by_how_much(issuer_cli: CLI) -> None:
    result = _verify(issuer_cli, _mint(issuer_cli, "--exp", "-2h"))
    assert result.code == 1
    exp = check(result, "exp")
    assert exp["status"] == "fail"
    assert "expired 2 h ago" in exp["detail"]
    assert "fresh token" in exp["fix"]
    assert result.json()["error"]["code"] == "token_expired"


def test_not_yet_valid(issuer_cli: CLI) -> None:
    result = _verify(issuer_cli, _mint(issuer_cli, "--nbf", "10m"))
    assert result.code == 1
    nbf = check(result, "nbf")
    assert nbf["status"] == "fail"
    assert "becomes valid in 10 min" in nbf["detail"]
    assert "clocks" in nbf["fix"]
    assert result.json()["error"]["code"] == "token_not_yet_valid"


def test_issued_in_the_future(issuer_cli: CLI) -> None:
    future = int(time.time()) + 600
    result = _verify(issuer_cli, _mint(issuer_cli, "--claims", json.dumps({"iat": future})))
    assert check(result, "iat")["status"] == "fail"
    assert "issued in 10 min" in check(result, "iat")["detail"]
    assert result.json()["error"]["code"] == "token_not_yet_valid"


def test_lifetime_longer_than_allowed(issuer_cli: CLI) -> None:
    result = _verify(issuer_cli, _mint(issuer_cli, "--exp", "3h"))
    lifetime = check(result, "lifetime")
    assert lifetime["status"] == "fail"
    assert "It lives 3 h" in lifetime["detail"]
    assert "AUTHBRIDGE_MAX_TOKEN_LIFETIME" in lifetime["fix"]
    assert result.json()["error"]["code"] == "invalid_claims"


def test_audience_localhost_vs_loopback(issuer_cli: CLI, dev_issuer: DevIssuer) -> None:
    localhost = dev_issuer.issuer.replace("127.0.0.1", "localhost")
    result = _verify(issuer_cli, _mint(issuer_cli, "--aud", localhost))
    aud = check(result, "aud")
    assert aud["status"] == "fail"
    assert f"aud is {localhost} but this API expects {dev_issuer.issuer}" in aud["detail"]
    assert "localhost and 127.0.0.1 are different origins" in aud["detail"]
    assert "AUTHBRIDGE_AUDIENCE or BETTER_AUTH_URL" in aud["fix"]
    assert result.json()["error"]["code"] == "invalid_audience"


def test_issuer_mismatch(issuer_cli: CLI, dev_issuer: DevIssuer) -> None:
    token = _mint(issuer_cli, "--iss", "https://other.example", "--aud", dev_issuer.issuer)
    result = _verify(issuer_cli, token)
    iss = check(result, "iss")
    assert iss["status"] == "fail"
    assert f"iss is https://other.example but this API expects {dev_issuer.issuer}" in iss["detail"]
    assert "AUTHBRIDGE_ISSUER or BETTER_AUTH_URL" in iss["fix"]
    assert result.json()["error"]["code"] == "invalid_issuer"


def test_unknown_kid_lists_the_kids_that_are_there(issuer_cli: CLI, dev_issuer: DevIssuer) -> None:
    result = _verify(issuer_cli, _mint(issuer_cli, "--kid", "rotated-away"))
    key = check(result, "key")
    assert key["status"] == "fail"
    assert "kid 'rotated-away' is not in the JWKS" in key["detail"]
    for kid in dev_issuer.info["kids"]:
        assert kid in key["detail"]
    assert result.json()["error"]["code"] == "unknown_key"


def test_tampered_token_fails_the_signature(issuer_cli: CLI) -> None:
    header, payload, signature = _mint(issuer_cli).split(".")
    claims = json.loads(_b64decode(payload))
    claims["sub"] = "mallory"
    forged = f"{header}.{b64url_encode(json.dumps(claims).encode())}.{signature}"
    result = _verify(issuer_cli, forged)
    assert check(result, "signature")["status"] == "fail"
    assert "altered" in check(result, "signature")["detail"]
    assert "unverified" in check(result, "claims")["detail"]
    assert result.json()["error"]["code"] == "invalid_signature"


def _b64decode(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_jwks_unreachable(cli: CLI, workdir: Any, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/api/auth/jwks"
    token = _mint(cli, "--iss", f"http://127.0.0.1:{closed_port}")
    result = _verify(cli, token, "--jwks", url)
    assert result.code == 1
    key = check(result, "key")
    assert key["status"] == "fail"
    assert f"Cannot get keys from the JWKS at {url}" in key["detail"]
    assert "ConnectError" in key["detail"]
    assert "authbridge jwks" in key["fix"]
    assert result.json()["error"]["code"] == "keys_unavailable"
    assert any("--jwks origin" in note for note in result.json()["notes"])


def test_key_refused_by_hygiene_is_reported(cli: CLI, static_server: StaticServer) -> None:
    # The Ed25519 identity point (small order): the JWKS loader must refuse it.
    small_order = b64url_encode(b"\x01" + b"\x00" * 31)
    static_server.document = {
        "keys": [{"kty": "OKP", "crv": "Ed25519", "x": small_order, "kid": "weak", "alg": "EdDSA"}]
    }
    issuer = static_server.url.rsplit("/api/", 1)[0]
    token = _mint(cli, "--kid", "weak", "--iss", issuer)
    result = _verify(cli, token, "--jwks", static_server.url)
    key = check(result, "key")
    assert key["status"] == "fail"
    assert "small order" in key["detail"] or "no usable keys" in key["detail"]


def test_hs256_token_against_a_jwks_only_api(issuer_cli: CLI, dev_issuer: DevIssuer) -> None:
    token = _mint(issuer_cli, "--alg", "HS256", "--secret", SECRET_A)
    result = _verify(issuer_cli, token)
    alg = check(result, "alg")
    assert alg["status"] == "fail"
    assert "HS256" in alg["detail"]
    assert "verifies with a JWKS only" in alg["detail"]
    assert "AUTHBRIDGE_JWT_SECRET" in alg["fix"]
    assert result.json()["error"]["code"] == "algorithm_not_allowed"


# --- HS256 path -----------------------------------------------------------------------------

HS_ENV = {"AUTHBRIDGE_JWT_ISSUER": SERVICE, "AUTHBRIDGE_JWT_AUDIENCE": SERVICE}


def test_hs256_with_the_right_secret_is_valid(cli: CLI) -> None:
    token = _mint(cli, "--alg", "HS256", "--secret", SECRET_A, "--iss", SERVICE)
    result = _verify(cli, token, "--secret", SECRET_A, env=HS_ENV)
    assert result.code == 0, result.output
    assert check(result, "key")["detail"] == "the shared secret, bound to HS256"


def test_wrong_secret(cli: CLI) -> None:
    token = _mint(cli, "--alg", "HS256", "--secret", SECRET_A, "--iss", SERVICE)
    result = _verify(cli, token, "--secret", SECRET_B, "--issuer", SERVICE, "--audience", SERVICE)
    assert result.code == 1
    signature = check(result, "signature")
    assert signature["status"] == "fail"
    assert "signed with a different secret" in signature["detail"]
    assert "same secret" in signature["fix"]
    assert SECRET_A not in result.stdout
    assert SECRET_B not in result.stdout
    assert result.json()["error"]["code"] == "invalid_signature"


def test_token_signed_with_better_auth_secret_is_called_out(cli: CLI) -> None:
    token = _mint(cli, "--alg", "HS256", "--secret", SECRET_A, "--iss", SERVICE)
    env = {**HS_ENV, "BETTER_AUTH_SECRET": SECRET_A, "AUTHBRIDGE_JWT_SECRET": SECRET_B}
    result = _verify(cli, token, env=env)
    assert "It was signed with BETTER_AUTH_SECRET" in check(result, "signature")["detail"]


def test_missing_required_claim(cli: CLI) -> None:
    now = int(time.time())
    claims = {"sub": "svc", "iat": now, "iss": SERVICE, "aud": SERVICE}  # no exp
    token = sign_compact(claims, SECRET_A.encode(), "HS256")
    result = _verify(cli, token, "--secret", SECRET_A, env=HS_ENV)
    entry = check(result, "claims")
    assert entry["status"] == "fail"
    assert "missing required claim(s): exp" in entry["detail"]
    assert result.json()["error"]["code"] == "invalid_claims"


def test_unsigned_alg_none(cli: CLI) -> None:
    header = b64url_encode(json.dumps({"alg": "none"}).encode())
    payload = b64url_encode(json.dumps({"sub": "x"}).encode())
    result = _verify(
        cli, f"{header}.{payload}.{b64url_encode(b'x')}", "--secret", SECRET_A, env=HS_ENV
    )
    assert check(result, "alg")["status"] == "fail"
    assert "unsigned" in check(result, "alg")["detail"]
    assert result.json()["valid"] is False


# --- not a JWT at all -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [("not a token", "unknown"), ("a.b.c.d.e", "unknown"), ("eyJhbGciOiJIUzI1NiJ9", "unknown")],
)
def test_garbage_fails_the_format_step(issuer_cli: CLI, value: str, kind: str) -> None:
    result = _verify(issuer_cli, value)
    assert result.code == 1
    assert result.json()["kind"] == kind
    assert check(result, "format")["status"] == "fail"
    assert result.json()["error"]["code"] == "token_malformed"


def test_configuration_error_exits_2_with_variable_and_fix(cli: CLI) -> None:
    result = cli("verify", "x.y.z")
    assert result.code == 2
    assert "Configuration error in BETTER_AUTH_URL" in result.stderr
    assert "Fix:" in result.stderr
    as_json = cli("verify", "x.y.z", "--json", env={"AUTHBRIDGE_ALGORITHMS": "EdDSA,HS999"})
    assert as_json.code == 2
    assert as_json.json()["error"] == "config"
    assert as_json.json()["variable"] == "AUTHBRIDGE_ALGORITHMS"
    assert as_json.json()["fix"]


# --- real Better Auth tokens ----------------------------------------------------------------


def test_real_eddsa_token_against_an_hs256_config(cli: CLI, better_auth: BetterAuthServer) -> None:
    token = better_auth.get_jwt(better_auth.sign_up())
    env = {
        "AUTHBRIDGE_JWT_SECRET": SECRET_A,
        "AUTHBRIDGE_JWT_ISSUER": better_auth.origin,
        "AUTHBRIDGE_JWT_AUDIENCE": better_auth.origin,
    }
    result = _verify(cli, token, env=env)
    assert result.code == 1
    alg = check(result, "alg")
    assert alg["status"] == "fail"
    assert "signed with EdDSA" in alg["detail"]
    assert "only has a shared secret" in alg["detail"]
    assert f"BETTER_AUTH_URL={better_auth.origin}" in alg["fix"]
    assert result.json()["error"]["code"] == "algorithm_not_allowed"


def test_real_token_verifies_against_its_issuer(cli: CLI, better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    result = _verify(cli, better_auth.get_jwt(user), env={"BETTER_AUTH_URL": better_auth.url})
    assert result.code == 0, result.output
    assert result.json()["principal"]["sub"] == user.id
    assert result.json()["principal"]["email"] == user.email


def test_real_token_with_a_kid_from_another_instance(
    cli: CLI, better_auth: BetterAuthServer, better_auth_module_factory: ServerPool
) -> None:
    other = better_auth_module_factory()
    other_kids = [key["kid"] for key in other.jwks()["keys"]]
    token = better_auth.get_jwt(better_auth.sign_up())
    result = _verify(
        cli,
        token,
        "--jwks",
        other.jwks_url,
        "--issuer",
        better_auth.origin,
        "--audience",
        better_auth.origin,
    )
    key = check(result, "key")
    assert key["status"] == "fail"
    assert "is not in the JWKS" in key["detail"]
    for kid in other_kids:
        assert kid in key["detail"]
    assert "another Better Auth instance" in key["fix"]
    assert result.json()["error"]["code"] == "unknown_key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_real_token_from_a_different_base_url(
    cli: CLI, better_auth_module_factory: ServerPool
) -> None:
    port = _free_port()
    server = better_auth_module_factory(PORT=port, BETTER_AUTH_URL=f"http://localhost:{port}")
    token = server.get_jwt(server.sign_up())
    result = _verify(cli, token, env={"BETTER_AUTH_URL": f"http://127.0.0.1:{port}"})
    assert result.code == 1
    assert check(result, "signature")["status"] == "pass"
    aud = check(result, "aud")
    assert aud["status"] == "fail"
    assert (
        f"aud is http://localhost:{port} but this API expects http://127.0.0.1:{port}"
        in (aud["detail"])
    )
    assert "AUTHBRIDGE_AUDIENCE or BETTER_AUTH_URL" in aud["fix"]
    assert check(result, "iss")["status"] == "fail"
    assert result.json()["error"]["code"] in ("invalid_issuer", "invalid_audience")


def test_real_session_token_passed_as_jwt(cli: CLI, better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    for credential in (user.signed_token, user.cookie_value, f"Bearer {user.signed_token}"):
        result = _verify(cli, credential, env={"BETTER_AUTH_URL": better_auth.url})
        assert result.code == 1
        assert result.json()["kind"] == "session_token"
        fmt = check(result, "format")
        assert fmt["status"] == "fail"
        assert "Better Auth signed session token" in fmt["detail"]
        assert "token not included in session" in fmt["fix"]
        assert "/api/auth/token" in fmt["fix"]
        assert "session mode" in fmt["fix"]
        assert user.session_token not in result.stdout
        assert result.json()["error"]["code"] == "token_malformed"


def test_real_session_data_cookie_passed_as_jwt(
    cli: CLI, better_auth_module_factory: ServerPool
) -> None:
    server = better_auth_module_factory(COOKIE_CACHE_STRATEGY="jwt")
    cookie = server.session_cookies(server.sign_up())["better-auth.session_data"]
    env = {
        **HS_ENV,
        "AUTHBRIDGE_JWT_SECRET": SECRET_B,
        "BETTER_AUTH_SECRET": server.secret,
    }
    result = _verify(cli, cookie, env=env)
    assert result.code == 1
    document: dict[str, Any] = result.json()
    assert document["kind"] == "cookie_cache_jwt"
    assert check(result, "format")["status"] == "fail"
    assert "session_data" in check(result, "format")["fix"]
    assert "It was signed with BETTER_AUTH_SECRET" in check(result, "signature")["detail"]


def test_secret_can_come_from_the_environment_instead_of_argv(cli: CLI) -> None:
    token = _mint(cli, "--alg", "HS256", "--secret", SECRET_A, "--iss", SERVICE)
    result = _verify(cli, token, env={**HS_ENV, "AUTHBRIDGE_VERIFY_SECRET": SECRET_A})
    assert result.code == 0, result.output
    assert result.json()["principal"]["issuer"] == SERVICE


# --- session mode: session tokens are credentials -------------------------------------------


def _session_env(server: BetterAuthServer, secret: str | None = None) -> dict[str, str]:
    return {
        "BETTER_AUTH_URL": server.url,
        "BETTER_AUTH_SECRET": secret or server.secret,
        "AUTHBRIDGE_SESSION_MODE": "remote",
    }


def test_session_mode_accepts_a_real_session_token(cli: CLI, better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    result = _verify(cli, user.cookie_value, env=_session_env(better_auth))
    assert result.code == 0, result.output
    document = result.json()
    assert check(result, "format")["status"] == "pass"
    assert "session mode (remote) is on" in check(result, "format")["detail"]
    assert check(result, "signature")["detail"] == "the HMAC matches BETTER_AUTH_SECRET"
    assert document["principal"]["sub"] == user.id
    assert document["principal"]["credential"] == "session"


def test_session_mode_with_another_secret(cli: CLI, better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    result = _verify(cli, user.signed_token, env=_session_env(better_auth, SECRET_B))
    assert result.code == 1
    signature = check(result, "signature")
    assert signature["status"] == "fail"
    assert "does not match BETTER_AUTH_SECRET" in signature["detail"]
    assert "same BETTER_AUTH_SECRET" in signature["fix"]
    assert result.json()["error"]["code"] == "invalid_signature"


def test_session_mode_after_sign_out(cli: CLI, better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    better_auth.sign_out(user)
    result = _verify(cli, user.signed_token, env=_session_env(better_auth))
    assert result.code == 1
    session = check(result, "session")
    assert session["status"] == "fail"
    assert "signed out" in session["detail"]
    assert "Sign in again" in session["fix"]
    assert result.json()["error"]["code"] == "session_invalid"
