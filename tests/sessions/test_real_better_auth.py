"""Session credentials from a real Better Auth 1.7 server (Node), through SessionVerifier.

Every credential here was minted by Better Auth itself: the signed bearer token
(``set-auth-token``), the raw token from the JSON body, the session cookie and the
``session_data`` cookie cache. Where it matters the test also asks Better Auth's own
``get-session`` the same question, so authbridge is checked to agree with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sessions_builders import new_secret

from authbridge.errors import InvalidSignature, SessionEndpointUnavailable, SessionInvalid
from authbridge.sessions.config import SessionConfig, SessionTables, resolve_secrets
from authbridge.sessions.cookie_cache import decode_cookie_cache
from authbridge.sessions.cookies import find_session_data_cookie
from authbridge.sessions.verifier import SessionVerifier
from harness.better_auth import BetterAuthServer, ServerPool

pytestmark = pytest.mark.interop

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _secrets(server: BetterAuthServer) -> tuple[tuple[tuple[int, str], ...], str | None]:
    return resolve_secrets(
        secrets_env=server.env.get("BETTER_AUTH_SECRETS"),
        secret_env=server.env.get("BETTER_AUTH_SECRET"),
    )


def db_config(server: BetterAuthServer, **overrides: Any) -> SessionConfig:
    secrets, legacy = _secrets(server)
    settings: dict[str, Any] = {
        "mode": "database",
        "database_url": server.env.get("DATABASE_URL") or server.env["DB_PATH"],
        "tables": SessionTables(schema=server.env.get("DB_SCHEMA")),
        "secrets": secrets,
        "legacy_secret": legacy,
        "base_url": server.base_url,
        "cookies_enabled": True,
        "cookie_prefix": server.env.get("COOKIE_PREFIX", "better-auth"),
    }
    settings.update(overrides)
    return SessionConfig(**settings)


def remote_config(server: BetterAuthServer, **overrides: Any) -> SessionConfig:
    settings: dict[str, Any] = {
        "mode": "remote",
        "base_url": server.url,
        "secrets": _secrets(server)[0],
        "cookies_enabled": True,
    }
    settings.update(overrides)
    return SessionConfig(**settings)


def ba_session(server: BetterAuthServer, headers: dict[str, str]) -> Any:
    """Better Auth's own answer: the get-session body (None when it sees no session)."""
    response = server.client.get("/api/auth/get-session", headers=headers)
    return response.json() if response.status_code == 200 else None


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, better_auth_module_factory: ServerPool
) -> BetterAuthServer:
    """One default server per database (bearer plugin, requireSignature off)."""
    if request.param == "postgres":
        return better_auth_module_factory(DATABASE_URL=PG_URL)
    return better_auth_module_factory()


@pytest.fixture
async def verifiers() -> AsyncIterator[list[SessionVerifier]]:
    opened: list[SessionVerifier] = []
    yield opened
    for verifier in opened:
        await verifier.aclose()


async def _open(opened: list[SessionVerifier], config: SessionConfig) -> SessionVerifier:
    verifier = SessionVerifier(config)
    await verifier.start()
    opened.append(verifier)
    return verifier


# ---- bearer ------------------------------------------------------------------------------


async def test_signed_bearer_token_verifies(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    user = server.sign_up(name="Alice Bearer")
    server.admin_set_role(user.id, "admin,editor")
    verifier = await _open(verifiers, db_config(server))
    principal = await verifier.verify(user.signed_token)
    assert principal.sub == user.id
    assert principal.email == user.email
    assert principal.name == "Alice Bearer"
    assert principal.email_verified is False
    assert principal.roles == {"admin", "editor"}
    assert principal.credential == "session"
    assert principal.issuer == server.origin
    body = ba_session(server, user.bearer)
    assert principal.session_id == body["session"]["id"]
    assert principal.expires_at is not None
    assert (
        principal.expires_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        == body["session"]["expiresAt"]
    )


async def test_url_encoded_cookie_value_works_as_bearer(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    user = server.sign_up()
    assert "%" in user.cookie_value
    verifier = await _open(verifiers, db_config(server))
    assert (await verifier.verify(user.cookie_value)).sub == user.id


async def test_raw_token_follows_require_signature(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    user = server.sign_up()
    # Better Auth's bearer plugin with requireSignature off signs a raw token itself.
    assert ba_session(server, {"Authorization": f"Bearer {user.session_token}"}) is not None
    lenient = await _open(verifiers, db_config(server, allow_unsigned=True))
    assert (await lenient.verify(user.session_token)).sub == user.id
    strict = await _open(verifiers, db_config(server))
    with pytest.raises(SessionInvalid):
        await strict.verify(user.session_token)


async def test_require_signature_server_agrees_with_strict_default(
    better_auth_factory: ServerPool, verifiers: list[SessionVerifier]
) -> None:
    server = better_auth_factory(BEARER_REQUIRE_SIGNATURE=1)
    user = server.sign_up()
    assert ba_session(server, {"Authorization": f"Bearer {user.session_token}"}) is None
    assert ba_session(server, user.bearer) is not None
    verifier = await _open(verifiers, db_config(server))
    with pytest.raises(SessionInvalid):
        await verifier.verify(user.session_token)
    assert (await verifier.verify(user.signed_token)).sub == user.id


async def test_tampered_signature_and_wrong_secret_are_rejected(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    user = server.sign_up()
    token, _, signature = user.signed_token.rpartition(".")
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    tampered = f"{token}.{flipped}"
    assert ba_session(server, {"Authorization": f"Bearer {tampered}"}) is None
    verifier = await _open(verifiers, db_config(server))
    with pytest.raises(InvalidSignature):
        await verifier.verify(tampered)
    wrong = await _open(verifiers, db_config(server, secrets=((0, new_secret()),)))
    with pytest.raises(InvalidSignature):
        await wrong.verify(user.signed_token)


# ---- session lifecycle ------------------------------------------------------------------------


async def test_sign_out_is_rejected_at_once_in_database_mode(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    user = server.sign_up()
    verifier = await _open(verifiers, db_config(server))
    principal = await verifier.verify(user.signed_token)
    assert principal.session_id is not None
    assert await verifier.session_exists(principal.session_id)
    server.sign_out(user)
    with pytest.raises(SessionInvalid):
        await verifier.verify(user.signed_token)
    assert not await verifier.session_exists(principal.session_id)


async def test_expired_session_is_rejected(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    user = server.sign_up()
    database = await _open(verifiers, db_config(server))
    remote = await _open(verifiers, remote_config(server, cache_ttl=0))
    assert (await database.verify(user.signed_token)).sub == user.id
    assert (await remote.verify(user.signed_token)).sub == user.id
    server.admin_expire_session(user.session_token)
    with pytest.raises(SessionInvalid):
        await database.verify(user.signed_token)
    with pytest.raises(SessionInvalid):
        await remote.verify(user.signed_token)


async def test_other_sessions_of_the_user_survive_one_sign_out(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    first = server.sign_up()
    second = server.sign_in(first.email)
    verifier = await _open(verifiers, db_config(server))
    server.sign_out(first)
    with pytest.raises(SessionInvalid):
        await verifier.verify(first.signed_token)
    assert (await verifier.verify(second.signed_token)).sub == first.id


# ---- cookies --------------------------------------------------------------------------------


async def test_session_cookie_verifies_with_csrf(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    user = server.sign_up()
    assert user.cookie_name == "better-auth.session_token"
    verifier = await _open(verifiers, db_config(server, trusted_origins=("http://localhost:5173",)))
    principal = await verifier.verify_cookies(user.cookies, method="GET", headers={})
    assert principal is not None
    assert principal.sub == user.id
    posted = await verifier.verify_cookies(
        user.cookies, method="POST", headers={"origin": "http://localhost:5173"}
    )
    assert posted is not None
    with pytest.raises(Exception) as caught:
        await verifier.verify_cookies(
            user.cookies, method="POST", headers={"origin": "http://evil.example"}
        )
    assert getattr(caught.value, "status", None) == 403


async def test_secure_prefixed_cookie_with_custom_prefix(
    better_auth_factory: ServerPool, verifiers: list[SessionVerifier]
) -> None:
    server = better_auth_factory(USE_SECURE_COOKIES=1, COOKIE_PREFIX="myapp")
    user = server.sign_up()
    assert user.cookie_name == "__Secure-myapp.session_token"
    verifier = await _open(verifiers, db_config(server))
    principal = await verifier.verify_cookies(user.cookies, method="GET", headers={})
    assert principal is not None
    assert principal.sub == user.id
    default_prefix = await _open(verifiers, db_config(server, cookie_prefix="better-auth"))
    assert await default_prefix.verify_cookies(user.cookies, method="GET", headers={}) is None


# ---- versioned secrets -----------------------------------------------------------------------


async def test_versioned_secret_rotation_matches_better_auth(
    better_auth_factory: ServerPool, tmp_path: Path, verifiers: list[SessionVerifier]
) -> None:
    """After "2:new,1:old", Better Auth verifies signed session tokens with the current
    secret only, so old cookies stop working there, and here too; the JWE cookie cache
    still decrypts with the old version, as in Better Auth's symmetricDecodeJWT."""
    old, new = new_secret(), new_secret()
    db_path = str(tmp_path / "rotating.db")
    before = better_auth_factory(
        BETTER_AUTH_SECRETS=f"1:{old}", DB_PATH=db_path, COOKIE_CACHE_STRATEGY="jwe"
    )
    old_user = before.sign_up()
    old_cache = find_session_data_cookie(old_user.cookies)
    assert old_cache is not None
    before.stop()

    after = better_auth_factory(
        BETTER_AUTH_SECRETS=f"2:{new},1:{old}", DB_PATH=db_path, COOKIE_CACHE_STRATEGY="jwe"
    )
    verifier = await _open(verifiers, db_config(after))
    assert verifier.config.secrets == ((2, new), (1, old))
    # Better Auth refuses the old-secret cookie; so does authbridge.
    assert ba_session(after, {"cookie": f"{old_user.cookie_name}={old_user.cookie_value}"}) is None
    assert ba_session(after, old_user.bearer) is None
    with pytest.raises(InvalidSignature):
        await verifier.verify(old_user.signed_token)
    # The session row itself survives: signed with the new secret it is still live.
    resigned = await _open(verifiers, db_config(after, allow_unsigned=True))
    assert (await resigned.verify(old_user.session_token)).sub == old_user.id
    # The old JWE cookie cache decrypts with the old version, as Better Auth's does.
    record = decode_cookie_cache(
        old_cache, strategy="jwe", secrets=[new, old], session_token=old_user.session_token
    )
    assert record is not None
    assert record.user_id == old_user.id
    # New sessions are signed with the new secret and verify.
    new_user = after.sign_up()
    assert (await verifier.verify(new_user.signed_token)).sub == new_user.id
    cookie_principal = await _open(verifiers, db_config(after, cookie_cache="jwe"))
    assert (
        await cookie_principal.verify_cookies(new_user.cookies, method="GET", headers={})
    ) is not None


# ---- cookie cache ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["compact", "jwt", "jwe"])
def cache_server(
    request: pytest.FixtureRequest, better_auth_module_factory: ServerPool
) -> BetterAuthServer:
    return better_auth_module_factory(COOKIE_CACHE_STRATEGY=request.param)


def _strategy(server: BetterAuthServer) -> str:
    return server.env["COOKIE_CACHE_STRATEGY"]


async def test_cookie_cache_verifies_like_better_auth(
    cache_server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    server = cache_server
    # Non-ASCII and JS-escaped characters: the compact HMAC covers JSON.stringify's bytes.
    user = server.sign_up(name='Zoë "🚀" \u2028 \\ </script>')
    assert find_session_data_cookie(user.cookies) is not None
    verifier = await _open(verifiers, db_config(server, cookie_cache=_strategy(server)))
    principal = await verifier.verify_cookies(user.cookies, method="GET", headers={})
    assert principal is not None
    assert principal.sub == user.id
    assert principal.name == 'Zoë "🚀" \u2028 \\ </script>'
    # Revoke the row: Better Auth keeps trusting its cookie cache until it expires, and
    # so does authbridge's fast path; the database path alone rejects at once.
    server.admin_revoke_session(user.session_token)
    cookie_header = {"cookie": user.cookie_header}
    assert ba_session(server, cookie_header) is not None
    cached = await verifier.verify_cookies(user.cookies, method="GET", headers={})
    assert cached is not None
    assert cached.sub == user.id
    with pytest.raises(SessionInvalid):
        await verifier.verify(user.signed_token)


async def test_tampered_cookie_cache_is_rejected_like_better_auth(
    cache_server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    server = cache_server
    user = server.sign_up()
    server.admin_revoke_session(user.session_token)  # only a valid cache could pass now
    data_name = next(name for name in user.cookies if name.endswith("session_data"))
    value = user.cookies[data_name]
    middle = len(value) // 2
    tampered = value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]
    cookies = {**user.cookies, data_name: tampered}
    header = "; ".join(f"{name}={val}" for name, val in cookies.items())
    assert ba_session(server, {"cookie": header}) is None
    verifier = await _open(verifiers, db_config(server, cookie_cache=_strategy(server)))
    with pytest.raises(SessionInvalid):
        await verifier.verify_cookies(cookies, method="GET", headers={})


async def test_chunked_cookie_cache_from_better_auth(
    better_auth_factory: ServerPool, verifiers: list[SessionVerifier]
) -> None:
    server = better_auth_factory(COOKIE_CACHE_STRATEGY="jwe")
    user = server.sign_up(name="N" * 5000)
    chunks = sorted(name for name in user.cookies if ".session_data." in name)
    assert chunks[:2] == ["better-auth.session_data.0", "better-auth.session_data.1"]
    server.admin_revoke_session(user.session_token)
    verifier = await _open(verifiers, db_config(server, cookie_cache="jwe"))
    principal = await verifier.verify_cookies(user.cookies, method="GET", headers={})
    assert principal is not None
    assert principal.name == "N" * 5000


# ---- remote mode -----------------------------------------------------------------------------


async def test_remote_mode_resolves_cookie_and_bearer_forms(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    user = server.sign_up()
    for credential in ("cookie", "bearer"):
        verifier = await _open(verifiers, remote_config(server, remote_credential=credential))
        principal = await verifier.verify(user.signed_token)
        assert (principal.sub, principal.email) == (user.id, user.email)
        assert principal.session_id is not None
        from_cookie = await verifier.verify_cookies(user.cookies, method="GET", headers={})
        assert from_cookie is not None
        assert from_cookie.sub == user.id


async def test_remote_mode_without_local_secret(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    user = server.sign_up()
    verifier = await _open(verifiers, remote_config(server, secrets=()))
    assert (await verifier.verify(user.signed_token)).sub == user.id
    token, _, signature = user.signed_token.rpartition(".")
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    with pytest.raises(SessionInvalid):
        await verifier.verify(f"{token}.{flipped}")


async def test_remote_sign_out_is_rejected_within_the_ttl(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    user = server.sign_up()
    ttl = 1.0
    verifier = await _open(verifiers, remote_config(server, cache_ttl=ttl))
    assert (await verifier.verify(user.signed_token)).sub == user.id
    server.sign_out(user)
    loop = asyncio.get_running_loop()
    signed_out_at = loop.time()
    while True:
        try:
            await verifier.verify(user.signed_token)
        except SessionInvalid:
            break
        assert loop.time() - signed_out_at <= ttl + 0.5, "still accepted after the TTL"
        await asyncio.sleep(0.1)
    uncached = await _open(verifiers, remote_config(server, cache_ttl=0))
    with pytest.raises(SessionInvalid):
        await uncached.verify(user.signed_token)


async def test_remote_issuer_down_is_503(
    better_auth_factory: ServerPool, verifiers: list[SessionVerifier]
) -> None:
    server = better_auth_factory()
    user = server.sign_up()
    verifier = await _open(verifiers, remote_config(server, cache_ttl=0, timeout=2))
    assert (await verifier.verify(user.signed_token)).sub == user.id
    server.stop()
    with pytest.raises(SessionEndpointUnavailable) as caught:
        await verifier.verify(user.signed_token)
    assert caught.value.status == 503


async def test_verifying_never_blocks_the_event_loop(
    server: BetterAuthServer, verifiers: list[SessionVerifier]
) -> None:
    from blockbuster import blockbuster_ctx

    user = server.sign_up()
    database = await _open(verifiers, db_config(server))
    remote = await _open(verifiers, remote_config(server, cache_ttl=0))
    with blockbuster_ctx():
        assert (await database.verify(user.signed_token)).sub == user.id
        assert (await remote.verify(user.signed_token)).sub == user.id
        cookie = await database.verify_cookies(user.cookies, method="GET", headers={})
        assert cookie is not None
