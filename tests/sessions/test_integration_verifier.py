"""``Verifier.from_settings`` in database session mode, against a real Better Auth server.

JWTs from ``/api/auth/token`` and session tokens reach the same ``verify``; the session
table Better Auth writes (SQLite file or PostgreSQL schema) decides whether a session is
live. With ``AUTHBRIDGE_JWT_SESSION_CHECK`` a JWT carrying ``sid`` dies with its session.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sessions_builders import new_token, sign

from authbridge.config import Settings, load_settings
from authbridge.errors import ConfigError, SessionInvalid, TokenRevoked
from authbridge.fastapi import AuthBridge, CurrentUser
from authbridge.verifier import Verifier
from harness.better_auth import BetterAuthServer, ServerPool

pytestmark = [pytest.mark.interop, pytest.mark.usefixtures("no_outside_settings")]

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def database_settings(server: BetterAuthServer, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "BETTER_AUTH_URL": server.base_url,
        "BETTER_AUTH_SECRET": server.secret,
        "AUTHBRIDGE_JWKS_URL": server.jwks_url,
        "AUTHBRIDGE_SESSION_MODE": "database",
        "AUTHBRIDGE_SESSION_DATABASE_URL": server.env.get("DATABASE_URL") or server.env["DB_PATH"],
    }
    if server.env.get("DB_SCHEMA"):
        values["AUTHBRIDGE_SESSION_TABLES"] = json.dumps({"schema": server.env["DB_SCHEMA"]})
    values.update(extra)
    return load_settings(env_file=None, **values)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, better_auth_module_factory: ServerPool
) -> BetterAuthServer:
    env: dict[str, str | int] = {"JWT_DEFINE_PAYLOAD": 1, "HARNESS_ADMIN": 1}
    if request.param == "postgres":
        env["DATABASE_URL"] = PG_URL
    return better_auth_module_factory(**env)


@pytest.fixture
async def verifier(server: BetterAuthServer) -> AsyncIterator[Verifier]:
    settings = database_settings(server, AUTHBRIDGE_JWT_SESSION_CHECK="true")
    async with Verifier.from_settings(settings) as opened:
        yield opened


async def test_jwts_and_session_tokens_side_by_side(
    server: BetterAuthServer, verifier: Verifier
) -> None:
    user = server.sign_up(name="Side By Side")
    server.admin_set_role(user.id, "admin")
    from_jwt = await verifier.verify(server.get_jwt(user))
    from_session = await verifier.verify(user.signed_token)
    from_encoded = await verifier.verify(user.cookie_value)
    assert from_jwt.credential == "jwt"
    assert from_session.credential == from_encoded.credential == "session"
    assert from_jwt.sub == from_session.sub == from_encoded.sub == user.id
    assert from_jwt.session_id == from_session.session_id == from_encoded.session_id
    assert from_jwt.issuer == from_session.issuer == server.origin
    assert from_jwt.roles == from_session.roles == {"admin"}


async def test_sign_out_ends_the_session_token_and_the_sid_jwt(
    server: BetterAuthServer, verifier: Verifier
) -> None:
    user, other = server.sign_up(), server.sign_up()
    jwt, other_jwt = server.get_jwt(user), server.get_jwt(other)
    assert (await verifier.verify(jwt)).sub == user.id
    assert verifier.verify_cached(jwt) is None  # the session check needs the full path
    server.sign_out(user)
    with pytest.raises(SessionInvalid):
        await verifier.verify(user.signed_token)
    with pytest.raises(TokenRevoked):
        await verifier.verify(jwt)
    assert (await verifier.verify(other_jwt)).sub == other.id
    assert (await verifier.verify(other.signed_token)).sub == other.id


async def test_revoking_all_of_a_users_sessions(
    server: BetterAuthServer, verifier: Verifier
) -> None:
    first = server.sign_up()
    second = server.sign_in(first.email)
    jwts = [server.get_jwt(first), server.get_jwt(second)]
    server.admin_revoke_user_sessions(first.id)
    for credential in (first.signed_token, second.signed_token):
        with pytest.raises(SessionInvalid):
            await verifier.verify(credential)
    for jwt in jwts:
        with pytest.raises(TokenRevoked):
            await verifier.verify(jwt)


async def test_jwt_without_sid_is_not_checked(better_auth_factory: ServerPool) -> None:
    """Better Auth's default JWT payload has no ``sid``: the check cannot apply, and the token
    lives until ``exp`` (define ``sid`` in the JWT plugin's definePayload to use the check)."""
    server = better_auth_factory()
    user = server.sign_up()
    jwt = server.get_jwt(user)
    settings = database_settings(server, AUTHBRIDGE_JWT_SESSION_CHECK="true")
    async with Verifier.from_settings(settings) as verifier:
        principal = await verifier.verify(jwt)
        assert principal.session_id is None
        server.sign_out(user)
        assert (await verifier.verify(jwt)).sub == user.id


def test_jwt_session_check_needs_the_database_mode(better_auth: BetterAuthServer) -> None:
    remote = database_settings(
        better_auth, AUTHBRIDGE_SESSION_MODE="remote", AUTHBRIDGE_JWT_SESSION_CHECK="true"
    )
    with pytest.raises(ConfigError) as caught:
        Verifier.from_settings(remote)
    assert caught.value.variable == "AUTHBRIDGE_JWT_SESSION_CHECK"
    off = database_settings(
        better_auth, AUTHBRIDGE_SESSION_MODE="off", AUTHBRIDGE_JWT_SESSION_CHECK="true"
    )
    with pytest.raises(ConfigError) as caught:
        Verifier.from_settings(off)
    assert caught.value.variable == "AUTHBRIDGE_SESSION_MODE"


async def test_secure_cookie_with_custom_prefix_over_http(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(USE_SECURE_COOKIES=1, COOKIE_PREFIX="myapp")
    user = server.sign_up()
    assert user.cookie_name == "__Secure-myapp.session_token"
    settings = database_settings(
        server, AUTHBRIDGE_SESSION_COOKIE="on", AUTHBRIDGE_SESSION_COOKIE_PREFIX="myapp"
    )
    app = FastAPI()
    AuthBridge.from_settings(settings).install(app)

    @app.post("/whoami")
    async def whoami(user: CurrentUser) -> str:
        return user.sub

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as client:
            headers = {"Cookie": user.cookie_header, "Origin": server.origin}
            response = await client.post("/whoami", headers=headers)
            assert response.status_code == 200, response.text
            assert response.json() == user.id
            server.sign_out(user)
            assert (await client.post("/whoami", headers=headers)).status_code == 401


async def test_starts_before_better_auth_has_made_its_tables(
    better_auth_factory: ServerPool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``make run`` starts the API and Better Auth together: an empty session database at
    startup is a warning, then 503s, and sessions work once Better Auth has migrated."""
    import secrets

    from authbridge.errors import SessionStoreUnavailable

    db_path = tmp_path / "later.db"
    secret = secrets.token_urlsafe(32)
    settings = load_settings(
        env_file=None,
        BETTER_AUTH_URL="http://127.0.0.1:9",
        BETTER_AUTH_SECRET=secret,
        AUTHBRIDGE_SESSION_MODE="database",
        AUTHBRIDGE_SESSION_DATABASE_URL=str(db_path),
    )
    with caplog.at_level("WARNING", logger="authbridge.sessions"):
        async with Verifier.from_settings(settings) as verifier:
            assert "session store check failed" in caplog.text
            with pytest.raises(SessionStoreUnavailable):
                await verifier.verify(sign(new_token(), secret))  # signed, so looked up
            server = better_auth_factory(BETTER_AUTH_SECRET=secret, DB_PATH=str(db_path))
            user = server.sign_up()
            assert (await verifier.verify(user.signed_token)).sub == user.id
