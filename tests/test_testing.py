"""``authbridge.testing``: FakeIssuer's Better Auth token shape, keys, rotation, HTTP JWKS
server, the pytest fixtures and ``override_user``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt as pyjwt
import pytest
from fastapi import Depends, FastAPI

from authbridge import testing as plugin
from authbridge.errors import KeysUnavailable, UnknownKey
from authbridge.fastapi import AuthBridge, CurrentUser, OptionalUser, require_roles, require_scopes
from authbridge.jose.b64 import b64url_decode
from authbridge.keys.remote import RemoteJWKS
from authbridge.principal import Principal
from authbridge.testing import ASYMMETRIC_ALGORITHMS, FakeIssuer, override_user
from authbridge.verifier import TrustedIssuer, Verifier

# The plugin's fixtures, taken into this module (test_the_pytest_plugin_works_in_a_users_project
# checks ``pytest_plugins = ["authbridge.testing"]`` itself, in a separate pytest run).
fake_issuer = plugin.fake_issuer
fake_issuer_server = plugin.fake_issuer_server

USER_FIELDS = {"id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt"}


def decode_segment(token: str, index: int) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[index]))  # type: ignore[no-any-return]


# --- token shape -----------------------------------------------------------------------------


def test_tokens_are_shaped_like_better_auths(fake_issuer: FakeIssuer) -> None:
    token = fake_issuer.token()
    header, claims = decode_segment(token, 0), decode_segment(token, 1)
    assert header == {"alg": "EdDSA", "kid": fake_issuer.signing_key().kid}
    assert set(claims) == USER_FIELDS | {"iat", "exp", "iss", "aud", "sub"}
    assert claims["iss"] == claims["aud"] == "https://auth.example.test"
    assert claims["sub"] == claims["id"] == fake_issuer.user["id"]
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - time.time()) < 5
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", claims["createdAt"])
    assert claims["emailVerified"] is True
    assert claims["image"] is None


def test_base_url_path_is_dropped_from_iss_and_aud() -> None:
    issuer = FakeIssuer("https://auth.example.test:8443/api/auth")
    claims = decode_segment(issuer.token(), 1)
    assert claims["iss"] == claims["aud"] == "https://auth.example.test:8443"


def test_overrides_extra_claims_and_removals(fake_issuer: FakeIssuer) -> None:
    user = fake_issuer.make_user(name="Ada", role="admin")
    token = fake_issuer.token(user, scope="tasks:read", exp=None, expires_in=60)
    claims = decode_segment(token, 1)
    assert claims["name"] == "Ada"
    assert claims["role"] == "admin"
    assert claims["scope"] == "tasks:read"
    assert "exp" not in claims
    claims = decode_segment(fake_issuer.token(expires_in=60, now=1_000_000), 1)
    assert (claims["iat"], claims["exp"]) == (1_000_000, 1_000_060)


def test_header_overrides(fake_issuer: FakeIssuer) -> None:
    token = fake_issuer.token(header={"typ": "JWT", "kid": "other"})
    assert decode_segment(token, 0) == {"alg": "EdDSA", "kid": "other", "typ": "JWT"}


# --- every algorithm verifies with the real Verifier, and with PyJWT --------------------------


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGORITHMS)
async def test_every_algorithm_verifies(alg: str) -> None:
    issuer = FakeIssuer(alg=alg)
    verifier = issuer.verifier()
    principal = await verifier.verify(issuer.token())
    assert principal.sub == issuer.user["id"]
    assert principal.email == issuer.user["email"]
    assert principal.issuer == issuer.base_url
    assert decode_segment(issuer.token(), 0)["alg"] == alg


@pytest.mark.parametrize("alg", ASYMMETRIC_ALGORITHMS)
def test_tokens_verify_with_an_independent_library(alg: str) -> None:
    issuer = FakeIssuer(alg=alg)
    token = issuer.token()
    jwk = pyjwt.PyJWK(dict(issuer.signing_key().public_jwk))
    claims = pyjwt.decode(
        token, jwk, algorithms=[alg], audience=issuer.base_url, issuer=issuer.base_url
    )
    assert claims["sub"] == issuer.user["id"]


async def test_hs256_tokens_use_the_shared_secret(fake_issuer: FakeIssuer) -> None:
    verifier = Verifier(
        TrustedIssuer.create(
            fake_issuer.shared_secret(), issuer="https://svc", audience="api", name="svc"
        )
    )
    token = fake_issuer.token(alg="HS256", iss="https://svc", aud="api", sub="svc-1")
    assert decode_segment(token, 0) == {"alg": "HS256"}
    assert (await verifier.verify(token)).sub == "svc-1"
    assert len(fake_issuer.secret) >= 32


def test_jwks_is_shaped_like_better_auths(fake_issuer: FakeIssuer) -> None:
    for alg in ASYMMETRIC_ALGORITHMS:
        fake_issuer.signing_key(alg)
    keys = fake_issuer.jwks()["keys"]
    assert {k["alg"] for k in keys} == set(ASYMMETRIC_ALGORITHMS)
    members = {
        "OKP": {"alg", "crv", "x", "kty", "kid"},
        "EC": {"alg", "crv", "x", "y", "kty", "kid"},
        "RSA": {"alg", "n", "e", "kty", "kid"},
    }
    for key in keys:
        assert set(key) == members[key["kty"]]
        assert re.fullmatch(r"[A-Za-z0-9]{32}", key["kid"])


# --- rotation ----------------------------------------------------------------------------


async def test_rotation_keeps_the_old_key_during_grace(fake_issuer: FakeIssuer) -> None:
    verifier = fake_issuer.verifier()
    old_token = fake_issuer.token()
    old_kid = fake_issuer.signing_key().kid
    new_kid = fake_issuer.rotate()
    assert new_kid != old_kid
    assert {k["kid"] for k in fake_issuer.jwks()["keys"]} == {old_kid, new_kid}
    assert decode_segment(fake_issuer.token(), 0)["kid"] == new_kid
    assert (await verifier.verify(old_token)).sub == fake_issuer.user["id"]
    assert (await verifier.verify(fake_issuer.token())).sub == fake_issuer.user["id"]


async def test_dropping_the_old_key_revokes_even_cached_tokens(fake_issuer: FakeIssuer) -> None:
    verifier = fake_issuer.verifier()
    old_token = fake_issuer.token()
    await verifier.verify(old_token)
    assert verifier.verify_cached(old_token) is not None
    fake_issuer.rotate(keep_old=False)
    assert verifier.verify_cached(old_token) is None
    with pytest.raises(UnknownKey):
        await verifier.verify(old_token)


# --- the HTTP JWKS server ------------------------------------------------------------------


async def test_served_jwks_works_with_remote_jwks(fake_issuer_server: FakeIssuer) -> None:
    issuer = fake_issuer_server
    assert issuer.base_url.startswith("http://127.0.0.1:")
    assert issuer.jwks_url == issuer.base_url + "/api/auth/jwks"
    async with httpx.AsyncClient() as client:
        served = (await client.get(issuer.jwks_url)).json()
        assert served == issuer.jwks()
        assert (await client.get(issuer.base_url + "/other")).status_code == 404
    keys = RemoteJWKS(issuer.jwks_url, cooldown=0)
    verifier = Verifier(
        TrustedIssuer.create(keys, issuer=issuer.base_url, audience=issuer.base_url)
    )
    async with verifier:
        assert (await verifier.verify(issuer.token())).sub == issuer.user["id"]
        issuer.rotate()  # a new kid: the verifier refetches and finds it
        assert (await verifier.verify(issuer.token())).sub == issuer.user["id"]
        assert issuer.server is not None
        assert issuer.server.requests == 3  # ours, the verifier's start, its unknown-kid refetch


async def test_a_failing_server_means_keys_unavailable() -> None:
    issuer = FakeIssuer(base_url=None)
    with issuer.serving() as url:
        assert issuer.server is not None
        issuer.server.status = 503
        verifier = Verifier(
            TrustedIssuer.create(RemoteJWKS(url), issuer=issuer.base_url, audience=issuer.base_url)
        )
        async with verifier:
            with pytest.raises(KeysUnavailable):
                await verifier.verify(issuer.token())
    assert issuer.server is None


def test_base_url_none_needs_the_server_first() -> None:
    issuer = FakeIssuer(base_url=None)
    with pytest.raises(RuntimeError, match="start_server"):
        issuer.token()


# --- override_user ----------------------------------------------------------------------------


def sample_app(install: bool, issuer: FakeIssuer) -> FastAPI:
    app = FastAPI()
    if install:
        AuthBridge(issuer.verifier()).install(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return user.sub

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> str | None:
        return user.sub if user else None

    @app.get("/read")
    async def read(user: Annotated[Principal, Depends(require_scopes("tasks:read"))]) -> str:
        return user.sub

    @app.get("/admin")
    async def admin(user: Annotated[Principal, Depends(require_roles("admin"))]) -> str:
        return user.sub

    return app


@pytest.mark.parametrize("install", [True, False])
async def test_override_user(install: bool, fake_issuer: FakeIssuer) -> None:
    app = sample_app(install, fake_issuer)
    reader = fake_issuer.principal(scopes=frozenset({"tasks:read"}))
    admin = Principal(sub="admin-1", issuer="https://x", roles=frozenset({"admin"}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with override_user(app, reader):
            assert (await client.get("/me")).json() == fake_issuer.user["id"]
            assert (await client.get("/maybe")).json() == fake_issuer.user["id"]
            assert (await client.get("/read")).json() == fake_issuer.user["id"]
            assert (await client.get("/admin")).status_code == 403  # guards still apply
        with override_user(app, admin):
            assert (await client.get("/admin")).json() == "admin-1"
            assert (await client.get("/read")).status_code == 403
        with override_user(app, None):
            response = await client.get("/me")
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == 'Bearer realm="authbridge"'
            assert (await client.get("/maybe")).json() is None
        assert app.dependency_overrides == {}
        if install:  # back to real verification
            assert (await client.get("/me")).status_code == 401
            token = fake_issuer.token()
            response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert response.json() == fake_issuer.user["id"]


def test_fixture_issuers_are_fresh(fake_issuer: FakeIssuer) -> None:
    assert fake_issuer.base_url == "https://auth.example.test"
    assert fake_issuer.alg == "EdDSA"
    assert FakeIssuer().user["id"] != fake_issuer.user["id"]


def test_the_pytest_plugin_works_in_a_users_project(tmp_path: Path) -> None:
    """``pytest_plugins = ["authbridge.testing"]`` in a user's conftest provides the fixtures."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["authbridge.testing"]\n')
    (tmp_path / "test_user_app.py").write_text(
        textwrap.dedent(
            """
            async def test_issuer(fake_issuer):
                verifier = fake_issuer.verifier()
                principal = await verifier.verify(fake_issuer.token())
                assert principal.sub == fake_issuer.user["id"]

            def test_server(fake_issuer_server):
                import httpx
                keys = httpx.get(fake_issuer_server.jwks_url).json()["keys"]
                assert keys[0]["kid"] == fake_issuer_server.signing_key().kid
            """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
