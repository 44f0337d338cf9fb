"""Algorithms: exact lookup, binding to key types, sign/verify round trips, fixed lengths."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from authbridge.jose.algorithms import (
    ALGORITHMS,
    ASYMMETRIC,
    SYMMETRIC,
    get_algorithm,
)
from tokens import _rsa_private

_EC = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}


def _pair(name: str) -> tuple[Any, Any]:
    if name.startswith("HS"):
        key = secrets.token_bytes(64)
        return key, key
    if name == "EdDSA":
        private: Any = ed25519.Ed25519PrivateKey.generate()
    elif name in _EC:
        private = ec.generate_private_key(_EC[name])
    else:
        private = _rsa_private(2048, 0)
    return private, private.public_key()


def test_the_table() -> None:
    assert set(ALGORITHMS) == {
        "HS256", "HS384", "HS512", "EdDSA", "ES256", "ES384", "ES512",
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    }  # fmt: skip
    assert {"HS256", "HS384", "HS512"} == SYMMETRIC
    assert set(ALGORITHMS) == ASYMMETRIC | SYMMETRIC
    for name in ("none", "hs256", "Ed25519", "ES256K", "EdDSA "):
        with pytest.raises(KeyError):
            get_algorithm(name)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_sign_verify_round_trip_and_tamper(name: str) -> None:
    algorithm = get_algorithm(name)
    private, public = _pair(name)
    signature = algorithm.sign(private, b"header.payload")
    assert algorithm.verify(public, b"header.payload", signature)
    assert not algorithm.verify(public, b"header.payloaD", signature)
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert not algorithm.verify(public, b"header.payload", flipped)
    assert not algorithm.verify(public, b"header.payload", signature[:-1])
    assert not algorithm.verify(public, b"header.payload", signature + b"\x00")
    assert algorithm.accepts_key(public)


def test_fixed_signature_sizes() -> None:
    sizes = {
        "HS256": 32,
        "HS384": 48,
        "HS512": 64,
        "EdDSA": 64,
        "ES256": 64,
        "ES384": 96,
        "ES512": 132,
    }
    for name, size in sizes.items():
        private, _ = _pair(name)
        assert len(get_algorithm(name).sign(private, b"m")) == size


def test_accepts_key_checks_type_and_curve() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    rsa_key = _rsa_private(2048, 0).public_key()
    assert get_algorithm("ES256").accepts_key(p256)
    assert not get_algorithm("ES256").accepts_key(p384)
    assert not get_algorithm("ES384").accepts_key(p256)
    assert not get_algorithm("EdDSA").accepts_key(ed448.Ed448PrivateKey.generate().public_key())
    assert not get_algorithm("EdDSA").accepts_key(p256)
    assert not get_algorithm("RS256").accepts_key(ed)
    assert not get_algorithm("HS256").accepts_key(rsa_key)
    assert isinstance(rsa_key, rsa.RSAPublicKey)
    assert get_algorithm("PS256").accepts_key(rsa_key)
    assert get_algorithm("HS256").accepts_key(b"secret")


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(["HS256", "HS384", "HS512"]),
    key=st.binary(max_size=300),  # past both block sizes: long keys are hashed first
    message=st.binary(max_size=400),
)
def test_hmac_with_precomputed_pads_matches_the_standard_library(
    name: str, key: bytes, message: bytes
) -> None:
    algorithm = get_algorithm(name)
    expected = hmac.digest(key, message, f"sha{name[2:]}")
    assert algorithm.verify(key, message, expected)
    assert not algorithm.verify(key, message, bytes([expected[0] ^ 1]) + expected[1:])
    assert not algorithm.verify(key + b"x", message, expected)


def test_hmac_keeps_working_past_its_prepared_key_bound() -> None:
    algorithm = get_algorithm("HS256")
    keys = [secrets.token_bytes(32) for _ in range(40)]
    for _ in range(2):
        for key in keys:
            assert algorithm.verify(key, b"m", hmac.digest(key, b"m", "sha256"))
