"""Build Better Auth session artefacts independently of authbridge, for the session tests.

Each builder follows better-auth's source (cookies/index.ts, crypto/jwt.ts) and uses
other libraries (PyJWT, joserfc, hashlib) so the code under test is not checked
against itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.jwk import OctKey

ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_token() -> str:
    """Like Better Auth's generateId(32)."""
    return "".join(secrets.choice(ALPHANUMERIC) for _ in range(32))


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def sign(token: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), token.encode(), hashlib.sha256).digest()
    return f"{token}.{base64.b64encode(mac).decode()}"


def url_encode(value: str) -> str:
    return value.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def iso(moment: datetime) -> str:
    """JS Date.toISOString(): milliseconds and Z."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def session_data(
    token: str,
    *,
    user_id: str | None = None,
    session_id: str | None = None,
    expires_in: timedelta = timedelta(days=7),
    email: str = "alice@example.com",
    name: str = "Alice",
    role: str | None = "user",
    version: str = "1",
) -> dict[str, Any]:
    """The ``sessionData`` object Better Auth's setCookieCache builds."""
    now = datetime.now(UTC)
    user_id = user_id or uuid.uuid4().hex
    user: dict[str, Any] = {
        "name": name,
        "email": email,
        "emailVerified": False,
        "image": None,
        "createdAt": iso(now),
        "updatedAt": iso(now),
    }
    if role is not None:
        user["role"] = role
    user["id"] = user_id
    return {
        "session": {
            "expiresAt": iso(now + expires_in),
            "token": token,
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "ipAddress": "127.0.0.1",
            "userAgent": "pytest",
            "userId": user_id,
            "id": session_id or uuid.uuid4().hex,
        },
        "user": user,
        "updatedAt": int(now.timestamp() * 1000),
        "version": version,
    }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _js_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compact_cookie(data: dict[str, Any], secret: str, *, max_age: int = 300) -> str:
    expires_at = int(time.time() * 1000) + max_age * 1000
    signature = _b64url(
        hmac.new(
            secret.encode(), _js_json({**data, "expiresAt": expires_at}).encode(), hashlib.sha256
        ).digest()
    )
    outer = {"session": data, "expiresAt": expires_at, "signature": signature}
    return _b64url(_js_json(outer).encode())


def jwt_cookie(data: dict[str, Any], secret: str, *, max_age: int = 300) -> str:
    now = int(time.time())
    claims = {**data, "iat": now, "exp": now + max_age}
    return pyjwt.encode(claims, secret.encode(), algorithm="HS256", headers={"typ": None})


def hkdf_key(secret: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=64,
        salt=b"better-auth-session",
        info=b"BetterAuth.js Generated Encryption Key",
    ).derive(secret.encode())


def jwe_cookie(
    data: dict[str, Any], secret: str, *, max_age: int = 300, with_kid: bool = True
) -> str:
    key = OctKey.import_key(hkdf_key(secret))
    now = int(time.time())
    claims = {**data, "iat": now, "exp": now + max_age, "jti": str(uuid.uuid4())}
    header: dict[str, Any] = {"alg": "dir", "enc": "A256CBC-HS512"}
    if with_kid:
        header["kid"] = key.thumbprint()
    return jwe.encrypt_compact(header, _js_json(claims).encode(), key)
