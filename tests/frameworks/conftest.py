"""Issuers for the framework layers: a FakeIssuer on loopback (``online_issuer``) and real
Better Auth servers (``real_issuers``) for the example apps, each named by
``BETTER_AUTH_URL`` as ``Verifier.from_env`` reads it."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from authbridge.testing import FakeIssuer
from harness.better_auth import BAUser, BetterAuthServer, ServerPool

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def online_issuer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeIssuer]:
    monkeypatch.chdir(tmp_path)  # no .env of the repository
    for name in list(os.environ):
        if name.startswith(("AUTHBRIDGE_", "BETTER_AUTH_")):
            monkeypatch.delenv(name)
    issuer = FakeIssuer(base_url=None)
    with issuer.serving():
        monkeypatch.setenv("BETTER_AUTH_URL", issuer.base_url)
        yield issuer


# --- real Better Auth tokens for the example apps (examples/<framework>/) --------------------


@dataclass(frozen=True)
class RealIssuers:
    """Two real Better Auth servers: ``main`` signs tokens with ``tasks:read`` (and not
    ``tasks:write``); ``short`` signs 1-second tokens, and ``expired`` is one of them, past
    its ``exp``. Each example app trusts one of them through ``BETTER_AUTH_URL``."""

    main: BetterAuthServer
    short: BetterAuthServer
    user: BAUser
    expired: str

    def token(self) -> str:
        return self.main.get_jwt(self.user)

    def forged(self) -> str:
        """A real token whose payload claims more (``tasks:write``) under its real signature."""
        header, payload, signature = self.token().split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["scope"] = "tasks:read tasks:write"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"{header}.{forged}.{signature}"


@pytest.fixture(scope="session")
def real_issuers(better_auth_install: Path) -> Iterator[RealIssuers]:
    pool = ServerPool()
    try:
        main = pool(JWT_DEFINE_PAYLOAD=1, JWT_SCOPE="tasks:read")
        short = pool(JWT_EXPIRATION="1s")
        expired = short.get_jwt(short.sign_up())
        user = main.sign_up(name="Frameworks Example")
        time.sleep(2.1)  # the short token's exp passes (the app's leeway is 0)
        yield RealIssuers(main, short, user, expired)
    finally:
        pool.close()


def trust(monkeypatch: pytest.MonkeyPatch, server: BetterAuthServer) -> None:
    """Point ``Verifier.from_env()`` at ``server``, with no leeway and nothing else set."""
    for name in list(os.environ):
        if name.startswith(("AUTHBRIDGE_", "BETTER_AUTH_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BETTER_AUTH_URL", server.base_url)
    monkeypatch.setenv("AUTHBRIDGE_LEEWAY_SECONDS", "0")


def load_example(framework: str) -> ModuleType:
    """``examples/<framework>/app.py``, imported under a name of its own."""
    path = EXAMPLES / framework / "app.py"
    spec = importlib.util.spec_from_file_location(f"example_{framework}_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # frameworks resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module
