"""Algorithms: exact lookup, binding to key types, sign/verify round trips, fixed lengths."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from authbridge.jose.algorithms import (
    _EC_CURVES,
    ALGORITHMS,
    ASYMMETRIC,
    SYMMETRIC,
    get_algorithm,
    raw_to_der,
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


@settings(max_examples=400, deadline=None)
@given(
    size=st.sampled_from([32, 48, 66]),
    data=st.data(),
)
def test_raw_to_der_matches_cryptography(size: int, data: st.DataObject) -> None:
    # Leading zero bytes and set high bits are the cases DER spells differently.
    byte = st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF]) | st.integers(0, 255)
    r, s = (bytes(data.draw(st.lists(byte, min_size=size, max_size=size))) for _ in range(2))
    expected = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    assert raw_to_der(r, s) == expected


@pytest.mark.parametrize("crv", ["P-256", "P-384", "P-521"])
def test_curve_orders_are_right(crv: str) -> None:
    """``cryptography`` accepts a private value below the group order n and refuses n itself.

    A wrong n would make the r, s range check (CVE-2022-21449) too lenient; P-521's once was.
    """
    curve, size, order, _ = _EC_CURVES[crv]
    assert order.bit_length() <= 8 * size
    ec.derive_private_key(order - 1, curve)
    with pytest.raises(ValueError):
        ec.derive_private_key(order, curve)


class _NeverCalledKey:
    """Stands in for a public key: authbridge's own range check must refuse first."""

    def verify(self, *_: object) -> None:
        raise AssertionError("an out-of-range r or s reached cryptography")


@pytest.mark.parametrize(
    ("name", "crv"), [("ES256", "P-256"), ("ES384", "P-384"), ("ES512", "P-521")]
)
def test_ecdsa_r_and_s_outside_one_to_n_minus_one_are_refused_before_cryptography(
    name: str, crv: str
) -> None:
    _, size, order, _ = _EC_CURVES[crv]
    private, public = _pair(name)
    good = get_algorithm(name).sign(private, b"m")
    assert get_algorithm(name).verify(public, b"m", good)
    r, s = good[:size], good[size:]
    for bad_r, bad_s in [(order, s), (r, order), (0, s), (r, 0), (order + 1, s)]:
        as_bytes = [v if isinstance(v, bytes) else v.to_bytes(size, "big") for v in (bad_r, bad_s)]
        forged = b"".join(as_bytes)
        assert not get_algorithm(name).verify(_NeverCalledKey(), b"m", forged)
        assert not get_algorithm(name).verify(public, b"m", forged)
