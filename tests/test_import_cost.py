"""What importing authbridge loads: the deterministic half of the start-up budget.

Timing lives in bench/startup.py (bench/results/startup.md); a test only checks which modules
a fresh interpreter ends up with, which does not depend on the machine's load.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

from tokens import ba_claims, ed25519_key

# Heavy or optional: none of them is needed to verify a token.
NOT_IN_THE_CORE = (
    "pydantic",
    "pydantic_settings",
    "pydantic_core",
    "httpx",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "redis",
    "typer",
    "rich",
    "tasks_api",
)
# Decoding a token reads no settings source, database, Redis or web framework.
NOT_FOR_DECODE = (
    "pydantic",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "redis",
    "httpx",
    "uvicorn",
    "tasks_api",
)
# The command modules `authbridge --help` must not import to list them.
COMMAND_MODULES = (
    "authbridge.cli.check_cmd",
    "authbridge.cli.decode_cmd",
    "authbridge.cli.dev_issuer",
    "authbridge.cli.jwks_cmd",
    "authbridge.cli.mint_cmd",
    "authbridge.cli.revoke_cmd",
    "authbridge.cli.secret_cmd",
    "authbridge.cli.verify_cmd",
)

_REPORT = "import json, sys; print(json.dumps(sorted(sys.modules)), file=sys.__stdout__)"


def _loaded_after(code: str, *argv: str) -> set[str]:
    """The top-level and full module names a fresh interpreter holds after running ``code``."""
    script = f"import sys\nsys.argv = {['authbridge', *argv]!r}\n{code}\n{_REPORT}\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    names: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return set(names) | {name.split(".")[0] for name in names}


def _run_cli() -> str:
    return (
        "from authbridge.cli.main import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "sys.stdout.flush()"
    )


@pytest.mark.parametrize(
    "code",
    [
        "import authbridge",
        "from authbridge import Verifier, Principal",
        "from authbridge import load_settings; load_settings()",
        "import authbridge.sessions",  # SQLAlchemy or httpx only once a store is configured
    ],
)
def test_the_core_loads_no_heavy_or_optional_module(code: str) -> None:
    loaded = _loaded_after(code)
    assert not loaded & set(NOT_IN_THE_CORE), sorted(loaded & set(NOT_IN_THE_CORE))


def test_decode_loads_no_web_database_or_network_module() -> None:
    token = ed25519_key("k1").sign(ba_claims())
    # Better Auth's session token: an id, ".", a base64 HMAC-SHA256 (decode reads sessions/).
    session_token = "Q2hGc2Vzc2lvbnRva2VuMTIzNDU2Nzg5MA." + base64.b64encode(bytes(32)).decode()
    cases = [("decode", "--help"), ("decode", token), ("decode", "--json", token)]
    for argv in [*cases, ("decode", session_token)]:
        loaded = _loaded_after(_run_cli(), *argv)
        assert not loaded & set(NOT_FOR_DECODE), (argv, sorted(loaded & set(NOT_FOR_DECODE)))


def test_help_lists_commands_without_importing_them() -> None:
    loaded = _loaded_after(_run_cli(), "--help")
    assert "authbridge.cli.main" in loaded
    assert not loaded & set(COMMAND_MODULES), sorted(loaded & set(COMMAND_MODULES))
