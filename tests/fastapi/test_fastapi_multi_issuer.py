"""Several trusted paths in one app: Better Auth JWKS tokens beside HS256 service tokens (V11)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi_sample_app import build_app

from authbridge.fastapi import AuthBridge
from authbridge.jose.b64 import b64url_encode
from authbridge.jose.sign import sign_compact
from authbridge.testing import FakeIssuer
from authbridge.verifier import TrustedIssuer, Verifier

SERVICE_ISSUER = "https://service.internal"
SERVICE_AUDIENCE = "tasks-api"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def partner() -> FakeIssuer:
    """A second Better Auth deployment, also trusted, with its own keys."""
    return FakeIssuer("https://partner.example.test", alg="ES256")


@pytest.fixture
async def multi_client(issuer: FakeIssuer, partner: FakeIssuer) -> AsyncIterator[httpx.AsyncClient]:
    verifier = Verifier(
        issuer.trusted_issuer(),
        partner.trusted_issuer(),
        TrustedIssuer.create(
            issuer.shared_secret(),
            issuer=SERVICE_ISSUER,
            audience=SERVICE_AUDIENCE,
            name="service",
        ),
    )
    app = build_app(AuthBridge(verifier))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def service_token(issuer: FakeIssuer, **claims: Any) -> str:
    return issuer.token(
        alg="HS256", iss=SERVICE_ISSUER, aud=SERVICE_AUDIENCE, sub="svc-reporting", **claims
    )


async def test_each_path_accepts_its_own_tokens(
    multi_client: httpx.AsyncClient, issuer: FakeIssuer, partner: FakeIssuer
) -> None:
    response = await multi_client.get("/me", headers=bearer(issuer.token()))
    assert response.json() == {"sub": issuer.user["id"]}
    response = await multi_client.get("/me", headers=bearer(partner.token()))
    assert response.json() == {"sub": partner.user["id"]}
    response = await multi_client.get("/me", headers=bearer(service_token(issuer)))
    assert response.json() == {"sub": "svc-reporting"}


async def test_service_tokens_carry_their_scopes(
    multi_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = service_token(issuer, scope="tasks:read")
    assert (await multi_client.get("/read", headers=bearer(token))).status_code == 200
    token = service_token(issuer, scope="tasks:write")
    assert (await multi_client.get("/read", headers=bearer(token))).status_code == 403


async def test_hs256_with_the_better_auth_iss_and_aud_is_refused(
    multi_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    # Signed with the right secret, but claiming to be the JWKS issuer: wrong path rules.
    token = issuer.token(alg="HS256")
    assert (await multi_client.get("/me", headers=bearer(token))).status_code == 401


def _public_key_materials(issuer: FakeIssuer) -> list[bytes]:
    key = issuer.signing_key()
    public = key.private.public_key()
    return [
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        json.dumps(key.public_jwk).encode(),
        json.dumps(issuer.jwks()).encode(),
    ]


async def test_hs256_signed_with_a_jwks_public_key_is_refused(
    multi_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    kid = issuer.signing_key().kid
    for material in _public_key_materials(issuer):
        for claims in (issuer.claims(), issuer.claims(iss=SERVICE_ISSUER, aud=SERVICE_AUDIENCE)):
            for header_kid in (None, kid):
                token = sign_compact(claims, material, "HS256", kid=header_kid)
                response = await multi_client.get("/me", headers=bearer(token))
                assert response.status_code == 401
                assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_jwks_algorithms_signed_with_the_shared_secret_are_refused(
    multi_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    # Header says EdDSA with the JWKS kid; the "signature" is an HMAC made with the secret.
    kid = issuer.signing_key().kid
    for alg in ("EdDSA", "ES256", "RS256"):
        header = b64url_encode(json.dumps({"alg": alg, "kid": kid}).encode())
        payload = b64url_encode(json.dumps(issuer.claims()).encode())
        hs = sign_compact(issuer.claims(), issuer.secret.encode(), "HS256")
        token = f"{header}.{payload}.{hs.rsplit('.', 1)[1]}"
        assert (await multi_client.get("/me", headers=bearer(token))).status_code == 401


async def test_a_token_claiming_another_trusted_issuer_is_refused(
    multi_client: httpx.AsyncClient, issuer: FakeIssuer, partner: FakeIssuer
) -> None:
    # The partner's key signs a token that claims to come from the first issuer.
    forged = partner.token(iss=issuer.base_url, aud=issuer.base_url)
    assert (await multi_client.get("/me", headers=bearer(forged))).status_code == 401
    # Same algorithm family, other issuer's key: routed by iss, never tried with other keys.
    ed_partner = FakeIssuer("https://partner.example.test")
    forged = ed_partner.token()
    assert (await multi_client.get("/me", headers=bearer(forged))).status_code == 401


async def test_expired_service_token_is_refused(
    multi_client: httpx.AsyncClient, issuer: FakeIssuer
) -> None:
    token = service_token(issuer, now=time.time() - 3000)
    assert (await multi_client.get("/me", headers=bearer(token))).status_code == 401
