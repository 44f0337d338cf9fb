"""``authbridge jwks``: every key of a set, and every problem the verifier would refuse."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import (
    CLI,
    NARROW_MODES,
    DevIssuer,
    StaticServer,
    run_in_terminal,
    shown_at_80_columns,
)
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authbridge.jose.b64 import b64url_encode
from harness.better_auth import BetterAuthServer

ROW_KEYS = {"kid", "kty", "alg", "curve_or_size", "thumbprint", "usable", "problem"}


def _rfc7638(jwk: dict[str, Any]) -> str:
    members = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
    canonical = json.dumps({m: jwk[m] for m in members[jwk["kty"]]}, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def _okp(kid: str) -> dict[str, Any]:
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw), "kid": kid, "alg": "EdDSA"}


def _ec(kid: str) -> tuple[dict[str, Any], ec.EllipticCurvePrivateKey]:
    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        "kid": kid,
    }
    return jwk, private


def _rsa(kid: str, bits: int) -> dict[str, Any]:
    public = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    n = public.public_numbers().n
    return {
        "kty": "RSA",
        "n": b64url_encode(n.to_bytes((n.bit_length() + 7) // 8, "big")),
        "e": "AQAB",
        "kid": kid,
        "alg": "RS256",
    }


def test_dev_issuer_keys_are_listed(issuer_cli: CLI, dev_issuer: DevIssuer) -> None:
    result = issuer_cli("jwks", "--json")  # default URL: BETTER_AUTH_URL + /api/auth/jwks
    assert result.code == 0, result.output
    document = result.json()
    assert set(document) == {"source", "ok", "error", "usable", "keys"}
    assert document["source"] == dev_issuer.jwks_url
    assert document["ok"] is True
    assert document["usable"] == len(dev_issuer.info["kids"])
    for row in document["keys"]:
        assert set(row) == ROW_KEYS
        assert row["usable"] is True
        assert row["problem"] is None
        assert row["alg"] == dev_issuer.info["kids"][row["kid"]]
        assert row["kty"] == "OKP"
        assert row["curve_or_size"] == "Ed25519"


def test_real_better_auth_jwks(cli: CLI, better_auth: BetterAuthServer) -> None:
    better_auth.get_jwt(better_auth.sign_up())  # makes sure a key exists
    expected = better_auth.jwks()["keys"]
    result = cli("jwks", better_auth.jwks_url, "--json")
    assert result.code == 0, result.output
    rows = {row["kid"]: row for row in result.json()["keys"]}
    assert set(rows) == {key["kid"] for key in expected}
    for key in expected:
        assert rows[key["kid"]]["thumbprint"] == _rfc7638(key)
        assert rows[key["kid"]]["alg"] == "EdDSA"
    human = cli("jwks", better_auth.jwks_url)
    assert human.code == 0
    assert expected[0]["kid"] in human.stdout
    assert "usable key(s)" in human.stdout


def test_every_problem_is_flagged(cli: CLI, static_server: StaticServer) -> None:
    good = _okp("good")
    leaky, _ = _ec("leaky")
    leaky["d"] = b64url_encode(b"\x01" * 32)
    small_order = {
        "kty": "OKP", "crv": "Ed25519", "x": b64url_encode(b"\x01" + b"\x00" * 31), "kid": "tiny",
    }  # fmt: skip
    static_server.document = {
        "keys": [
            good,
            small_order,
            _rsa("weak-rsa", 1024),
            _rsa("strong-rsa", 2048),
            _okp("twin"),
            _okp("twin"),
            leaky,
        ]
    }
    result = cli("jwks", static_server.url, "--json")
    assert result.code == 1
    rows = result.json()["keys"]
    assert [row["kid"] for row in rows] == [
        "good", "tiny", "weak-rsa", "strong-rsa", "twin", "twin", "leaky",
    ]  # fmt: skip
    by_kid = {row["kid"]: row for row in rows}
    assert by_kid["good"]["usable"] is True
    assert by_kid["good"]["thumbprint"] == _rfc7638(good)
    assert "small order" in by_kid["tiny"]["problem"]
    assert "under 2048 bits" in by_kid["weak-rsa"]["problem"]
    assert by_kid["weak-rsa"]["curve_or_size"] == "1024 bits"
    assert by_kid["strong-rsa"]["usable"] is True
    assert by_kid["strong-rsa"]["curve_or_size"] == "2048 bits"
    assert all("duplicate kid" in row["problem"] for row in rows if row["kid"] == "twin")
    assert "private members" in by_kid["leaky"]["problem"]
    assert result.json()["usable"] == 2
    human = cli("jwks", static_server.url)
    assert human.code == 1
    assert "refused" in human.stdout
    assert "2 usable key(s), 5 refused" in human.stdout


def test_unreachable_and_unusable_documents(
    cli: CLI, static_server: StaticServer, closed_port: int
) -> None:
    down = cli("jwks", f"http://127.0.0.1:{closed_port}/api/auth/jwks", "--json")
    assert down.code == 1
    assert down.json()["error"].startswith("cannot fetch the JWKS: ConnectError")
    static_server.document = {"not": "a key set"}
    bad = cli("jwks", static_server.url, "--json")
    assert bad.code == 1
    assert "not a usable JWK Set" in bad.json()["error"]
    insecure = cli("jwks", "http://auth.example.com/api/auth/jwks")
    assert insecure.code == 2
    assert "plain http" in insecure.stderr


def test_file_argument(cli: CLI, workdir: Path) -> None:
    key = _okp("from-file")
    path = workdir / "jwks.json"
    path.write_text(json.dumps({"keys": [key]}))
    result = cli("jwks", str(path), "--json")
    assert result.code == 0
    assert result.json()["keys"][0]["kid"] == "from-file"


def test_no_url_configured_is_a_config_error(cli: CLI) -> None:
    result = cli("jwks")
    assert result.code == 2
    assert "BETTER_AUTH_URL" in result.stderr
    assert "Fix:" in result.stderr


# --- narrow terminals: Rich shrank the table's columns to nothing at 80 columns --------------

KID_32 = "Bq3kZ8rT1mNc5vX0pLw7yHd2sJf9gAe4"  # Better Auth's kid shape
KID_64 = "k64-" + "0123456789abcdef" * 3 + "0123456789ab"
KID_100 = "k100-" + "x" * 95
KID_200 = "k200-" + "0123456789" * 19 + "abcde"


def _long_kid_set() -> tuple[dict[str, Any], dict[str, str]]:
    leaky, _ = _ec(KID_200)
    leaky["d"] = b64url_encode(b"\x01" * 32)
    key_agreement = {**_okp("x25519-" + KID_64), "crv": "X25519"}
    document = {
        "keys": [
            _okp(KID_32),
            _okp(KID_64),
            _rsa(KID_100, 1024),
            _okp("twin-" + KID_64),
            _okp("twin-" + KID_64),
            key_agreement,
            leaky,
        ]
    }
    reasons = {  # the longest reason the loader gives, among others
        KID_100: "refused: RSA keys under 2048 bits are refused",
        "twin-" + KID_64: "refused: duplicate kid: every key with it is ignored",
        "x25519-" + KID_64: "refused: only Ed25519 OKP keys are accepted for signatures",
        KID_200: "refused: the key carries private members",
    }
    return document, reasons


@pytest.mark.parametrize("mode", NARROW_MODES)
def test_every_kid_and_reason_is_whole_at_80_columns(
    cli: CLI, static_server: StaticServer, mode: str
) -> None:
    static_server.document, reasons = _long_kid_set()
    shown = shown_at_80_columns(cli, mode, "jwks", static_server.url, env={})
    lines = [line.strip() for line in shown.splitlines()]
    for key in static_server.document["keys"]:
        assert f"kid {key['kid']}" in lines, shown
        assert f"thumbprint  {_rfc7638(key)}" in lines, shown
    for reason in reasons.values():
        assert f"status      {reason}" in lines, shown
    assert lines.count("status      ok") == 2
    assert "…" not in shown
    assert "2 usable key(s), 5 refused" in shown


def test_a_wide_terminal_still_gets_the_table(
    cli: CLI, workdir: Path, static_server: StaticServer
) -> None:
    static_server.document, reasons = _long_kid_set()
    del static_server.document["keys"][-1]  # the 200-character kid would not fit
    code, shown = run_in_terminal(workdir, "jwks", static_server.url, columns=250)
    assert code == 1
    rows = [line for line in shown.splitlines() if line.startswith("│")]
    assert len(rows) == 6
    assert any(KID_100 in row and reasons[KID_100] in row for row in rows), shown
    assert "…" not in shown
