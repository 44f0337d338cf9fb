"""Issuers for the framework layers: a FakeIssuer on loopback (``online_issuer``) and real
Better Auth servers (``real_issuers``) for the example apps, each named by
``BETTER_AUTH_URL`` as ``Verifier.from_env`` reads it."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from authbridge import TrustedIssuer, Verifier
from authbridge.keys.remote import RemoteJWKS
from authbridge.testing import FakeIssuer
from harness.better_auth import BAUser, BetterAuthServer, ServerPool

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@contextmanager
def keys_outage() -> Iterator[tuple[FakeIssuer, Verifier]]:
    """An issuer whose JWKS answers 503, and a verifier of its tokens (``keys_unavailable``)."""
    issuer = FakeIssuer(base_url=None)
    with issuer.serving() as jwks_url:
        assert issuer.server is not None
        issuer.server.status = 503
        jwks = RemoteJWKS(jwks_url, timeout=2.0)
        yield (
            issuer,
            Verifier(TrustedIssuer.create(jwks, issuer=issuer.base_url, audience=issuer.base_url)),
        )


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


def bearer(token: str) -> dict[str, str]:
    """An Authorization header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


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


# --- the WSGI examples under a real threaded server -------------------------------------------


def issuer_environment(base_url: str) -> dict[str, str]:
    """This process's environment without authbridge settings, trusting ``base_url`` with no
    leeway: what ``trust`` sets, for a server in another process."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AUTHBRIDGE_", "BETTER_AUTH_"))
    }
    env.update(BETTER_AUTH_URL=base_url, AUTHBRIDGE_LEEWAY_SECONDS="0")
    return env


@contextmanager
def gunicorn(framework: str, app: str, base_url: str, threads: int = 8) -> Iterator[str]:
    """``examples/<framework>`` served by ``gunicorn --threads`` (one worker: one verifier
    shared by its threads) in a process of its own, trusting ``base_url``; yields its URL."""
    with socket.socket() as probe:  # a free port; gunicorn binds it at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable, "-m", "gunicorn", "--chdir", str(EXAMPLES / framework),
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", str(threads),
        "--log-level", "warning", app,
    ]  # fmt: skip
    process = subprocess.Popen(command, env=issuer_environment(base_url))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not serve examples/{framework}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
