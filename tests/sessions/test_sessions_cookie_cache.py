"""The ``session_data`` cookie cache: compact, jwt (HS256) and jwe strategies.

Fixtures are built with PyJWT, joserfc and hashlib following better-auth's source.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwe
from joserfc.jwk import OctKey
from sessions_builders import (
    compact_cookie,
    hkdf_key,
    jwe_cookie,
    jwt_cookie,
    new_secret,
    new_token,
    session_data,
)

from authbridge.jose import loads_object
from authbridge.sessions.cookie_cache import (
    decode_cookie_cache,
    derive_jwe_key,
    js_json_stringify,
    jwe_key_thumbprint,
)

Builder = Callable[..., str]
STRATEGIES: list[tuple[str, Builder]] = [
    ("compact", compact_cookie),
    ("jwt", jwt_cookie),
    ("jwe", jwe_cookie),
]


def _decode(value: str, strategy: str, secrets: list[str], token: str, **kw: Any) -> Any:
    return decode_cookie_cache(
        value,
        strategy=strategy,
        secrets=secrets,
        session_token=token,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("strategy", "build"), STRATEGIES)
def test_valid_cache_decodes_to_the_session(strategy: str, build: Builder) -> None:
    token, secret = new_token(), new_secret()
    data = session_data(token, role="admin,user", email="bob@example.com")
    record = _decode(build(data, secret), strategy, [secret], token)
    assert record is not None
    assert record.user_id == data["user"]["id"]
    assert record.session_id == data["session"]["id"]
    assert record.email == "bob@example.com"
    assert record.roles == {"admin", "user"}
    assert record.email_verified is False
    assert record.expires_at > datetime.now(UTC) + timedelta(days=6)
    assert "token" not in record.user


@pytest.mark.parametrize(("strategy", "build"), STRATEGIES)
def test_wrong_secret_is_rejected(strategy: str, build: Builder) -> None:
    token = new_token()
    value = build(session_data(token), new_secret())
    assert _decode(value, strategy, [new_secret()], token) is None


@pytest.mark.parametrize(("strategy", "build"), STRATEGIES)
def test_cache_of_another_session_is_rejected(strategy: str, build: Builder) -> None:
    secret = new_secret()
    value = build(session_data(new_token()), secret)
    assert _decode(value, strategy, [secret], new_token()) is None


@pytest.mark.parametrize(("strategy", "build"), STRATEGIES)
def test_expired_cookie_window_is_rejected(strategy: str, build: Builder) -> None:
    token, secret = new_token(), new_secret()
    value = build(session_data(token), secret, max_age=-1)
    assert _decode(value, strategy, [secret], token) is None


@pytest.mark.parametrize(("strategy", "build"), STRATEGIES)
def test_expired_embedded_session_is_rejected(strategy: str, build: Builder) -> None:
    token, secret = new_token(), new_secret()
    value = build(session_data(token, expires_in=timedelta(seconds=-5)), secret)
    assert _decode(value, strategy, [secret], token) is None


@pytest.mark.parametrize(("strategy", "build"), STRATEGIES)
def test_version_must_match(strategy: str, build: Builder) -> None:
    token, secret = new_token(), new_secret()
    value = build(session_data(token, version="2"), secret)
    assert _decode(value, strategy, [secret], token) is None
    assert _decode(value, strategy, [secret], token, version="2") is not None


@pytest.mark.parametrize(("strategy", "build"), STRATEGIES)
def test_every_single_character_tamper_is_rejected(strategy: str, build: Builder) -> None:
    token, secret = new_token(), new_secret()
    value = build(session_data(token), secret)
    for index in [*range(0, len(value), max(1, len(value) // 60)), len(value) - 1]:
        replacement = "A" if value[index] != "A" else "B"
        tampered = value[:index] + replacement + value[index + 1 :]
        if tampered == value:
            continue
        assert _decode(tampered, strategy, [secret], token) is None, index


def test_compact_payload_edit_with_resigned_outer_fails() -> None:
    token, secret = new_token(), new_secret()
    value = compact_cookie(session_data(token), secret)
    outer = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    outer["session"]["user"]["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(outer).encode()).rstrip(b"=").decode()
    assert _decode(forged, "compact", [secret], token) is None


def test_compact_and_jwt_use_only_the_current_secret() -> None:
    token, old, new = new_token(), new_secret(), new_secret()
    for strategy, build in STRATEGIES[:2]:
        value = build(session_data(token), old)
        assert _decode(value, strategy, [new, old], token) is None
        assert _decode(value, strategy, [old, new], token) is not None


@pytest.mark.parametrize("with_kid", [True, False])
def test_jwe_decrypts_with_an_older_versioned_secret(with_kid: bool) -> None:
    token, old, new = new_token(), new_secret(), new_secret()
    value = jwe_cookie(session_data(token), old, with_kid=with_kid)
    assert _decode(value, "jwe", [new, old], token) is not None
    assert _decode(value, "jwe", [new], token) is None


def test_jwe_kid_is_the_rfc7638_thumbprint() -> None:
    from joserfc.jwk import OctKey

    secret = new_secret()
    key = derive_jwe_key(secret)
    assert key == hkdf_key(secret)
    assert len(key) == 64
    assert jwe_key_thumbprint(key) == OctKey.import_key(key).thumbprint()


def test_jwt_strategy_refuses_other_algorithms() -> None:
    token, secret = new_token(), new_secret()
    data = session_data(token)
    now = int(time.time())
    claims = {**data, "iat": now, "exp": now + 60}
    hs512 = pyjwt.encode(claims, secret.encode() * 2, algorithm="HS512")
    assert _decode(hs512, "jwt", [secret], token) is None
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _decode(f"{header}.{body}.", "jwt", [secret], token) is None


def test_jwt_strategy_requires_exp() -> None:
    token, secret = new_token(), new_secret()
    unbounded = pyjwt.encode(session_data(token), secret.encode(), algorithm="HS256")
    assert _decode(unbounded, "jwt", [secret], token) is None


def test_a_strategy_never_accepts_another_strategys_cookie() -> None:
    token, secret = new_token(), new_secret()
    data = session_data(token)
    for strategy, _ in STRATEGIES:
        for other, build in STRATEGIES:
            if other != strategy:
                assert _decode(build(data, secret), strategy, [secret], token) is None


@pytest.mark.parametrize("value", ["", "....", "a.b.c", "a.b.c.d.e", "%%%", "x" * 500_000])
def test_garbage_returns_none(value: str) -> None:
    for strategy, _ in STRATEGIES:
        assert _decode(value, strategy, [new_secret()], new_token()) is None


def test_js_json_stringify_matches_javascript_for_unicode_and_escapes() -> None:
    value = {"b": 'é\u2028\n"\\/', "a": [1, 2.5, None, True], "c": "\x01"}
    assert js_json_stringify(value) == (
        '{"b":"é\u2028\\n\\"\\\\/","a":[1,2.5,null,true],"c":"\\u0001"}'.encode()
    )


@given(st.text(max_size=300), st.sampled_from(["compact", "jwt", "jwe"]))
def test_any_cookie_text_decodes_to_none_without_raising(value: str, strategy: str) -> None:
    assert _decode(value, strategy, ["s" * 40], "t" * 32) is None


@given(st.binary(max_size=300), st.sampled_from(["compact", "jwt", "jwe"]))
def test_any_base64url_payload_decodes_to_none(raw: bytes, strategy: str) -> None:
    segment = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    for value in (segment, f"{segment}.{segment}.{segment}", f"{segment}..{segment}.x.y"):
        assert _decode(value, strategy, ["s" * 40], "t" * 32) is None


# ---- strict JSON, as in the verifier (checklist V6-V8) ------------------------------------
#
# Each cookie below is authentic: signed (or encrypted) with the right secret over exactly the
# bytes sent. Only its JSON is not strict. A lenient parser keeps the last of duplicate members
# and would accept every one of them; the cookie cache must refuse them like a bearer token.

Mutation = Callable[[bytes], bytes]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims_text(data: dict[str, Any]) -> bytes:
    now = int(time.time())
    claims = {**data, "iat": now, "exp": now + 300}
    return json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()


def _compact_from(data: dict[str, Any], secret: str, mutate: Mutation) -> str:
    value = compact_cookie(data, secret)
    outer = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return _b64url(mutate(outer))


def _jwt_from(
    data: dict[str, Any], secret: str, mutate: Mutation, header: bytes = b'{"alg":"HS256"}'
) -> str:
    signing_input = f"{_b64url(header)}.{_b64url(mutate(_claims_text(data)))}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(mac)}"


def _jwe_from(data: dict[str, Any], secret: str, mutate: Mutation) -> str:
    key = OctKey.import_key(hkdf_key(secret))
    header = {"alg": "dir", "enc": "A256CBC-HS512", "kid": key.thumbprint()}
    return jwe.encrypt_compact(header, mutate(_claims_text(data)), key)


TEXT_BUILDERS: list[tuple[str, Callable[[dict[str, Any], str, Mutation], str]]] = [
    ("compact", _compact_from),
    ("jwt", _jwt_from),
    ("jwe", _jwe_from),
]

NOT_STRICT: dict[str, Mutation] = {
    # The later "session" wins in a lenient parser, so the cookie would still be accepted.
    "duplicate top-level member": lambda text: b'{"session":{},' + text[1:],
    # Inside the session: a parser that keeps the first would see another session id.
    "duplicate nested member": lambda text: text.replace(
        b'"session":{', b'"session":{"id":"forged",', 1
    ),
    "lone surrogate": lambda text: b'{"note":"\\ud800",' + text[1:],
    "NaN": lambda text: b'{"note":NaN,' + text[1:],
    "Infinity": lambda text: b'{"note":-Infinity,' + text[1:],
    "byte order mark": lambda text: b"\xef\xbb\xbf" + text,
    "invalid UTF-8": lambda text: b'{"note":"\xff",' + text[1:],
}


@pytest.mark.parametrize(("strategy", "build"), TEXT_BUILDERS)
def test_the_hand_built_cookies_are_valid_when_their_json_is_strict(
    strategy: str, build: Callable[[dict[str, Any], str, Mutation], str]
) -> None:
    token, secret = new_token(), new_secret()
    value = build(session_data(token), secret, lambda text: text)
    assert _decode(value, strategy, [secret], token) is not None
    # Extra members are fine: only the form of the JSON is at stake below.
    extra = build(session_data(token), secret, lambda text: b'{"note":"x",' + text[1:])
    assert _decode(extra, strategy, [secret], token) is not None


@pytest.mark.parametrize("problem", sorted(NOT_STRICT))
@pytest.mark.parametrize(("strategy", "build"), TEXT_BUILDERS)
def test_authentic_cookie_with_non_strict_json_is_refused(
    strategy: str, build: Callable[[dict[str, Any], str, Mutation], str], problem: str
) -> None:
    token, secret = new_token(), new_secret()
    value = build(session_data(token), secret, NOT_STRICT[problem])
    assert _decode(value, strategy, [secret], token) is None


@pytest.mark.parametrize(
    "header",
    [b'{"alg":"none","alg":"HS256"}', b'{"alg":"HS256","crit":[],"crit":null}'],
)
def test_jwt_header_with_duplicate_members_is_refused(header: bytes) -> None:
    token, secret = new_token(), new_secret()
    value = _jwt_from(session_data(token), secret, lambda text: text, header=header)
    assert _decode(value, "jwt", [secret], token) is None


def test_cookie_cache_and_verifier_refuse_the_same_json() -> None:
    """One parser: every JSON text the verifier refuses, the cookie cache refuses too."""
    token, secret = new_token(), new_secret()
    for problem, mutate in NOT_STRICT.items():
        text = mutate(_claims_text(session_data(token)))
        with pytest.raises(ValueError):
            loads_object(text)
        assert (
            _decode(_jwt_from(session_data(token), secret, mutate), "jwt", [secret], token) is None
        ), problem
