"""``authbridge decode``: pretty, human, NOT verified, and every credential shape explained."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from cli_helpers import CLI

from authbridge.jose.b64 import b64url_encode
from authbridge.jose.sign import sign_compact
from authbridge.sessions.token import sign_session_token
from harness.better_auth import BAUser, BetterAuthServer, ServerPool

SECRET = "decode-tests-secret-0123456789-abcdefghijklmnop"


def _mint(cli: CLI, *args: str) -> str:
    result = cli("mint", "--sub", "alice", *args)  # no key source: signed for the dev issuer
    assert result.code == 0, result.output
    return result.stdout.strip()


def test_jwt_is_shown_with_header_claims_and_human_times(cli: CLI) -> None:
    token = _mint(cli, "--email", "alice@example.com", "--name", "Alice")
    result = cli("decode", token)
    assert result.code == 0, result.output
    out = result.stdout
    assert "NOT verified" in out
    assert '"alg": "EdDSA"' in out
    assert '"email": "alice@example.com"' in out
    assert "expires in 15 min" in out
    assert "verify with the issuer's JWKS, not a shared secret" in out
    assert "Better Auth JWT-plugin token" in out


def test_json_schema(cli: CLI) -> None:
    token = _mint(cli, "--exp", "-3h")
    document = cli("decode", token, "--json").json()
    assert set(document) == {
        "verified",
        "kind",
        "title",
        "header",
        "claims",
        "times",
        "notes",
        "explanation",
        "hints",
        "details",
    }
    assert document["verified"] is False
    assert document["kind"] == "jwt"
    assert set(document["header"]) == {"alg", "kid"}
    assert document["claims"]["sub"] == "alice"
    assert document["times"]["exp"]["text"].endswith("expired 3 h ago")
    assert document["times"]["exp"]["timestamp"] == document["claims"]["exp"]
    assert document["details"]["signature_bytes"] == 64


def test_stdin_and_pasted_header_are_accepted(cli: CLI) -> None:
    token = _mint(cli)
    result = cli("decode", "-", "--json", stdin=f"Authorization: Bearer {token}\n")
    document = result.json()
    assert result.code == 0
    assert document["kind"] == "jwt"
    assert any("Bearer" in note for note in document["notes"])
    assert any("Authorization" in note for note in document["notes"])


def test_hs256_hint_says_shared_secret(cli: CLI) -> None:
    claims = {"sub": "svc", "iat": int(time.time()), "exp": int(time.time()) + 60}
    token = sign_compact(claims, SECRET.encode(), "HS256")
    document = cli("decode", token, "--json").json()
    assert document["kind"] == "jwt"
    assert any("shared secret" in hint for hint in document["hints"])


def test_signed_session_token_is_explained_not_decoded(cli: CLI) -> None:
    raw = "edIda55cDWMSK41DH5zG9ea1wmojrLkn"
    signed = sign_session_token(raw, SECRET)
    for value, encoded in ((signed, False), (quote(signed, safe=""), True)):
        result = cli("decode", value, "--json")
        document = result.json()
        assert result.code == 0
        assert document["kind"] == "session_token"
        assert document["details"] == {"signed": True, "url_encoded": encoded, "token_chars": 32}
        assert any("/api/auth/token" in hint for hint in document["hints"])
        assert raw not in result.stdout  # the credential itself is never echoed


def test_raw_session_token_and_cookie_pair(cli: CLI) -> None:
    raw = "edIda55cDWMSK41DH5zG9ea1wmojrLkn"
    document = cli("decode", raw, "--json").json()
    assert document["kind"] == "session_token"
    assert document["details"]["signed"] is False
    cookie = quote(sign_session_token(raw, SECRET), safe="")
    pair = f"Cookie: theme=dark; better-auth.session_token={cookie}"
    document = cli("decode", pair, "--json").json()
    assert document["kind"] == "session_token"
    assert any("better-auth.session_token" in note for note in document["notes"])


def test_generic_jwe_is_recognised(cli: CLI) -> None:
    header = b64url_encode(json.dumps({"alg": "RSA-OAEP", "enc": "A256GCM"}).encode())
    parts = [header, *(b64url_encode(part) for part in (b"k" * 32, b"iv", b"c", b"t"))]
    value = ".".join(parts)
    document = cli("decode", value, "--json").json()
    assert document["kind"] == "jwe"
    assert document["header"]["enc"] == "A256GCM"


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ("hello world", "Not a JWT"),
        ("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0", "has 2 part(s)"),
        ("abc.def.ghi", "not base64url JSON"),
        ("", "nothing to decode"),
    ],
)
def test_garbage_is_explained_with_exit_1(cli: CLI, value: str, phrase: str) -> None:
    result = cli("decode", value)
    assert result.code == 1
    assert phrase in result.stdout


# --- real Better Auth credentials ------------------------------------------------------------


@pytest.fixture(scope="module")
def cache_servers(better_auth_module_factory: ServerPool) -> dict[str, BetterAuthServer]:
    return {
        strategy: better_auth_module_factory(COOKIE_CACHE_STRATEGY=strategy)
        for strategy in ("compact", "jwt", "jwe")
    }


def _session_data(server: BetterAuthServer) -> tuple[BAUser, str]:
    user = server.sign_up()
    cookies = server.session_cookies(user)
    value = cookies.get("better-auth.session_data")
    assert value, f"no session_data cookie in {sorted(cookies)}"
    return user, value


def _decode(cli: CLI, value: str) -> tuple[dict[str, Any], str]:
    result = cli("decode", value, "--json")
    assert result.code == 0, result.output
    return result.json(), result.stdout


def test_real_session_token_from_better_auth(cli: CLI, better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    document, out = _decode(cli, user.cookie_value)
    assert document["kind"] == "session_token"
    assert document["details"]["url_encoded"] is True
    assert user.session_token not in out
    document, _ = _decode(cli, user.signed_token)
    assert document["details"] == {"signed": True, "url_encoded": False, "token_chars": 32}


def test_real_compact_cookie_cache(cli: CLI, cache_servers: dict[str, BetterAuthServer]) -> None:
    user, value = _session_data(cache_servers["compact"])
    document, out = _decode(cli, value)
    assert document["kind"] == "cookie_cache_compact"
    assert document["claims"]["session"]["user"]["email"] == user.email
    assert "expires in" in document["times"]["expiresAt"]["text"]
    assert user.session_token not in out  # the embedded session token is masked


def test_real_jwt_cookie_cache(cli: CLI, cache_servers: dict[str, BetterAuthServer]) -> None:
    user, value = _session_data(cache_servers["jwt"])
    document, out = _decode(cli, value)
    assert document["kind"] == "cookie_cache_jwt"
    assert document["header"] == {"alg": "HS256"}
    assert document["claims"]["user"]["email"] == user.email
    assert "expires in 5 min" in document["times"]["exp"]["text"]
    assert user.session_token not in out


def test_real_jwe_cookie_cache(cli: CLI, cache_servers: dict[str, BetterAuthServer]) -> None:
    _, value = _session_data(cache_servers["jwe"])
    document, _ = _decode(cli, value)
    assert document["kind"] == "cookie_cache_jwe"
    assert document["header"]["alg"] == "dir"
    assert document["header"]["enc"] == "A256CBC-HS512"
    assert document["claims"] is None
    assert any("cannot be shown without the secret" in line for line in document["explanation"])


def test_real_jwks_signed_cookie_cache(cli: CLI, better_auth_module_factory: ServerPool) -> None:
    server = better_auth_module_factory(COOKIE_CACHE_STRATEGY="jwt", JWT_SESSION_COOKIE_CACHE=1)
    user, value = _session_data(server)
    document, out = _decode(cli, value)
    assert document["kind"] == "cookie_cache_jwks"
    assert document["header"]["typ"] == "better-auth.session-cache+jwt"
    assert document["claims"]["aud"] == "better-auth:session-cache"
    assert user.session_token not in out  # sid and session.token are masked


def test_compact_cookie_cache_shape_without_a_server(cli: CLI) -> None:
    session = {"session": {"token": "T" * 32, "userId": "u1"}, "user": {"id": "u1"}}
    value = b64url_encode(
        json.dumps(
            {"session": session, "expiresAt": (time.time() + 60) * 1000, "signature": "x"}
        ).encode()
    )
    document = cli("decode", value, "--json").json()
    assert document["kind"] == "cookie_cache_compact"
    assert "T" * 32 not in json.dumps(document)
    assert base64.urlsafe_b64decode(value + "==")  # sanity: it really is base64url JSON


def test_pasted_better_auth_response_headers(cli: CLI, better_auth: BetterAuthServer) -> None:
    user = better_auth.sign_up()
    _, jwt_header = better_auth.get_session(user)
    assert jwt_header is not None
    document = cli("decode", f"set-auth-jwt: {jwt_header}", "--json").json()
    assert document["kind"] == "jwt"
    assert document["claims"]["sub"] == user.id
    assert "Read the value of Better Auth's set-auth-jwt header." in document["notes"]
    document = cli("decode", f"Set-Auth-Token: {user.signed_token}", "--json").json()
    assert document["kind"] == "session_token"
    assert document["details"]["signed"] is True
