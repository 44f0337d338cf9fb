"""Parsing and HMAC checking of ``token.base64(HMAC-SHA256(secret, token))``."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sessions_builders import new_secret, new_token, sign, url_encode

from authbridge.errors import AuthError, InvalidSignature, SessionInvalid, TokenTooLarge
from authbridge.sessions.token import (
    parse_session_credential,
    sign_session_token,
    signed_cookie_value,
    verify_token_signature,
)

# The signature shape from the profile's live run: 43 base64 characters and "=".
LIVE_SIGNED = "edIda55cDWMSK41DH5zG9ea1wmojrLkn.aiP24XcSDqz0+3z+b/BR084HfjFXgsewPsPg3p+3G1E="
LIVE_COOKIE = (
    "edIda55cDWMSK41DH5zG9ea1wmojrLkn.aiP24XcSDqz0%2B3z%2Bb%2FBR084HfjFXgsewPsPg3p%2B3G1E%3D"
)


def test_sign_matches_an_independent_hmac() -> None:
    token, secret = new_token(), new_secret()
    signed = sign_session_token(token, secret)
    expected = base64.b64encode(
        hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    ).decode()
    assert signed == f"{token}.{expected}"
    assert len(expected) == 44
    assert expected.endswith("=")


def test_signed_cookie_value_is_url_encoded_like_encode_uri_component() -> None:
    token, secret = new_token(), new_secret()
    assert signed_cookie_value(token, secret) == url_encode(sign(token, secret))


@pytest.mark.parametrize("credential", [LIVE_SIGNED, LIVE_COOKIE])
def test_live_shapes_parse_to_the_same_parts(credential: str) -> None:
    parsed = parse_session_credential(credential, allow_unsigned=False)
    assert parsed.token == "edIda55cDWMSK41DH5zG9ea1wmojrLkn"
    assert parsed.signature == "aiP24XcSDqz0+3z+b/BR084HfjFXgsewPsPg3p+3G1E="


def test_verify_accepts_signed_and_url_encoded_forms() -> None:
    token, secret = new_token(), new_secret()
    for form in (sign(token, secret), url_encode(sign(token, secret))):
        parsed = parse_session_credential(form, allow_unsigned=False)
        verify_token_signature(parsed, secret)
        assert parsed.token == token


def test_wrong_secret_and_tampered_signature_are_rejected() -> None:
    token, secret = new_token(), new_secret()
    parsed = parse_session_credential(sign(token, secret), allow_unsigned=False)
    with pytest.raises(InvalidSignature):
        verify_token_signature(parsed, new_secret())
    signed = sign(token, secret)
    flipped = signed[:-3] + ("A" if signed[-3] != "A" else "B") + signed[-2:]
    with pytest.raises(InvalidSignature):
        verify_token_signature(parse_session_credential(flipped, allow_unsigned=False), secret)


def test_signature_of_another_token_is_rejected() -> None:
    secret = new_secret()
    other = sign(new_token(), secret).rpartition(".")[2]
    forged = f"{new_token()}.{other}"
    with pytest.raises(InvalidSignature):
        verify_token_signature(parse_session_credential(forged, allow_unsigned=False), secret)


def test_raw_token_needs_allow_unsigned() -> None:
    token = new_token()
    with pytest.raises(SessionInvalid):
        parse_session_credential(token, allow_unsigned=False)
    parsed = parse_session_credential(token, allow_unsigned=True)
    assert parsed.token == token
    assert parsed.signature is None
    with pytest.raises(SessionInvalid):
        verify_token_signature(parsed, new_secret())


def test_split_is_at_the_last_dot() -> None:
    secret = new_secret()
    # A dotted token is not a Better Auth token shape: refused, never re-split.
    with pytest.raises(SessionInvalid):
        parse_session_credential(sign("abc.def", secret), allow_unsigned=False)


@pytest.mark.parametrize(
    "credential",
    [
        "",
        ".",
        "token.",
        ".aiP24XcSDqz0+3z+b/BR084HfjFXgsewPsPg3p+3G1E=",
        "token.short=",
        "token.aiP24XcSDqz0-3z_b_BR084HfjFXgsewPsPg3p-3G1E=",  # base64url alphabet
        "token.aiP24XcSDqz0+3z+b/BR084HfjFXgsewPsPg3p+3G1EA",  # no padding
        "tökén.aiP24XcSDqz0+3z+b/BR084HfjFXgsewPsPg3p+3G1E=",
        "token.%ff%fe",
        "tok en.aiP24XcSDqz0+3z+b/BR084HfjFXgsewPsPg3p+3G1E=",
    ],
)
def test_malformed_credentials_are_session_invalid(credential: str) -> None:
    with pytest.raises(SessionInvalid):
        parse_session_credential(credential, allow_unsigned=False)


def test_huge_credential_is_refused_before_parsing() -> None:
    with pytest.raises(TokenTooLarge):
        parse_session_credential("a" * 5000, allow_unsigned=True)


def test_repr_never_shows_the_token() -> None:
    token = new_token()
    parsed = parse_session_credential(sign(token, new_secret()), allow_unsigned=False)
    assert token not in repr(parsed)


@given(st.text(max_size=200))
def test_any_input_fails_only_with_auth_errors(credential: str) -> None:
    try:
        parsed = parse_session_credential(credential, allow_unsigned=True)
    except AuthError:
        return
    with contextlib.suppress(AuthError):
        verify_token_signature(parsed, "secret-" * 6)
