"""Shared fixtures: real Better Auth servers (Node) for the interop and conformance tests, and
an environment with no outside settings.

A missing Node or npm makes these fixtures raise, so the tests that need them fail loudly;
they are never skipped.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from authbridge.jose.algorithms import ED25519_BACKENDS, use_ed25519_backend
from harness.better_auth import BetterAuthServer, ServerPool, ensure_installed

pytest_plugins = ["security.log_guard"]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Run a slow first ``npm ci`` here, outside any one test's timeout, if a test needs it."""
    if any("better_auth_install" in getattr(item, "fixturenames", ()) for item in session.items):
        # On failure the fixture calls it again, and the tests that need it fail with the error.
        with contextlib.suppress(Exception):
            ensure_installed()


@pytest.fixture(scope="session")
def better_auth_install() -> Path:
    """``npm ci`` once per cache key; returns ``interop/better-auth``."""
    return ensure_installed()


@pytest.fixture(scope="session")
def better_auth(better_auth_install: Path) -> Iterator[BetterAuthServer]:
    """One shared default server: EdDSA, SQLite, HARNESS_ADMIN=1, random 64-char secret.

    Shared by the whole session: create your own users, and use ``better_auth_factory``
    for anything that changes server-wide state or needs another configuration.
    """
    with BetterAuthServer().start() as server:
        yield server


@pytest.fixture
def better_auth_factory(better_auth_install: Path) -> Iterator[ServerPool]:
    """``better_auth_factory(JWT_ALG="ES256", ...)`` starts a server; all stop at teardown."""
    pool = ServerPool()
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def better_auth_module_factory(better_auth_install: Path) -> Iterator[ServerPool]:
    """Like ``better_auth_factory`` but the servers live for the whole test module."""
    pool = ServerPool()
    yield pool
    pool.close()


@pytest.fixture
def no_outside_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the variables a test sets count: none from the caller, no ``.env`` in the cwd."""
    for name in list(os.environ):
        if name.startswith(("AUTHBRIDGE_", "BETTER_AUTH")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=ED25519_BACKENDS)
def ed25519_impl(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each Ed25519 implementation in turn (libsodium, OpenSSL); the default again after.

    PyNaCl is a development dependency (the ``nacl`` extra is in ``all``), so both always run.
    """
    name = use_ed25519_backend(request.param)
    yield name
    use_ed25519_backend()
