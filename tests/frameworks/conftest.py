"""A Better Auth stand-in on loopback, named by ``BETTER_AUTH_URL``, as ``from_env`` reads it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from authbridge.testing import FakeIssuer


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
