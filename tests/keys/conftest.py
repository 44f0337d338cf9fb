"""Fixtures shared by the remote JWKS tests: an issuer key and a local JWKS server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jwks_server import IssuerKey, JWKSServer, ed25519_key, running_jwks_server


@pytest.fixture
def key_a() -> IssuerKey:
    return ed25519_key("kid-a")


@pytest.fixture
def server(key_a: IssuerKey) -> Iterator[JWKSServer]:
    with running_jwks_server([key_a]) as running:
        yield running
