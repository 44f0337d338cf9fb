"""The FastAPI layer against a real Better Auth server (Node): JWTs from ``/api/auth/token``,
keys from its JWKS endpoint, roles from its admin route, scopes from ``definePayload``."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from fastapi_sample_app import build_app

from authbridge.fastapi import AuthBridge
from authbridge.keys.remote import RemoteJWKS
from authbridge.verifier import TrustedIssuer, Verifier
from harness.better_auth import BetterAuthServer, ServerPool

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.interop


def client_for(server: BetterAuthServer) -> TestClient:
    verifier = Verifier(
        TrustedIssuer.create(
            RemoteJWKS(server.jwks_url), issuer=server.origin, audience=server.origin
        )
    )
    return TestClient(build_app(AuthBridge(verifier)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(better_auth: BetterAuthServer) -> Iterator[TestClient]:
    with client_for(better_auth) as client:  # runs the lifespan: JWKS prefetched
        yield client


def test_a_real_better_auth_jwt_opens_protected_routes(
    api: TestClient, better_auth: BetterAuthServer
) -> None:
    user = better_auth.sign_up()
    token = better_auth.get_jwt(user)
    response = api.get("/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"sub": user.id}
    assert response.headers["cache-control"] == "no-store"
    # The default payload has no scope claim, and the role is "user".
    assert api.get("/read", headers=bearer(token)).status_code == 403
    assert api.get("/admin", headers=bearer(token)).status_code == 403


def test_roles_set_by_better_auth_reach_require_roles(
    api: TestClient, better_auth: BetterAuthServer
) -> None:
    user = better_auth.sign_up()
    better_auth.admin_set_role(user.id, "admin")
    token = better_auth.get_jwt(better_auth.sign_in(user.email))
    assert api.get("/admin", headers=bearer(token)).json() == {"sub": user.id}


def test_better_auth_session_tokens_are_not_bearer_jwts(
    api: TestClient, better_auth: BetterAuthServer
) -> None:
    # The bearer plugin's signed session token is not a JWT: without a sessions hook it is
    # just an invalid token, with the same answer as any other.
    user = better_auth.sign_up()
    response = api.get("/me", headers=user.bearer)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_websocket_with_a_real_jwt(api: TestClient, better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    token = better_auth.get_jwt(user)
    with api.websocket_connect("/ws", subprotocols=["bearer", token]) as ws:
        assert ws.accepted_subprotocol == "bearer"
        assert ws.receive_json() == {"sub": user.id}


@pytest.fixture(scope="module")
def scoped_server(better_auth_module_factory: ServerPool) -> BetterAuthServer:
    return better_auth_module_factory(
        JWT_ALG="ES256", JWT_DEFINE_PAYLOAD=True, JWT_SCOPE="tasks:read"
    )


def test_scopes_from_define_payload(scoped_server: BetterAuthServer) -> None:
    user = scoped_server.sign_up()
    token = scoped_server.get_jwt(user)
    with client_for(scoped_server) as api:
        assert api.get("/read", headers=bearer(token)).json() == {"sub": user.id}
        assert api.get("/read-or-write", headers=bearer(token)).status_code == 200
        response = api.get("/read-write", headers=bearer(token))
        assert response.status_code == 403
        assert 'scope="tasks:read tasks:write"' in response.headers["www-authenticate"]
