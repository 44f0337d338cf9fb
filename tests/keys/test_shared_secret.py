"""The shared HMAC secret: strength checks (V21) and kid handling on the HS path."""

from __future__ import annotations

import secrets

import pytest

from authbridge.errors import ConfigError, UnknownKey
from authbridge.keys.secret import MIN_SECRET_BYTES, SharedSecret, check_secret
from authbridge.keys.source import KeySource


def test_a_random_secret_binds_each_hmac_algorithm() -> None:
    raw = secrets.token_bytes(64)
    shared = SharedSecret(raw, algorithms=["HS256", "HS384", "HS512"])
    assert isinstance(shared, KeySource)
    assert shared.symmetric is True
    assert shared.algorithms == {"HS256", "HS384", "HS512"}
    for alg in ("HS256", "HS384", "HS512"):
        key = shared.cached_key(None, alg)
        assert key is not None
        assert (key.alg, key.key, key.kty) == (alg, raw, "oct")
    assert shared.cached_key(None, "EdDSA") is None


def test_str_secrets_are_utf8_bytes() -> None:
    text = secrets.token_urlsafe(40)
    key = SharedSecret(text).cached_key(None, "HS256")
    assert key is not None
    assert key.key == text.encode()


async def test_kid_handling() -> None:
    anonymous = SharedSecret(secrets.token_bytes(32))
    assert anonymous.cached_key("whatever", "HS256") is not None
    named = SharedSecret(secrets.token_bytes(32), kid="svc-1")
    assert named.cached_key("svc-1", "HS256") is not None
    assert named.cached_key(None, "HS256") is not None
    assert named.cached_key("svc-2", "HS256") is None
    with pytest.raises(UnknownKey):
        await named.get_key("svc-2", "HS256")
    assert (await named.get_key("svc-1", "HS256")).kid == "svc-1"


async def test_lifecycle_is_a_no_op() -> None:
    shared = SharedSecret(secrets.token_bytes(32))
    await shared.start()
    shared.on_keys_removed(lambda kids: None)
    await shared.aclose()
    assert shared.cached_key(None, "HS256") is not None


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (b"", "0 bytes"),
        (b"x" * (MIN_SECRET_BYTES - 1), "31 bytes"),
        (b"\x00" * 64, "variety"),
        ("password" * 4, "variety"),
    ],
)
def test_check_secret_names_the_variable_it_was_given(secret: bytes | str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_secret(secret, "MY_SECRET")
    assert info.value.variable == "MY_SECRET"
    assert problem in info.value.problem
    assert "authbridge secret" in info.value.fix


def test_non_hmac_algorithms_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        SharedSecret(secrets.token_bytes(32), algorithms=["RS256"])
    assert info.value.variable == "AUTHBRIDGE_ALGORITHMS"
    with pytest.raises(ConfigError):
        SharedSecret(secrets.token_bytes(32), algorithms=["hs256"])


@pytest.mark.parametrize(("alg", "needed"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_secret_at_least_the_hash_size(alg: str, needed: int) -> None:
    assert SharedSecret(secrets.token_bytes(needed), algorithms=[alg]).algorithms == {alg}
    with pytest.raises(ConfigError) as info:
        SharedSecret(secrets.token_bytes(needed - 1), algorithms=[alg], variable="X")
    assert info.value.variable == "X"
