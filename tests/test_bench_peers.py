"""The peers benchmark's set-up: its environment spec, its apps and its forged tokens.

The peers themselves are not installed here (they are not project dependencies); this checks
what can go stale without a benchmark run noticing: an unpinned or drifting requirement, a
peer leaking into the project's own dependencies, an app module that no longer matches the
driver's list, and the tampered tokens still being refused for their signature alone.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

from authbridge import InvalidSignature
from authbridge.jose.b64 import b64url_decode
from authbridge.testing import FakeIssuer

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "bench" / "peers" / "requirements.txt"
PEERS = ("fastapi-better-auth-bridge", "fastapi-betterauth")

sys.path.insert(0, str(ROOT / "bench"))  # bench/ is not a package; only for this import
try:
    import http_peers
finally:
    sys.path.remove(str(ROOT / "bench"))


def requirements() -> dict[str, str]:
    pinned = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[a-z0-9,]+\])?==([0-9][0-9A-Za-z.]*)", line)
        assert match, f"not pinned with ==: {line!r}"
        pinned[match.group(1).lower()] = match.group(3)
    return pinned


def locked() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {package["name"]: package.get("version", "") for package in lock["package"]}


def test_every_requirement_is_pinned_and_the_peers_are_listed() -> None:
    pinned = requirements()
    assert set(PEERS) | {"joserfc", "pyjwt"} <= set(pinned)


def test_the_shared_server_stack_matches_the_project_lock() -> None:
    """The same FastAPI, uvicorn... as http.md's run, so the two tables compare."""
    pinned, lock = requirements(), locked()
    shared = {name: version for name, version in pinned.items() if name in lock}
    assert {"fastapi", "starlette", "uvicorn", "uvloop", "httptools"} <= set(shared)
    assert shared == {name: lock[name] for name in shared}


def test_the_peers_are_not_project_dependencies() -> None:
    project = (ROOT / "pyproject.toml").read_text()
    lock = locked()
    for peer in PEERS:
        assert peer not in project
        assert peer not in lock


@pytest.mark.parametrize(("name", "factory"), [(n, f) for n, f, _ in http_peers.SERVERS])
def test_every_server_factory_exists(name: str, factory: str) -> None:
    module, _, function = factory.partition(":")
    source = ROOT / "bench" / (module.replace(".", "/") + ".py")
    tree = ast.parse(source.read_text(), str(source))
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert function in functions, name
    assert '"/hello"' in source.read_text() or module == "apps.endpoints"


async def test_a_tampered_token_keeps_its_header_and_fails_on_the_signature() -> None:
    issuer = FakeIssuer()
    token = issuer.token()
    forged = http_peers.tampered(token)
    assert forged.rpartition(".")[0] == token.rpartition(".")[0]
    assert b64url_decode(forged.rpartition(".")[2]) != b64url_decode(token.rpartition(".")[2])
    with pytest.raises(InvalidSignature):
        await issuer.verifier().verify(forged)
