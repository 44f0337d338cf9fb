"""``pip install 'authbridge[cli]'`` into a fresh venv: the command works with that extra alone,
and a setting that needs another extra is a failed check naming it, not a traceback."""

from __future__ import annotations

import json
import subprocess

from wheel_support import Venv, clean_env

from authbridge.testing import FakeIssuer


def _authbridge(venv: Venv, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv.path / "bin" / "authbridge"), *args],
        cwd=venv.path,  # no .env here
        env={**clean_env(), "NO_COLOR": "1", "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_extra_installs_the_command_and_not_the_rest(cli_venv: Venv) -> None:
    installed = cli_venv.packages()
    assert {"authbridge", "typer", "rich"} <= installed.keys()
    for other in ("fastapi", "sqlalchemy", "redis", "uvicorn", "tasks-api"):
        assert other not in installed, sorted(installed)
    version = _authbridge(cli_venv, "--version", env={})
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"authbridge {installed['authbridge']}"


def test_decode_runs_with_the_cli_extra_alone(cli_venv: Venv) -> None:
    issuer = FakeIssuer()
    done = _authbridge(cli_venv, "decode", "--json", issuer.token(), env={})
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["claims"]["sub"] == issuer.user["id"]


def test_check_names_the_redis_extra_when_redis_is_configured(cli_venv: Venv) -> None:
    env = {
        "BETTER_AUTH_URL": "https://auth.example.com",
        "AUTHBRIDGE_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    done = _authbridge(cli_venv, "check", "--json", "--offline", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    verifier = next(c for c in report["checks"] if c["step"] == "verifier")
    assert verifier["status"] == "fail"
    assert "pip install 'authbridge[redis]'" in verifier["detail"]
