"""The package facade: what ``from authbridge import ...`` offers, and what it costs."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import authbridge
from authbridge import errors
from tokens import AUDIENCE, ISSUER, FixedClock, ba_claims, ed25519_key, jwks


@pytest.mark.parametrize("name", authbridge.__all__)
def test_every_exported_name_is_importable_and_documented(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from authbridge import {name}", namespace)  # the statement users write
    value = namespace[name]
    doc = value.__doc__ if inspect.isclass(value) else inspect.getdoc(value)
    assert (doc or "").strip(), f"authbridge.{name} has no docstring"


def test_every_error_class_is_exported() -> None:
    assert set(errors.__all__) <= set(authbridge.__all__)


def test_dir_lists_the_lazy_names() -> None:
    assert set(authbridge.__all__) <= set(dir(authbridge))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = authbridge.Nope  # type: ignore[attr-defined]


def test_import_authbridge_loads_no_http_client() -> None:
    """``RemoteJWKS`` is exported, yet httpx (and the remote key source) load only on use."""
    probe = (
        "import sys, authbridge\n"
        "assert 'httpx' not in sys.modules\n"
        "assert 'authbridge.keys.remote' not in sys.modules\n"
        "from authbridge import RemoteJWKS\n"
        "assert 'httpx' not in sys.modules\n"
        "RemoteJWKS('https://auth.example.com/api/auth/jwks')\n"
        "assert 'httpx' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)


def _runtime_imports(node: ast.AST) -> set[str]:
    """Top-level names a module imports when it runs (``if TYPE_CHECKING:`` blocks excluded)."""
    if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
        return set()
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return {node.module.split(".")[0]}
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        found |= _runtime_imports(child)
    return found


def test_keys_fetch_is_the_only_key_module_that_imports_httpx() -> None:
    """The cache policy (``keys/remote.py``) must stay importable without the HTTP client."""
    keys = Path(authbridge.__file__).parent / "keys"
    importers = {
        module.name
        for module in keys.glob("*.py")
        if "httpx" in _runtime_imports(ast.parse(module.read_text(encoding="utf-8")))
    }
    assert importers == {"fetch.py"}


async def test_the_documented_explicit_construction_verifies() -> None:
    """The module docstring's second example, with a static JWKS in place of the remote one."""
    from authbridge import ClaimRules, Principal, StaticJWKS, TrustedIssuer, Verifier

    key = ed25519_key("k1")
    rules = ClaimRules(issuer=ISSUER, audiences=frozenset({AUDIENCE}))
    verifier = Verifier(TrustedIssuer(StaticJWKS(jwks(key)), rules), clock=FixedClock())
    principal = await verifier.verify(key.sign(ba_claims()))
    assert isinstance(principal, Principal)
    assert principal.issuer == ISSUER
