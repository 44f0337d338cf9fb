"""The package facade: what ``from authbridge import ...`` offers, and what it costs."""

from __future__ import annotations

import inspect
import subprocess
import sys

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


async def test_the_documented_explicit_construction_verifies() -> None:
    """The module docstring's second example, with a static JWKS in place of the remote one."""
    from authbridge import ClaimRules, Principal, StaticJWKS, TrustedIssuer, Verifier

    key = ed25519_key("k1")
    rules = ClaimRules(issuer=ISSUER, audiences=frozenset({AUDIENCE}))
    verifier = Verifier(TrustedIssuer(StaticJWKS(jwks(key)), rules), clock=FixedClock())
    principal = await verifier.verify(key.sign(ba_claims()))
    assert isinstance(principal, Principal)
    assert principal.issuer == ISSUER
