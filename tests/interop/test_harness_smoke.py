"""The Better Auth harness works: real servers issue tokens that PyJWT verifies independently.

PyJWT, not authbridge, checks the tokens here, so a harness bug cannot hide behind a
verifier bug (and vice versa).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import unquote

import asyncpg
import httpx
import jwt
import pytest

from harness.better_auth import BAUser, BetterAuthServer, ServerPool

pytestmark = pytest.mark.interop

ALGORITHMS = ["EdDSA", "ES256", "ES512", "PS256", "RS256"]
JWK_SHAPE = {
    "EdDSA": {"kty": "OKP", "crv": "Ed25519"},
    "ES256": {"kty": "EC", "crv": "P-256"},
    "ES512": {"kty": "EC", "crv": "P-521"},
    "PS256": {"kty": "RSA"},
    "RS256": {"kty": "RSA"},
}


@pytest.fixture(scope="module", params=ALGORITHMS)
def server(request: pytest.FixtureRequest, better_auth_module_factory: ServerPool) -> Any:
    """One server per algorithm, with definePayload on so role/scope/sid are present."""
    return better_auth_module_factory(JWT_ALG=request.param, JWT_DEFINE_PAYLOAD=1)


def verify_with_pyjwt(token: str, server: BetterAuthServer) -> dict[str, Any]:
    header = jwt.get_unverified_header(token)
    keys = {key["kid"]: key for key in server.jwks()["keys"]}
    key = jwt.PyJWK(keys[header["kid"]])
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=[header["alg"]],
        issuer=server.origin,
        audience=server.origin,
        options={"require": ["exp", "iat", "sub", "iss", "aud"]},
    )
    return claims


def test_sign_up_returns_every_credential_form(better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    assert len(user.session_token) == 32
    assert user.session_token.isalnum()
    token, signature = user.signed_token.rsplit(".", 1)
    assert token == user.session_token
    assert len(signature) == 44
    assert signature.endswith("=")
    assert user.cookie_name == "better-auth.session_token"
    assert unquote(user.cookie_value) == user.signed_token
    assert user.user["role"] == "user"


def test_token_jwt_verifies_with_pyjwt(server: BetterAuthServer) -> None:
    alg = server.env["JWT_ALG"]
    user = server.sign_up(name="Smoke Alg")
    token = server.get_jwt(user)

    header = jwt.get_unverified_header(token)
    assert set(header) == {"alg", "kid"}
    assert header["alg"] == alg

    jwks = server.jwks()
    (key,) = [key for key in jwks["keys"] if key["kid"] == header["kid"]]
    assert key["alg"] == alg
    assert {k: key[k] for k in JWK_SHAPE[alg]} == JWK_SHAPE[alg]

    claims = verify_with_pyjwt(token, server)
    assert claims["sub"] == user.id
    assert claims["iss"] == claims["aud"] == server.origin
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_define_payload_carries_role_scope_sid(server: BetterAuthServer) -> None:
    user = server.sign_up(name="Payload User")
    server.admin_set_role(user.id, "admin")
    claims = verify_with_pyjwt(server.get_jwt(user), server)
    session, _ = server.get_session(user)
    assert session is not None
    assert claims["role"] == "admin"
    assert claims["scope"] == "tasks:read tasks:write"
    assert claims["sid"] == session["session"]["id"]
    assert set(claims) == {"id", "email", "name", "role", "scope", "sid"} | {
        "iat",
        "exp",
        "sub",
        "iss",
        "aud",
    }


def test_set_auth_jwt_header_verifies(server: BetterAuthServer) -> None:
    user = server.sign_up()
    body, header_jwt = server.get_session(user)
    assert body is not None
    assert body["user"]["id"] == user.id
    assert header_jwt is not None
    claims = verify_with_pyjwt(header_jwt, server)
    assert claims["sub"] == user.id


def test_default_payload_is_the_user_object(better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up(name="Default Payload")
    claims = verify_with_pyjwt(better_auth.get_jwt(user), better_auth)
    assert jwt.get_unverified_header(better_auth.get_jwt(user))["alg"] == "EdDSA"
    assert claims["id"] == claims["sub"] == user.id
    assert claims["email"] == user.email
    assert claims["name"] == "Default Payload"
    assert claims["emailVerified"] is False
    assert claims["role"] == "user"


def test_cookie_and_sign_in_and_sign_out(better_auth: BetterAuthServer) -> None:
    first = better_auth.sign_up()
    second = better_auth.sign_in(first.email, first.password)
    assert second.id == first.id
    assert second.session_token != first.session_token

    by_cookie = better_auth.token_response({"Cookie": f"{first.cookie_name}={first.cookie_value}"})
    assert by_cookie.status_code == 200

    better_auth.sign_out(second)
    assert better_auth.token_response(second.bearer).status_code == 401
    assert better_auth.token_response(first.bearer).status_code == 200


def test_admin_routes_change_server_state(better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    better_auth.admin_expire_session(user.session_token)
    assert better_auth.token_response(user.bearer).status_code == 401

    other = better_auth.sign_up()
    again = better_auth.sign_in(other.email, other.password)
    better_auth.admin_revoke_user_sessions(other.id)
    assert better_auth.token_response(other.bearer).status_code == 401
    assert better_auth.token_response(again.bearer).status_code == 401


def test_admin_route_is_off_unless_enabled(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(HARNESS_ADMIN=0)
    response = server.client.post("/__admin/set-role", json={"userId": "x", "role": "admin"})
    assert response.status_code == 404


def test_custom_issuer_audience_secure_cookie_prefix(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(
        JWT_ISSUER="https://issuer.example",
        JWT_AUDIENCE="api-a,api-b",
        JWT_EXPIRATION="1h",
        COOKIE_PREFIX="myapp",
        USE_SECURE_COOKIES=1,
    )
    user = server.sign_up()
    assert user.cookie_name == "__Secure-myapp.session_token"
    token = server.get_jwt(user)
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in server.jwks()["keys"] if k["kid"] == kid]
    claims = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["EdDSA"],
        issuer="https://issuer.example",
        audience="api-b",
    )
    assert claims["aud"] == ["api-a", "api-b"]
    assert claims["exp"] - claims["iat"] == 3600


def test_server_stops_and_frees_its_port(better_auth_install: object) -> None:
    server = BetterAuthServer().start()
    url = server.url
    user: BAUser = server.sign_up()
    assert user.id
    server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/auth/ok", timeout=2.0)


@pytest.mark.postgres
def test_postgres_backed_server(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")
    user = server.sign_up()
    claims = verify_with_pyjwt(server.get_jwt(user), server)
    assert claims["sub"] == user.id
    schema = server.env["DB_SCHEMA"]
    server.stop()
    # The server dropped its own schema on the way out.
    deadline = time.monotonic() + 5

    async def schema_exists() -> bool:
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            found = await conn.fetchval(
                "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema
            )
        finally:
            await conn.close()
        return bool(found)

    while asyncio.run(schema_exists()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not asyncio.run(schema_exists())


def cookie_signature(secret: str, token: str) -> str:
    return base64.b64encode(
        hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    ).decode()


def test_signed_token_is_hmac_of_the_current_secret(better_auth_factory: ServerPool) -> None:
    new, old = secrets.token_urlsafe(40), secrets.token_urlsafe(40)
    server = better_auth_factory(BETTER_AUTH_SECRETS=f"2:{new},1:{old}")
    assert server.secret == new
    user = server.sign_up()
    assert user.signed_token == f"{user.session_token}.{cookie_signature(new, user.session_token)}"


def test_default_secret_signs_the_cookie(better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    expected = cookie_signature(better_auth.secret, user.session_token)
    assert user.signed_token.rsplit(".", 1)[1] == expected


def test_bearer_require_signature(
    better_auth: BetterAuthServer, better_auth_factory: ServerPool
) -> None:
    lenient_user = better_auth.sign_up()
    raw = {"Authorization": f"Bearer {lenient_user.session_token}"}
    assert better_auth.token_response(raw).status_code == 200

    strict = better_auth_factory(BEARER_REQUIRE_SIGNATURE=1)
    user = strict.sign_up()
    assert (
        strict.token_response({"Authorization": f"Bearer {user.session_token}"}).status_code == 401
    )
    assert strict.token_response(user.bearer).status_code == 200


def test_session_expiry_and_trusted_origins(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(SESSION_EXPIRES_IN=120, TRUSTED_ORIGINS="http://app.example")
    user = server.sign_up()
    (session_cookie,) = [c for c in user.set_cookie if c.startswith(user.cookie_name + "=")]
    assert "Max-Age=120" in session_cookie
    body = {
        "email": f"o-{secrets.token_hex(6)}@example.com",
        "password": "pw-0123456789ab",
        "name": "O",
    }
    trusted = server.client.post(
        "/api/auth/sign-up/email", json=body, headers={"Origin": "http://app.example"}
    )
    assert trusted.status_code == 200
    body["email"] = f"e-{secrets.token_hex(6)}@example.com"
    evil = server.client.post(
        "/api/auth/sign-up/email", json=body, headers={"Origin": "http://evil.example"}
    )
    assert evil.status_code == 403


@pytest.mark.parametrize(
    ("strategy", "prefix"), [("compact", "ey"), ("jwt", "eyJhbGciOiJIUzI1NiJ9."), ("jwe", "eyJ")]
)
def test_cookie_cache_strategies(
    better_auth_factory: ServerPool, strategy: str, prefix: str
) -> None:
    server = better_auth_factory(COOKIE_CACHE_STRATEGY=strategy, COOKIE_CACHE_MAX_AGE=60)
    user = server.sign_up()
    value = user.cookies["better-auth.session_data"]
    assert value.startswith(prefix)
    assert value.count(".") == {"compact": 0, "jwt": 2, "jwe": 4}[strategy]
    (cookie,) = [c for c in user.set_cookie if c.startswith("better-auth.session_data=")]
    assert "Max-Age=60" in cookie
