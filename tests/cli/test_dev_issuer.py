"""``authbridge dev-issuer``: the dev keys' JWKS on loopback, like Better Auth serves it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
from cli_helpers import CLI, ENTRY_POINT, clean_environment, start_dev_issuer, stop


def test_serves_the_public_jwks_of_the_keys_file(workdir: Path) -> None:
    keys_file = workdir / "keys.json"
    issuer = start_dev_issuer(workdir, keys_file, "--alg", "EdDSA", "--alg", "ES256")
    try:
        assert issuer.issuer.startswith("http://127.0.0.1:")
        assert issuer.jwks_url == issuer.issuer + "/api/auth/jwks"
        assert sorted(issuer.info["kids"].values()) == ["ES256", "EdDSA"]
        response = httpx.get(issuer.jwks_url, trust_env=False)
        assert response.status_code == 200
        keys = response.json()["keys"]
        assert {key["kid"]: key["alg"] for key in keys} == issuer.info["kids"]
        for key in keys:
            assert "d" not in key
            assert "use" not in key  # Better Auth's JWKS has no "use"
        stored = json.loads(keys_file.read_text())
        assert {entry["kid"] for entry in stored["keys"]} == set(issuer.info["kids"])
        assert httpx.get(issuer.issuer + "/api/auth/ok", trust_env=False).json() == {"ok": True}
        assert httpx.get(issuer.issuer + "/elsewhere", trust_env=False).status_code == 404
    finally:
        stop(issuer.process)


def test_keys_minted_later_are_served_without_restart(cli: CLI, workdir: Path) -> None:
    keys_file = workdir / "keys.json"
    issuer = start_dev_issuer(workdir, keys_file)
    try:
        before = httpx.get(issuer.jwks_url, trust_env=False).json()["keys"]
        assert [key["alg"] for key in before] == ["EdDSA"]
        minted = cli("mint", "--sub", "a", "--alg", "ES512", "--keys-file", str(keys_file))
        assert minted.code == 0
        after = httpx.get(issuer.jwks_url, trust_env=False).json()["keys"]
        assert sorted(key["alg"] for key in after) == ["ES512", "EdDSA"]
    finally:
        stop(issuer.process)


def test_human_output_tells_how_to_point_the_api_at_it(workdir: Path) -> None:
    process = subprocess.Popen(
        [str(ENTRY_POINT), "dev-issuer", "--port", "0", "--keys-file", str(workdir / "k.json")],
        cwd=workdir,
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "Serving the dev JWKS at http://127.0.0.1:" in first
        lines = [process.stdout.readline() for _ in range(3)]
        assert any("BETTER_AUTH_URL=http://127.0.0.1:" in line for line in lines)
    finally:
        stop(process)


def test_refused_in_production_and_bad_options(cli: CLI) -> None:
    production = cli("dev-issuer", "--port", "0", env={"AUTHBRIDGE_ENV": "production"})
    assert production.code == 2
    assert "AUTHBRIDGE_ENV" in production.stderr
    assert cli("dev-issuer", "--alg", "HS256").code == 2
    assert cli("dev-issuer", "--port", "70000").code == 2


def test_port_in_use_is_a_usage_error(cli: CLI, workdir: Path) -> None:
    issuer = start_dev_issuer(workdir, workdir / "k.json")
    try:
        port = issuer.issuer.rsplit(":", 1)[1]
        clash = cli("dev-issuer", "--port", port, "--keys-file", str(workdir / "k.json"))
        assert clash.code == 2
        assert f"cannot listen on 127.0.0.1:{port}" in clash.stderr
    finally:
        stop(issuer.process)


def test_a_keys_file_broken_while_serving_answers_500(workdir: Path) -> None:
    keys_file = workdir / "keys.json"
    issuer = start_dev_issuer(workdir, keys_file)
    try:
        keys_file.write_text("not json")
        response = httpx.get(issuer.jwks_url, trust_env=False)
        assert response.status_code == 500
        assert "not a readable authbridge dev keys file" in response.json()["message"]
        assert issuer.process.poll() is None  # still serving
    finally:
        stop(issuer.process)
