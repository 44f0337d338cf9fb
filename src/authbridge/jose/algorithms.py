"""JWS algorithms, each bound to one key type, with fixed-length signature checks (V9, V34).

An ``Algorithm`` knows which key type it accepts (``accepts_key``) so a key can be bound to
exactly one algorithm when it is loaded, never when a token names one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ..extras import MissingExtra
from .mac import PreparedHMAC, hmac_sign

__all__ = [
    "ALGORITHMS",
    "ASYMMETRIC",
    "SYMMETRIC",
    "Algorithm",
    "ed25519_backend",
    "get_algorithm",
    "use_ed25519_backend",
]

# Ed25519 group order; a signature's S must be below it (RFC 8032 §5.1.7).
_ED25519_L: Final = 2**252 + 27742317777372353535851937790883648493
_ED25519_L_BIG_ENDIAN: Final = _ED25519_L.to_bytes(32, "big")

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
KeyMaterial = PublicKey | bytes


@dataclass(frozen=True, slots=True)
class Algorithm:
    """One JWS ``alg``: how to verify and sign, and which key type it belongs to."""

    name: str
    family: str  # JWK kty: "oct", "OKP", "EC" or "RSA"
    verify: Callable[[Any, bytes, bytes], bool]
    sign: Callable[[Any, bytes], bytes]
    curve: str | None = None  # JWK crv for OKP/EC

    @property
    def symmetric(self) -> bool:
        return self.family == "oct"

    def accepts_key(self, key: object) -> bool:
        """Whether ``key`` (public, or bytes for HMAC) is of this algorithm's type and curve."""
        if self.family == "oct":
            return isinstance(key, bytes)
        if self.family == "OKP":
            return isinstance(key, ed25519.Ed25519PublicKey)
        if self.family == "EC":
            return (
                isinstance(key, ec.EllipticCurvePublicKey)
                and key.curve.name == _EC_CURVES[self.curve or ""][0].name
            )
        return isinstance(key, rsa.RSAPublicKey)


# --- HMAC ---------------------------------------------------------------------------------


_PREPARED_KEYS_MAX: Final = 16


def _hmac(digest: str) -> tuple[Callable[[Any, bytes, bytes], bool], Callable[[Any, bytes], bytes]]:
    size = hashlib.new(digest).digest_size
    # A process holds a handful of secrets; the bound only guards against misuse.
    prepared: dict[bytes, PreparedHMAC] = {}

    def verify(key: bytes, message: bytes, signature: bytes) -> bool:
        if len(signature) != size:
            return False
        mac = prepared.get(key)
        if mac is None:
            if len(prepared) >= _PREPARED_KEYS_MAX:
                prepared.clear()
            mac = prepared[key] = PreparedHMAC(key, digest)
        # PreparedHMAC.verify, inlined: this is the per-token hot path.
        return hmac.compare_digest(mac.digest(message), signature)

    def sign(key: bytes, message: bytes) -> bytes:
        return hmac_sign(key, message, digest=digest)

    return verify, sign


# --- EdDSA (Ed25519 only; V20) -------------------------------------------------------------
#
# Two implementations of the same check. libsodium (PyNaCl, the ``nacl`` extra, from PyCA like
# ``cryptography``) verifies in about half the time OpenSSL takes (bench/results/verify.md),
# and a fresh EdDSA token's signature is most of what verifying it costs. It is also the
# stricter of the two: it refuses a small-order R, which OpenSSL accepts; keys of small order
# or in a non-canonical encoding never get this far (keys/ed25519_point.py, V24). Without
# PyNaCl, OpenSSL through ``cryptography``. Both refuse an S at or above the group order.

Ed25519Verify = Callable[[ed25519.Ed25519PublicKey, bytes, bytes], bool]


def _openssl_ed25519(key: ed25519.Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _libsodium_ed25519() -> Ed25519Verify | None:
    """libsodium's ``crypto_sign_open`` bound to raw key bytes, or None without PyNaCl.

    Imported on first use, not with this module: ``nacl.bindings`` takes about 20 ms to load,
    which commands that never verify an EdDSA signature should not pay.
    """
    try:
        from nacl.bindings import crypto_sign_open
        from nacl.exceptions import BadSignatureError
    except ImportError:
        return None
    # Raw bytes per key object, kept with the object so that its id is not reused while cached.
    raw_keys: dict[int, tuple[ed25519.Ed25519PublicKey, bytes]] = {}

    def verify(key: ed25519.Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
        entry = raw_keys.get(id(key))
        if entry is None or entry[0] is not key:
            if len(raw_keys) >= _PREPARED_KEYS_MAX:
                raw_keys.clear()
            entry = raw_keys[id(key)] = (key, key.public_bytes_raw())
        try:
            # The combined form (signature then message) is the one PyNaCl exposes; it checks
            # exactly what crypto_sign_verify_detached checks.
            crypto_sign_open(signature + message, entry[1])
        except BadSignatureError:
            return False
        return True

    return verify


ED25519_BACKENDS: Final = ("libsodium", "openssl")
_ed25519_impl: Ed25519Verify | None = None
_ed25519_name = ""


def use_ed25519_backend(name: str | None = None) -> str:
    """Choose how EdDSA signatures are checked, and return the name of the one in use.

    ``None`` picks libsodium when PyNaCl is installed (``authbridge[nacl]``), else OpenSSL.
    Naming one forces it; naming ``"libsodium"`` without PyNaCl raises ``MissingExtra``. The
    choice is process-wide: benchmarks and tests compare the two with it.
    """
    global _ed25519_impl, _ed25519_name
    if name not in (None, *ED25519_BACKENDS):
        raise ValueError(f"unknown Ed25519 backend {name!r}: expected one of {ED25519_BACKENDS}")
    sodium = _libsodium_ed25519() if name != "openssl" else None
    if name == "libsodium" and sodium is None:
        raise MissingExtra("the libsodium Ed25519 backend", "PyNaCl", "nacl", "nacl")
    _ed25519_impl, _ed25519_name = (
        (sodium, "libsodium") if sodium is not None else (_openssl_ed25519, "openssl")
    )
    return _ed25519_name


def ed25519_backend() -> str:
    """The name of the implementation that checks EdDSA signatures: libsodium or openssl."""
    return _ed25519_name or use_ed25519_backend()


def _ed25519_verify(key: ed25519.Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    # S is little-endian: reversed, it compares as a big-endian number, with no int built.
    if len(signature) != 64 or signature[:31:-1] >= _ED25519_L_BIG_ENDIAN:
        return False
    impl = _ed25519_impl
    if impl is None:
        use_ed25519_backend()
        impl = _ed25519_impl
        assert impl is not None
    return impl(key, message, signature)


def _ed25519_sign(key: ed25519.Ed25519PrivateKey, message: bytes) -> bytes:
    return key.sign(message)


# --- ECDSA (raw R||S, V34) -------------------------------------------------------------------

_EC_CURVES: dict[str, tuple[ec.EllipticCurve, int, int, hashes.HashAlgorithm]] = {
    # crv: (curve, coordinate bytes, group order n, hash)
    "P-256": (
        ec.SECP256R1(),
        32,
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        hashes.SHA256(),
    ),
    "P-384": (
        ec.SECP384R1(),
        48,
        int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
            "581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
        hashes.SHA384(),
    ),
    "P-521": (
        ec.SECP521R1(),
        66,
        int(
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA"
            "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            16,
        ),
        hashes.SHA512(),
    ),
}


def _der_parts(size: int) -> dict[tuple[bool, bool], tuple[bytes, bytes]]:
    """DER framing of ``SEQUENCE {INTEGER r, INTEGER s}`` for each pair of high bits.

    Valid when neither value has a leading zero byte, so DER keeps all ``size`` bytes and adds
    one zero byte before a set high bit. Short-form lengths only: P-256 and P-384.
    """
    parts = {}
    for r_high in (False, True):
        for s_high in (False, True):
            r_len, s_len = size + r_high, size + s_high
            prefix = bytes([0x30, 4 + r_len + s_len, 0x02, r_len]) + b"\0" * r_high
            parts[r_high, s_high] = (prefix, bytes([0x02, s_len]) + b"\0" * s_high)
    return parts


def raw_to_der(r: bytes, s: bytes) -> bytes:
    """The DER signature ``cryptography`` verifies, from JOSE's fixed-size ``R || S``."""
    parts = _DER_PARTS.get(len(r))
    if parts is None or not (r[0] and s[0]):  # leading zero bytes: DER drops them
        return encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
    prefix, middle = parts[r[0] >= 0x80, s[0] >= 0x80]
    return b"".join((prefix, r, middle, s))


_DER_PARTS: Final = {size: _der_parts(size) for size in (32, 48)}


def _ecdsa(crv: str) -> tuple[Callable[[Any, bytes, bytes], bool], Callable[[Any, bytes], bytes]]:
    _, size, order, digest = _EC_CURVES[crv]
    # ec.ECDSA() imports OpenSSL's backend (~10 ms): built on first use, not at import.
    scheme: ec.ECDSA | None = None
    # Equal-length big-endian bytes compare as the numbers they spell.
    zero, order_bytes = bytes(size), order.to_bytes(size, "big")

    def verify(key: ec.EllipticCurvePublicKey, message: bytes, signature: bytes) -> bool:
        nonlocal scheme
        if len(signature) != 2 * size:
            return False
        r, s = signature[:size], signature[size:]
        # Psychic signatures (CVE-2022-21449): r and s must lie in [1, n-1].
        if not (zero < r < order_bytes and zero < s < order_bytes):
            return False
        if scheme is None:
            scheme = ec.ECDSA(digest)
        try:
            key.verify(raw_to_der(r, s), message, scheme)
        except InvalidSignature:
            return False
        return True

    def sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
        nonlocal scheme
        if scheme is None:
            scheme = ec.ECDSA(digest)
        r, s = decode_dss_signature(key.sign(message, scheme))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return verify, sign


# --- RSA -------------------------------------------------------------------------------------


def _rsa(
    digest: hashes.HashAlgorithm, pss: bool
) -> tuple[Callable[[Any, bytes, bytes], bool], Callable[[Any, bytes], bytes]]:
    def pad() -> padding.AsymmetricPadding:
        if pss:
            return padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        return padding.PKCS1v15()

    scheme = pad()

    def verify(key: rsa.RSAPublicKey, message: bytes, signature: bytes) -> bool:
        if len(signature) != (key.key_size + 7) // 8:
            return False
        try:
            key.verify(signature, message, scheme, digest)
        except InvalidSignature:
            return False
        return True

    def sign(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
        return key.sign(message, scheme, digest)

    return verify, sign


def _build() -> dict[str, Algorithm]:
    table: dict[str, Algorithm] = {}
    for bits in (256, 384, 512):
        table[f"HS{bits}"] = Algorithm(f"HS{bits}", "oct", *_hmac(f"sha{bits}"))
    table["EdDSA"] = Algorithm("EdDSA", "OKP", _ed25519_verify, _ed25519_sign, "Ed25519")
    for name, crv in (("ES256", "P-256"), ("ES384", "P-384"), ("ES512", "P-521")):
        table[name] = Algorithm(name, "EC", *_ecdsa(crv), crv)
    for bits, digest in ((256, hashes.SHA256()), (384, hashes.SHA384()), (512, hashes.SHA512())):
        table[f"RS{bits}"] = Algorithm(f"RS{bits}", "RSA", *_rsa(digest, pss=False))
        table[f"PS{bits}"] = Algorithm(f"PS{bits}", "RSA", *_rsa(digest, pss=True))
    return table


ALGORITHMS: Final[dict[str, Algorithm]] = _build()
SYMMETRIC: Final = frozenset(n for n, a in ALGORITHMS.items() if a.symmetric)
ASYMMETRIC: Final = frozenset(n for n, a in ALGORITHMS.items() if not a.symmetric)

# What Better Auth's JWT plugin can emit, plus HS256 for shared-secret service tokens.
DEFAULT_ASYMMETRIC: Final = ("EdDSA", "ES256", "ES512", "PS256", "RS256")
DEFAULT_SYMMETRIC: Final = ("HS256",)


def get_algorithm(name: str) -> Algorithm:
    """Exact, case-sensitive lookup (V9). Raises ``KeyError`` for anything unknown."""
    return ALGORITHMS[name]


def ec_curve_for(crv: str) -> ec.EllipticCurve | None:
    entry = _EC_CURVES.get(crv)
    return entry[0] if entry else None


def ec_coordinate_size(crv: str) -> int:
    return _EC_CURVES[crv][1]
