"""Fixtures for the FastAPI layer: a real ``Verifier`` over a ``FakeIssuer``'s keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi_sample_app import build_app

from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer


@pytest.fixture
def issuer() -> FakeIssuer:
    return FakeIssuer()


@pytest.fixture
def bridge(issuer: FakeIssuer) -> AuthBridge:
    return AuthBridge(issuer.verifier())


@pytest.fixture
def app(bridge: AuthBridge) -> FastAPI:
    return build_app(bridge)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
