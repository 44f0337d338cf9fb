"""``pip install authbridge`` into a fresh venv: a small install, no app, and it verifies.

The core wheel is installed alone, from the wheel `uv build` made, with the dependencies it
declares resolved from the package index: exactly what a user's ``pip install`` gets.
"""

from __future__ import annotations

import json
import zipfile

import pytest
from wheel_support import Dists, Venv

from authbridge.testing import FakeIssuer

# cryptography (with cffi and pycparser), httpx (with httpcore, h11, anyio, idna, certifi and
# typing_extensions for anyio), msgspec and authbridge itself come to 12 today (issue #17).
MAX_CORE_PACKAGES = 13

VERIFY_SCRIPT = """
import asyncio, json, sys

from authbridge import AuthError, Verifier
from authbridge.jose.algorithms import ed25519_backend


async def main():
    verifier = Verifier.from_env()
    try:
        principal = await verifier.verify(sys.argv[1])
        try:
            await verifier.verify(sys.argv[2])
            refused = None
        except AuthError as error:
            refused = error.code
    finally:
        await verifier.aclose()
    print(json.dumps({
        "sub": principal.sub,
        "issuer": principal.issuer,
        "refused": refused,
        "ed25519": ed25519_backend(),
    }))


asyncio.run(main())
"""


def test_the_core_installs_at_most_13_packages(core_venv: Venv) -> None:
    installed = core_venv.packages()
    assert "authbridge" in installed
    assert len(installed) <= MAX_CORE_PACKAGES, sorted(installed)
    for heavy in ("fastapi", "starlette", "sqlalchemy", "redis", "typer", "rich", "uvicorn"):
        assert heavy not in installed, sorted(installed)


def test_the_library_wheel_has_no_app(dists: Dists, core_venv: Venv) -> None:
    with zipfile.ZipFile(dists.core_wheel) as wheel:
        names = wheel.namelist()
    assert not [n for n in names if "tasks_api" in n]
    assert "authbridge/py.typed" in names
    assert all(n.startswith(("authbridge/", "authbridge-")) for n in names), names
    found = core_venv.python_run(
        "import importlib.util; print(importlib.util.find_spec('tasks_api'))"
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "None"


def test_the_app_wheel_carries_its_migrations_and_types(dists: Dists) -> None:
    with zipfile.ZipFile(dists.app_wheel) as wheel:
        names = set(wheel.namelist())
    assert "tasks_api/py.typed" in names
    assert "tasks_api/migrations/script.py.mako" in names
    assert any(n.startswith("tasks_api/migrations/versions/0001") for n in names), names
    assert not [n for n in names if n.startswith("authbridge/")]


def _verify_in(venv: Venv) -> dict[str, object]:
    """VERIFY_SCRIPT in ``venv`` on a good and a forged EdDSA token; its JSON answer."""
    issuer = FakeIssuer(base_url=None, alg="EdDSA")  # signs with cryptography, in this process
    with issuer.serving():
        good = issuer.token()
        head, payload, signature = good.split(".")
        forged = f"{head}.{payload}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
        done = venv.python_run(
            VERIFY_SCRIPT,
            good,
            forged,
            env={"BETTER_AUTH_URL": issuer.issuer},  # the JWKS: BETTER_AUTH_URL/api/auth/jwks
        )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    assert result["sub"] == issuer.user["id"]
    assert result["issuer"] == issuer.issuer
    assert result["refused"] == "invalid_signature"
    assert issuer.server is None  # stopped; the script fetched the keys while it ran
    return result


def test_a_script_verifies_an_eddsa_token_against_a_local_jwks_server(core_venv: Venv) -> None:
    # Without PyNaCl, OpenSSL (through cryptography) checks the signature.
    assert _verify_in(core_venv)["ed25519"] == "openssl"
    assert "pynacl" not in core_venv.packages()


def test_the_nacl_extra_verifies_eddsa_with_libsodium(nacl_venv: Venv) -> None:
    assert "pynacl" in nacl_venv.packages()
    assert _verify_in(nacl_venv)["ed25519"] == "libsodium"


@pytest.mark.parametrize(
    ("module", "extra", "library"),
    [
        ("authbridge.fastapi", "fastapi", "FastAPI"),
        ("authbridge.cli", "cli", "Typer"),
        ("authbridge.sessions.database", "sessions", "SQLAlchemy"),
        ("authbridge.keys.shared_jwks", "redis", "Redis"),
    ],
)
def test_an_optional_part_without_its_extra_names_the_extra(
    core_venv: Venv, module: str, extra: str, library: str
) -> None:
    done = core_venv.python_run(f"import {module}")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("authbridge.extras.MissingExtra: "), done.stderr
    assert f"needs {library}: pip install 'authbridge[{extra}]'" in last
    # Code that makes a part optional with `except ImportError` keeps working.
    caught = core_venv.python_run(
        f"try:\n    import {module}\nexcept ImportError:\n    print('ok')"
    )
    assert caught.stdout.strip() == "ok", caught.stderr


def test_the_command_without_the_cli_extra_names_it(core_venv: Venv) -> None:
    command = core_venv.path / "bin" / "authbridge"
    assert command.exists()  # the script is installed with the core; its extra is not
    done = core_venv.python_run(
        "import subprocess, sys; sys.exit(subprocess.run([sys.argv[1], '--version']).returncode)",
        str(command),
    )
    assert done.returncode == 2  # a setup error, like a bad setting
    assert done.stderr.startswith("authbridge: The authbridge command needs Typer: "), done.stderr
    assert "pip install 'authbridge[cli]'" in done.stderr
    assert "Traceback" not in done.stderr
