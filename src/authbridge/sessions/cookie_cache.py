"""Decode Better Auth's ``session_data`` cookie cache (``session.cookieCache``).

Three strategies, as in better-auth ``cookies/index.ts`` and ``crypto/jwt.ts``:

* ``compact``: ``b64url(JSON{session, expiresAt, signature})`` where
  ``signature = b64url(HMAC-SHA256(secret, JSON.stringify({...session, expiresAt})))``.
* ``jwt``: an HS256 JWS keyed with the secret's raw UTF-8 bytes. It lives only on
  this path: it is never a bearer token and the main JWT verifier never sees it.
* ``jwe``: ``dir`` + ``A256CBC-HS512`` with ``HKDF-SHA256(secret, "better-auth-session",
  "BetterAuth.js Generated Encryption Key", 64)``; ``kid`` is the key's RFC 7638 thumbprint.

Compact and jwt use the current secret only; jwe tries every versioned secret
and the legacy one (Better Auth's ``symmetricDecodeJWT``). Any failure returns
None so the caller falls back to the authoritative session lookup.

Base64url, JSON, HMAC and the thumbprint are ``authbridge.jose``'s: a cookie is held to the
same rules as a bearer token (canonical base64url, strict JSON without duplicate members,
constant-time MAC checks).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.padding import PKCS7

from authbridge.jose.b64 import b64url_decode
from authbridge.jose.mac import hmac_verify
from authbridge.jose.strict_json import loads_object
from authbridge.jose.thumbprint import oct_thumbprint
from authbridge.sessions.records import SessionRecord

__all__ = [
    "MAX_COOKIE_CACHE_LENGTH",
    "decode_cookie_cache",
    "derive_jwe_key",
    "js_json_stringify",
    "jwe_key_thumbprint",
]

Strategy = Literal["compact", "jwt", "jwe"]

# Better Auth writes at most 100 chunks of ~4 KB.
MAX_COOKIE_CACHE_LENGTH = 100 * 4096
_HKDF_SALT = b"better-auth-session"
_HKDF_INFO = b"BetterAuth.js Generated Encryption Key"
# The strings Better Auth's safeJSONParse revives into Dates before re-serializing.
_ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$")


def decode_cookie_cache(
    value: str,
    *,
    strategy: Strategy,
    secrets: Sequence[str],
    session_token: str,
    version: str = "1",
    now: datetime | None = None,
) -> SessionRecord | None:
    """The cached session if the cookie is authentic, fresh and for ``session_token``; else None.

    ``secrets`` lists the current secret first, then older ones (used by jwe only).
    """
    if not secrets or not value or len(value) > MAX_COOKIE_CACHE_LENGTH or not value.isascii():
        return None
    current = now or datetime.now(UTC)
    now_ms = current.timestamp() * 1000
    decoded: tuple[Mapping[str, Any], float] | None
    if strategy == "compact":
        decoded = _decode_compact(value, secrets[0])
    elif strategy == "jwt":
        decoded = _decode_hs256(value, secrets[0], now_ms)
    elif strategy == "jwe":
        decoded = _decode_jwe(value, secrets, now_ms)
    else:
        return None
    if decoded is None:
        return None
    payload, expires_at_ms = decoded
    if expires_at_ms <= now_ms:
        return None
    return _to_record(payload, session_token=session_token, version=version, now=current)


def _to_record(
    payload: Mapping[str, Any], *, session_token: str, version: str, now: datetime
) -> SessionRecord | None:
    session, user = payload.get("session"), payload.get("user")
    if not isinstance(session, dict) or not isinstance(user, dict):
        return None
    if not isinstance(payload.get("updatedAt"), int | float):
        return None
    cookie_version = payload.get("version") or "1"
    if cookie_version != version:
        return None
    # The cache must belong to the signed session cookie sent with it.
    cached_token = session.get("token")
    if not isinstance(cached_token, str) or not hmac.compare_digest(
        cached_token.encode(), session_token.encode()
    ):
        return None
    record = SessionRecord.from_payload(session, user)
    if record is None or record.is_expired(now):
        return None
    return record


# ---- base64url and JSON ----------------------------------------------------------


def _b64url_decode(segment: str) -> bytes | None:
    """Canonical base64url only, as in a token: no padding, no stray bits (V4, V5)."""
    try:
        return b64url_decode(segment)
    except ValueError:
        return None


def _json_object(data: bytes | None) -> dict[str, Any] | None:
    """The verifier's strict parser: duplicate members, NaN, a BOM... mean no cache (V6-V8)."""
    if data is None:
        return None
    try:
        return loads_object(data)
    except (ValueError, RecursionError):
        return None


def _js_revive(value: Any) -> Any:
    """Mirror ``safeJSONParse``'s Date reviver, then ``Date.toJSON()`` on re-serialization."""
    if isinstance(value, str):
        match = _ISO_RE.match(value)
        if match is None:
            return value
        year, month, day, hour, minute, second, fraction = match.groups()
        try:
            datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
        except ValueError:
            return value
        millis = (fraction or "").ljust(3, "0")[:3]
        return f"{year}-{month}-{day}T{hour}:{minute}:{second}.{millis}Z"
    if isinstance(value, dict):
        return {key: _js_revive(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_js_revive(item) for item in value]
    return value


def js_json_stringify(value: Any) -> bytes:
    """UTF-8 bytes of what JS ``JSON.stringify`` yields for parsed JSON (key order kept)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


# ---- compact ----------------------------------------------------------------------


def _decode_compact(value: str, secret: str) -> tuple[Mapping[str, Any], float] | None:
    outer = _json_object(_b64url_decode(value))
    if outer is None:
        return None
    session, expires_at, signature = (
        outer.get("session"),
        outer.get("expiresAt"),
        outer.get("signature"),
    )
    if not isinstance(session, dict) or not isinstance(signature, str):
        return None
    if isinstance(expires_at, bool) or not isinstance(expires_at, int | float):
        return None
    signed = _js_revive(session)
    signed["expiresAt"] = expires_at
    try:
        message = js_json_stringify(signed)
    except (UnicodeEncodeError, ValueError):
        return None
    mac = _b64url_decode(signature)
    if mac is None or not hmac_verify(secret.encode(), message, mac):
        return None
    return session, float(expires_at)


# ---- jwt (HS256, raw secret) -------------------------------------------------------


def _decode_hs256(value: str, secret: str, now_ms: float) -> tuple[Mapping[str, Any], float] | None:
    parts = value.split(".")
    if len(parts) != 3:
        return None
    header = _json_object(_b64url_decode(parts[0]))
    if header is None or header.get("alg") != "HS256" or "crit" in header:
        return None
    signature = _b64url_decode(parts[2])
    if signature is None:
        return None
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    if not hmac_verify(secret.encode(), signing_input, signature):
        return None
    claims = _json_object(_b64url_decode(parts[1]))
    return _claims_window(claims, now_ms)


def _claims_window(
    claims: dict[str, Any] | None, now_ms: float
) -> tuple[Mapping[str, Any], float] | None:
    """The claims and their ``exp`` in ms; ``exp`` is required, ``nbf`` honoured."""
    if claims is None:
        return None
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    if nbf is not None and (not isinstance(nbf, int | float) or nbf * 1000 > now_ms):
        return None
    return claims, float(exp) * 1000


# ---- jwe (dir + A256CBC-HS512, HKDF key) -------------------------------------------


def derive_jwe_key(secret: str) -> bytes:
    """Better Auth's ``deriveEncryptionSecret(secret, "better-auth-session")``: 64 bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=64, salt=_HKDF_SALT, info=_HKDF_INFO).derive(
        secret.encode("utf-8")
    )


def jwe_key_thumbprint(key: bytes) -> str:
    """RFC 7638 SHA-256 thumbprint of ``{"kty":"oct","k":...}``: the JWE header's ``kid``."""
    return oct_thumbprint(key)


def _decode_jwe(
    value: str, secrets: Sequence[str], now_ms: float
) -> tuple[Mapping[str, Any], float] | None:
    parts = value.split(".")
    if len(parts) != 5 or parts[1] != "":
        return None
    header = _json_object(_b64url_decode(parts[0]))
    if header is None or header.get("alg") != "dir" or header.get("enc") != "A256CBC-HS512":
        return None
    if "zip" in header or "crit" in header:
        return None
    iv, ciphertext, tag = (_b64url_decode(part) for part in parts[2:])
    if iv is None or ciphertext is None or tag is None or len(iv) != 16 or len(tag) != 32:
        return None
    kid = header.get("kid")
    keys = [derive_jwe_key(secret) for secret in secrets]
    if kid is not None:
        keys = [key for key in keys if hmac.compare_digest(jwe_key_thumbprint(key), str(kid))]
    aad = parts[0].encode("ascii")
    for key in keys:
        plaintext = _a256cbc_hs512_decrypt(key, aad, iv, ciphertext, tag)
        if plaintext is not None:
            return _claims_window(_json_object(plaintext), now_ms)
    return None


def _a256cbc_hs512_decrypt(
    key: bytes, aad: bytes, iv: bytes, ciphertext: bytes, tag: bytes
) -> bytes | None:
    """RFC 7518 §5.2: HMAC-SHA-512 over AAD‖IV‖C‖AL (first 32 bytes), then AES-256-CBC."""
    mac_key, enc_key = key[:32], key[32:]
    al = (len(aad) * 8).to_bytes(8, "big")
    if len(ciphertext) % 16 or not hmac_verify(
        mac_key, aad + iv + ciphertext + al, tag, digest="sha512", length=32
    ):
        return None
    decryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        return None
