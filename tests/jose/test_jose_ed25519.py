"""Ed25519's two implementations: libsodium (PyNaCl, the ``nacl`` extra) and OpenSSL.

They must give the same verdict on everything a signer can produce, and the only difference
allowed is libsodium's extra strictness: a small-order R, which only the key's owner can
build, is refused. The Wycheproof vectors run through both (tests/test_wycheproof.py).
"""

from __future__ import annotations

import hashlib
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from authbridge.extras import MissingExtra
from authbridge.jose import algorithms
from authbridge.jose.algorithms import (
    _ED25519_L,
    ED25519_BACKENDS,
    ed25519_backend,
    get_algorithm,
    use_ed25519_backend,
)

EDDSA = get_algorithm("EdDSA")
_KEY = ed25519.Ed25519PrivateKey.generate()


def _verdicts(public: ed25519.Ed25519PublicKey, message: bytes, signature: bytes) -> set[bool]:
    found = set()
    try:
        for name in ED25519_BACKENDS:
            use_ed25519_backend(name)
            found.add(EDDSA.verify(public, message, signature))
    finally:
        use_ed25519_backend()
    return found


def test_libsodium_is_the_default_where_pynacl_is_installed() -> None:
    # The development environment has PyNaCl (``all`` includes ``nacl``): no test skips it.
    assert use_ed25519_backend() == "libsodium"
    assert ed25519_backend() == "libsodium"


@settings(max_examples=150, deadline=None)
@given(message=st.binary(max_size=600), flip=st.integers(min_value=0, max_value=8 * 64 - 1))
def test_both_accept_a_signature_and_refuse_it_with_any_bit_flipped(
    message: bytes, flip: int
) -> None:
    public = _KEY.public_key()
    signature = _KEY.sign(message)
    assert _verdicts(public, message, signature) == {True}
    tampered = bytearray(signature)
    tampered[flip // 8] ^= 1 << (flip % 8)
    assert _verdicts(public, message, bytes(tampered)) == {False}
    if message:
        changed = bytes([message[0] ^ 1]) + message[1:]
        assert _verdicts(public, changed, signature) == {False}


def test_both_refuse_s_plus_the_group_order(ed25519_impl: str) -> None:
    message = b"malleable"
    signature = _KEY.sign(message)
    s = int.from_bytes(signature[32:], "little") + _ED25519_L
    assert s < 2**256
    twin = signature[:32] + s.to_bytes(32, "little")
    assert not EDDSA.verify(_KEY.public_key(), message, twin)
    assert EDDSA.verify(_KEY.public_key(), message, signature)


@pytest.mark.parametrize("length", [0, 63, 65, 128])
def test_both_refuse_a_signature_of_the_wrong_length(ed25519_impl: str, length: int) -> None:
    message = b"length"
    signature = (_KEY.sign(message) * 2)[:length]
    assert not EDDSA.verify(_KEY.public_key(), message, signature)


def _small_order_r_signature(private: ed25519.Ed25519PrivateKey, message: bytes) -> bytes:
    """A signature whose R is the identity point: [S]B = R + [k]A holds with S = k·a, so a
    cofactorless check passes, but no honest signer makes one (RFC 8032 §5.1.6)."""
    digest = hashlib.sha512(private.private_bytes_raw()).digest()
    a = int.from_bytes(digest[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    r = (1).to_bytes(32, "little")  # the identity, (0, 1)
    public = private.public_key().public_bytes_raw()
    k = int.from_bytes(hashlib.sha512(r + public + message).digest(), "little") % _ED25519_L
    return r + (k * a % _ED25519_L).to_bytes(32, "little")


def test_a_small_order_r_is_refused_by_libsodium_and_accepted_by_openssl() -> None:
    message = b"small-order R"
    signature = _small_order_r_signature(_KEY, message)
    try:
        assert use_ed25519_backend("openssl") == "openssl"
        assert EDDSA.verify(_KEY.public_key(), message, signature)
        assert use_ed25519_backend("libsodium") == "libsodium"
        assert not EDDSA.verify(_KEY.public_key(), message, signature)
    finally:
        use_ed25519_backend()


def test_many_keys_past_the_raw_key_bound_are_never_confused(ed25519_impl: str) -> None:
    keys = [ed25519.Ed25519PrivateKey.generate() for _ in range(algorithms._PREPARED_KEYS_MAX + 5)]
    message = b"which key"
    signatures = [k.sign(message) for k in keys]
    for _ in range(2):  # the second pass meets the bound's clearing
        for i, key in enumerate(keys):
            public = key.public_key()
            assert EDDSA.verify(public, message, signatures[i])
            assert not EDDSA.verify(public, message, signatures[i - 1])


def test_an_unknown_backend_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown Ed25519 backend 'sodium'"):
        use_ed25519_backend("sodium")
    assert ed25519_backend() == "libsodium"


def test_without_pynacl_the_default_is_openssl_and_libsodium_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "nacl.bindings", None)  # import raises ImportError
    try:
        with pytest.raises(MissingExtra, match=r"needs PyNaCl: pip install 'authbridge\[nacl\]'"):
            use_ed25519_backend("libsodium")
        assert use_ed25519_backend() == "openssl"
        message = b"fallback"
        assert EDDSA.verify(_KEY.public_key(), message, _KEY.sign(message))
    finally:
        monkeypatch.undo()
        use_ed25519_backend()
    assert ed25519_backend() == "libsodium"
