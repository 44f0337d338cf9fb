"""authbridge against a real Better Auth server: every token it issues, every way it can fail.

Each test signs a real user up on a real Better Auth 1.7 server (Node), takes the credential
Better Auth hands out, and runs it through ``authbridge.Verifier`` with the issuer's remote
JWKS, exactly as a FastAPI backend would.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime

import pytest

from authbridge import SharedSecret, TrustedIssuer, Verifier
from authbridge.errors import (
    AuthError,
    InvalidAudience,
    InvalidClaims,
    InvalidIssuer,
    InvalidSignature,
    TokenExpired,
    UnknownKey,
)
from authbridge.jose import strict_json
from authbridge.keys.remote import RemoteJWKS
from harness.better_auth import BetterAuthServer, ServerPool

pytestmark = pytest.mark.interop

ALGORITHMS = ["EdDSA", "ES256", "ES512", "PS256", "RS256"]


def remote_verifier(
    server: BetterAuthServer,
    *,
    issuer: str | None = None,
    audience: str | Sequence[str] | None = None,
    leeway: float = 30.0,
    cooldown: float = 30.0,
) -> Verifier:
    return Verifier(
        TrustedIssuer.create(
            RemoteJWKS(server.jwks_url, cooldown=cooldown),
            issuer=issuer or server.origin,
            audience=audience or server.origin,
            leeway=leeway,
        )
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segments(token: str) -> tuple[str, str, str]:
    header, payload, signature = token.split(".")
    return header, payload, signature


@pytest.fixture(scope="module", params=ALGORITHMS)
def alg_server(request: pytest.FixtureRequest, better_auth_module_factory: ServerPool) -> object:
    return better_auth_module_factory(JWT_ALG=request.param, JWT_DEFINE_PAYLOAD=1)


@pytest.fixture
async def verifier(better_auth: BetterAuthServer) -> AsyncIterator[Verifier]:
    async with remote_verifier(better_auth) as verifier:
        yield verifier


# --- every algorithm -------------------------------------------------------------------------


async def test_each_algorithm_verifies_via_remote_jwks(alg_server: BetterAuthServer) -> None:
    user = alg_server.sign_up(name="Alg User")
    from_token_endpoint = alg_server.get_jwt(user)
    _, from_header = alg_server.get_session(user)
    assert from_header is not None
    async with remote_verifier(alg_server) as verifier:
        for token in (from_token_endpoint, from_header):
            principal = await verifier.verify(token)
            assert principal.sub == user.id
            assert principal.email == user.email
            assert principal.credential == "jwt"
        keys = verifier.paths[0].keys
        assert isinstance(keys, RemoteJWKS)
        (key,) = keys.keys.values()
        assert key.alg == alg_server.env["JWT_ALG"]


async def test_each_algorithm_rejects_a_tampered_token(alg_server: BetterAuthServer) -> None:
    user = alg_server.sign_up()
    header, payload, signature = segments(alg_server.get_jwt(user))
    claims = json.loads(b64url_decode(payload))
    forged_payload = b64url(json.dumps({**claims, "role": "admin"}).encode())
    raw_signature = bytearray(b64url_decode(signature))
    raw_signature[len(raw_signature) // 2] ^= 0x01
    flipped_signature = b64url(bytes(raw_signature))
    async with remote_verifier(alg_server) as verifier:
        with pytest.raises(InvalidSignature) as forged:
            await verifier.verify(f"{header}.{forged_payload}.{signature}")
        with pytest.raises(InvalidSignature) as flipped:
            await verifier.verify(f"{header}.{payload}.{flipped_signature}")
    assert forged.value.code == flipped.value.code == "invalid_signature"


async def test_better_auth_json_always_takes_the_proven_fast_path(
    better_auth: BetterAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Better Auth's headers and payloads (JSON.stringify) are re-encoded byte for byte by
    msgspec, so the strict standard-library parser is never needed for them."""

    def must_not_run(raw: bytes) -> dict[str, object]:
        raise AssertionError("a Better Auth token fell back to the standard library parser")

    user = better_auth.sign_up(name='Zoë "Zed" \\ O\'Neil \u2028 🦊')
    token = better_auth.get_jwt(user)
    monkeypatch.setattr(strict_json, "loads_object_strict", must_not_run)
    async with remote_verifier(better_auth) as verifier:
        principal = await verifier.verify(token)
    assert principal.name == 'Zoë "Zed" \\ O\'Neil \u2028 🦊'
    assert principal.claims == json.loads(b64url_decode(segments(token)[1]))


# --- Principal fields ------------------------------------------------------------------------


async def test_principal_from_default_payload(
    better_auth: BetterAuthServer, verifier: Verifier
) -> None:
    user = better_auth.sign_up(name="Ada Default")
    token = better_auth.get_jwt(user)
    principal = await verifier.verify(token)
    claims = json.loads(b64url_decode(segments(token)[1]))
    assert principal.sub == user.id
    assert principal.issuer == better_auth.origin
    assert principal.email == user.email
    assert principal.name == "Ada Default"
    assert principal.email_verified is False
    assert principal.image is None
    assert principal.roles == frozenset({"user"})  # the additional user field `role`
    assert principal.scopes == frozenset()
    assert principal.session_id is None  # the default payload has no sid
    assert principal.audience == (better_auth.origin,)
    assert principal.expires_at == datetime.fromtimestamp(claims["exp"], UTC)
    assert principal.credential == "jwt"
    assert principal.claims["id"] == user.id


async def test_principal_from_define_payload(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(JWT_DEFINE_PAYLOAD=1, JWT_SCOPE="tasks:read reports:export")
    user = server.sign_up(name="Grace Payload")
    server.admin_set_role(user.id, "admin")
    session, _ = server.get_session(user)
    assert session is not None
    async with remote_verifier(server) as verifier:
        principal = await verifier.verify(server.get_jwt(user))
    assert principal.sub == user.id
    assert principal.email == user.email
    assert principal.name == "Grace Payload"
    assert principal.email_verified is None  # definePayload left it out
    assert principal.roles == frozenset({"admin"})
    assert principal.scopes == frozenset({"tasks:read", "reports:export"})
    assert principal.session_id == session["session"]["id"]
    assert principal.has_scopes(["tasks:read"])
    assert not principal.has_scopes(["tasks:write"])


# --- issuer and audience ---------------------------------------------------------------------


async def test_custom_issuer_and_audience_list(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(JWT_ISSUER="https://issuer.example", JWT_AUDIENCE="api-a,api-b")
    user = server.sign_up()
    token = server.get_jwt(user)
    async with remote_verifier(server, issuer="https://issuer.example", audience="api-b") as ok:
        principal = await ok.verify(token)
    assert principal.issuer == "https://issuer.example"
    assert principal.audience == ("api-a", "api-b")
    # The defaults (baseURL origin) are wrong for this server.
    async with remote_verifier(server) as default_settings:
        with pytest.raises(InvalidIssuer):
            await default_settings.verify(token)
    async with remote_verifier(server, issuer="https://issuer.example", audience="api-c") as v:
        with pytest.raises(InvalidAudience):
            await v.verify(token)


@pytest.mark.parametrize(
    ("issuer", "audience", "code"),
    [
        ("http://localhost:1", None, "invalid_issuer"),
        (None, "http://localhost:1", "invalid_audience"),
        (None, ["api-x", "api-y"], "invalid_audience"),
    ],
)
async def test_wrong_issuer_or_audience_in_our_settings(
    better_auth: BetterAuthServer,
    issuer: str | None,
    audience: str | list[str] | None,
    code: str,
) -> None:
    user = better_auth.sign_up()
    async with remote_verifier(better_auth, issuer=issuer, audience=audience) as verifier:
        with pytest.raises(AuthError) as caught:
            await verifier.verify(better_auth.get_jwt(user))
    assert caught.value.code == code
    assert type(caught.value) in (InvalidIssuer, InvalidAudience)


# --- rotation and expiry ---------------------------------------------------------------------


async def test_rotation_on_a_running_verifier(better_auth_factory: ServerPool) -> None:
    # Keys rotate every 2 s and stay published for 3 s after that.
    server = better_auth_factory(JWKS_ROTATION_INTERVAL=2, JWKS_GRACE_PERIOD=3)
    user = server.sign_up()
    old_token = server.get_jwt(user)
    old_kid = json.loads(b64url_decode(segments(old_token)[0]))["kid"]
    async with remote_verifier(server, cooldown=0) as verifier:
        assert (await verifier.verify(old_token)).sub == user.id
        keys = verifier.paths[0].keys
        assert isinstance(keys, RemoteJWKS)
        fetches = keys.fetch_count

        await asyncio.sleep(2.5)
        new_token = server.get_jwt(user)
        new_kid = json.loads(b64url_decode(segments(new_token)[0]))["kid"]
        assert new_kid != old_kid
        # The new kid verifies at once: one refetch, no waiting for the JWKS TTL.
        assert (await verifier.verify(new_token)).sub == user.id
        assert keys.fetch_count == fetches + 1
        # The old key is still in its grace period, so its token still verifies.
        verifier.cache.clear()
        assert (await verifier.verify(old_token)).sub == user.id

        # After the grace period the old key leaves the JWKS; a refetch drops it.
        await asyncio.sleep(3.5)
        newest_token = server.get_jwt(user)
        assert (await verifier.verify(newest_token)).sub == user.id
        assert old_kid not in {key["kid"] for key in server.jwks()["keys"]}
        with pytest.raises(UnknownKey):
            await verifier.verify(old_token)


async def test_short_lived_token_expires(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(JWT_EXPIRATION="1s")
    user = server.sign_up()
    token = server.get_jwt(user)
    claims = json.loads(b64url_decode(segments(token)[1]))
    assert claims["exp"] - claims["iat"] == 1
    async with remote_verifier(server, leeway=0) as verifier:
        await asyncio.sleep(2.1)
        with pytest.raises(TokenExpired) as caught:
            await verifier.verify(token)
    assert caught.value.code == "token_expired"


# --- credentials that are not API tokens -----------------------------------------------------


def session_data_cookie(server: BetterAuthServer) -> str:
    user = server.sign_up()
    cookies = {**user.cookies, **server.session_cookies(user)}
    (name,) = [n for n in cookies if n.endswith("session_data")]
    return cookies[name]


def hs_path(secret: str, server: BetterAuthServer) -> TrustedIssuer:
    return TrustedIssuer.create(SharedSecret(secret), issuer=server.origin, audience=server.origin)


def verifier_with_paths(server: BetterAuthServer, extra: Iterable[TrustedIssuer]) -> Verifier:
    jwks = TrustedIssuer.create(
        RemoteJWKS(server.jwks_url), issuer=server.origin, audience=server.origin
    )
    return Verifier(jwks, *extra)


async def test_cookie_cache_jwt_is_never_a_bearer_token(better_auth_factory: ServerPool) -> None:
    server = better_auth_factory(COOKIE_CACHE_STRATEGY="jwt")
    cookie = session_data_cookie(server)
    header = json.loads(b64url_decode(segments(cookie)[0]))
    assert header == {"alg": "HS256"}  # the HS256 cookie cache Better Auth signs with its secret

    async with verifier_with_paths(server, []) as jwks_only:
        with pytest.raises(AuthError) as no_hs_path:
            await jwks_only.verify(cookie)
    assert no_hs_path.value.code == "algorithm_not_allowed"

    other_secret = "x" * 8 + "Q7v!kP2#mZ9@wL4$tR6^yB1&nC3*dF5%"
    async with verifier_with_paths(server, [hs_path(other_secret, server)]) as with_hs:
        with pytest.raises(InvalidSignature):
            await with_hs.verify(cookie)

    # Even an operator who reuses BETTER_AUTH_SECRET for HS256 does not accept the cookie:
    # it carries no iss, aud or sub.
    async with verifier_with_paths(server, [hs_path(server.secret, server)]) as reused:
        with pytest.raises(InvalidClaims):
            await reused.verify(cookie)


async def test_jwks_signed_cookie_cache_is_never_a_bearer_token(
    better_auth_factory: ServerPool,
) -> None:
    server = better_auth_factory(COOKIE_CACHE_STRATEGY="jwt", JWT_SESSION_COOKIE_CACHE=1)
    cookie = session_data_cookie(server)
    header = json.loads(b64url_decode(segments(cookie)[0]))
    assert header["typ"] == "better-auth.session-cache+jwt"
    assert header["kid"] in {key["kid"] for key in server.jwks()["keys"]}
    async with verifier_with_paths(server, []) as verifier:
        with pytest.raises(AuthError) as caught:
            await verifier.verify(cookie)
    assert caught.value.code in {"token_malformed", "invalid_audience"}


async def test_session_token_is_not_a_jwt(
    better_auth: BetterAuthServer, verifier: Verifier
) -> None:
    user = better_auth.sign_up()
    for credential in (user.session_token, user.signed_token):
        with pytest.raises(AuthError) as caught:
            await verifier.verify(credential)
        assert caught.value.code == "token_malformed"
