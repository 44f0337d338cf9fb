"""Finding Better Auth's session cookies, including __Secure- and chunked forms."""

from __future__ import annotations

from authbridge.sessions.cookies import (
    find_session_cookie,
    find_session_data_cookie,
    session_cookie_names,
)


def test_default_name() -> None:
    assert find_session_cookie({"better-auth.session_token": "v1", "other": "x"}) == "v1"


def test_secure_form_is_preferred() -> None:
    cookies = {"better-auth.session_token": "plain", "__Secure-better-auth.session_token": "sec"}
    assert find_session_cookie(cookies) == "sec"
    assert find_session_cookie(cookies, secure=False) == "plain"
    assert find_session_cookie({"better-auth.session_token": "plain"}, secure=True) is None


def test_custom_prefix_and_dash_form() -> None:
    assert find_session_cookie({"__Secure-myapp.session_token": "v"}, prefix="myapp") == "v"
    assert find_session_cookie({"myapp-session_token": "v"}, prefix="myapp") == "v"
    assert find_session_cookie({"better-auth.session_token": "v"}, prefix="myapp") is None


def test_custom_cookie_name_replaces_prefix_and_name() -> None:
    names = session_cookie_names(prefix="ignored", cookie_name="sid")
    assert names == ("__Secure-sid", "sid")
    assert find_session_cookie({"sid": "v"}, cookie_name="sid") == "v"


def test_empty_value_counts_as_absent() -> None:
    assert find_session_cookie({"better-auth.session_token": ""}) is None


def test_session_data_whole_and_chunked() -> None:
    assert find_session_data_cookie({"better-auth.session_data": "abc"}) == "abc"
    chunked = {
        "better-auth.session_data.1": "def",
        "better-auth.session_data.0": "abc",
        "better-auth.session_data.2": "gh",
    }
    assert find_session_data_cookie(chunked) == "abcdefgh"
    secure = {f"__Secure-x.session_data.{i}": str(i) for i in range(12)}
    assert find_session_data_cookie(secure, prefix="x") == "".join(str(i) for i in range(12))


def test_chunks_with_gaps_or_junk_are_ignored() -> None:
    assert find_session_data_cookie({"better-auth.session_data.1": "x"}) is None
    assert (
        find_session_data_cookie(
            {"better-auth.session_data.0": "a", "better-auth.session_data.2": "c"}
        )
        is None
    )
    assert find_session_data_cookie({"better-auth.session_data.x": "a"}) is None
