"""Tell what a credential is, without verifying it: JWT, cookie cache, JWE, session token.

Everything here reads untrusted input for display only. Nothing decoded here is trusted; the
doctor's verdict always comes from ``Verifier.verify``. Values that are themselves
credentials (the raw session token inside a cookie cache) are masked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..errors import AuthError
from ..jose import b64url_decode, b64url_decode_for_display, loads_object
from ..jose.algorithms import ALGORITHMS

__all__ = ["Kind", "Recognized", "algorithm_hint", "recognize"]

Kind = Literal[
    "jwt",
    "cookie_cache_jwt",
    "cookie_cache_jwks",
    "cookie_cache_jwe",
    "cookie_cache_compact",
    "jwe",
    "session_token",
    "unknown",
]

SESSION_CACHE_TYP: Final = "better-auth.session-cache+jwt"
_RAW_SESSION_TOKEN: Final = re.compile(r"[A-Za-z0-9]{32}")
_MASK: Final = "•••• (masked)"
_SESSION_MODE_FIX: Final = (
    "To call your API with it, either exchange it for a JWT (GET /api/auth/token with "
    "'Authorization: Bearer <session token>' and Better Auth's bearer() plugin, or "
    "authClient.token() in the browser), or enable session mode in the API "
    "(AUTHBRIDGE_SESSION_MODE=database or remote)."
)


@dataclass(slots=True)
class Recognized:
    """What the credential looks like. ``header``/``claims`` are unverified."""

    kind: Kind
    title: str
    header: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None
    explanation: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def is_jws(self) -> bool:
        return self.kind in ("jwt", "cookie_cache_jwt", "cookie_cache_jwks")


def _lenient_b64url(segment: str) -> bytes | None:
    """Strict decoding first; stray bits in the last character are decoded too, for display."""
    try:
        return b64url_decode(segment)
    except ValueError:
        pass
    try:
        return b64url_decode_for_display(segment)
    except ValueError:
        return None


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        return loads_object(raw)
    except ValueError:
        pass
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _mask_session_token(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy with ``session.token`` (a live credential) masked."""
    session = payload.get("session")
    if isinstance(session, dict) and "token" in session:
        payload = {**payload, "session": {**session, "token": _MASK}}
    inner = payload.get("session")
    if isinstance(inner, dict) and isinstance(inner.get("session"), dict):
        payload = {**payload, "session": _mask_session_token(inner)}
    if "sid" in payload and isinstance(payload.get("session"), dict):
        payload = {**payload, "sid": _MASK}  # the session-cache JWT's sid is the token
    return payload


def algorithm_hint(alg: object) -> str:
    if alg == "none":
        return "alg none: the token is unsigned; no verifier may accept it."
    if type(alg) is not str or alg not in ALGORITHMS:
        return f"alg {alg!r} is not a JWS algorithm authbridge knows."
    if ALGORITHMS[alg].symmetric:
        return (
            f"alg {alg}: verify with a shared secret (AUTHBRIDGE_JWT_SECRET). Better Auth's "
            "JWT plugin never issues HS* tokens; only its session_data cookie cache does."
        )
    return f"alg {alg}: verify with the issuer's JWKS, not a shared secret."


def recognize(value: str) -> Recognized:
    """Classify ``value`` (already stripped of 'Bearer ' and cookie names)."""
    if not value:
        return Recognized("unknown", "Empty input", explanation=["There is nothing to decode."])
    if not value.isascii() or not value.isprintable():
        return _unknown(value, "It contains non-ASCII or control characters.")
    segments = value.split(".")
    if len(segments) == 3:
        found = _jws(segments)
        if found is not None:
            return found
    if len(segments) == 5:
        found = _jwe(segments)
        if found is not None:
            return found
    session = _session_token(value)
    if session is not None:
        return session
    if len(segments) == 1:
        found = _compact_cookie_cache(value)
        if found is not None:
            return found
    return _unknown(value, None)


def _jws(segments: list[str]) -> Recognized | None:
    header = _json_object(_lenient_b64url(segments[0]))
    if header is None or "alg" not in header:
        return None
    claims = _json_object(_lenient_b64url(segments[1]))
    signature = _lenient_b64url(segments[2])
    alg = header.get("alg")
    details: dict[str, Any] = {
        "signature_bytes": len(signature) if signature is not None else None,
        "canonical_base64url": _is_canonical(segments),
    }
    explanation: list[str] = []
    if not details["canonical_base64url"]:
        explanation.append(
            "Some segment is not canonical base64url (padding, '+' or '/'): "
            "authbridge rejects such tokens."
        )
    if claims is None:
        explanation.append("The payload is not a JSON object.")
    hints = [algorithm_hint(alg)]
    if header.get("typ") == SESSION_CACHE_TYP:
        return Recognized(
            "cookie_cache_jwks",
            "Better Auth session_data cookie (cookie cache, jwt strategy signed with the JWKS)",
            header,
            _mask_session_token(claims) if claims else claims,
            explanation=[
                *explanation,
                "Better Auth's jwt({ sessionCookieCache: true }) cookie cache. Its audience is "
                "'better-auth:session-cache': it is a cache of the session for Better Auth "
                "itself, not an access token for your API.",
            ],
            hints=[*hints, _SESSION_MODE_FIX],
            details=details,
        )
    if claims is not None and isinstance(claims.get("session"), dict) and "user" in claims:
        return Recognized(
            "cookie_cache_jwt",
            "Better Auth session_data cookie (cookie cache, jwt strategy)",
            header,
            _mask_session_token(claims),
            explanation=[
                *explanation,
                "An HS256 JWS signed with BETTER_AUTH_SECRET's raw bytes, holding a copy of the "
                "session and user for at most cookieCache.maxAge (5 min by default). It is not "
                "an access token: it has no iss, aud or sub.",
            ],
            hints=[*hints, _SESSION_MODE_FIX],
            details=details,
        )
    kind_hint = []
    if (
        claims is not None
        and set(header) <= {"alg", "kid"}
        and "kid" in header
        and claims.get("iss") is not None
        and claims.get("iss") == claims.get("aud")
    ):
        kind_hint.append(
            "Shaped like a Better Auth JWT-plugin token (/api/auth/token): header {alg, kid}, "
            "iss = aud = the auth server's origin."
        )
    if (
        "kid" not in header
        and type(alg) is str
        and not getattr(ALGORITHMS.get(alg), "symmetric", True)
    ):
        hints.append("The header has no kid: a JWKS verifier cannot pick a key for it.")
    return Recognized(
        "jwt",
        "JSON Web Token (compact JWS)",
        header,
        claims,
        explanation=[*explanation, *kind_hint],
        hints=hints,
        details=details,
    )


def _is_canonical(segments: list[str]) -> bool:
    try:
        for segment in segments:
            b64url_decode(segment)
    except ValueError:
        return False
    return True


def _jwe(segments: list[str]) -> Recognized | None:
    header = _json_object(_lenient_b64url(segments[0]))
    if header is None or "enc" not in header:
        return None
    if header.get("alg") == "dir" and header.get("enc") == "A256CBC-HS512":
        return Recognized(
            "cookie_cache_jwe",
            "Better Auth session_data cookie (cookie cache, jwe strategy)",
            header,
            explanation=[
                "An encrypted JWE (dir + A256CBC-HS512) whose key is derived from "
                "BETTER_AUTH_SECRET (HKDF-SHA256). Its content cannot be shown without the "
                "secret. It caches the session for Better Auth itself; it is not an access "
                "token for your API.",
            ],
            hints=[_SESSION_MODE_FIX],
        )
    return Recognized(
        "jwe",
        "Encrypted token (JWE)",
        header,
        explanation=[
            "A JWE (5 segments) is encrypted, not signed. authbridge verifies signed tokens "
            "(JWS) only; its content cannot be shown without the decryption key.",
        ],
        hints=["Better Auth's /api/auth/token returns a signed JWS (3 segments); send that."],
    )


def _session_token(value: str) -> Recognized | None:
    # Imported here: the sessions package pulls in SQLAlchemy, which JWT commands never need.
    from ..sessions.token import parse_session_credential

    try:
        parsed = parse_session_credential(value, allow_unsigned=True)
    except AuthError:
        return None
    signed = parsed.signature is not None
    if not signed and not _RAW_SESSION_TOKEN.fullmatch(value):
        return None  # anything alphanumeric would match; only Better Auth's 32 chars count
    encoded = "%" in value
    form = "signed session token (token.signature)" if signed else "raw session token"
    explanation = [
        "An opaque Better Auth session token: the id of a row in Better Auth's session table"
        + (
            ", followed by '.' and an HMAC-SHA256 signature made with BETTER_AUTH_SECRET."
            if signed
            else "."
        ),
        "It is not a JWT, so it cannot be verified with a JWKS or a shared secret alone: "
        "checking it needs BETTER_AUTH_SECRET and the session store (revocation and expiry "
        "live there).",
    ]
    if encoded:
        explanation.append("It is URL-encoded, as in the session cookie (%2B, %2F, %3D).")
    if not signed:
        explanation.append(
            "Unsigned: this is the 'token' field of a sign-in response. Better Auth's bearer "
            "plugin accepts it unless requireSignature is on."
        )
    return Recognized(
        "session_token",
        f"Better Auth {form}",
        explanation=explanation,
        hints=[_SESSION_MODE_FIX],
        details={
            "signed": signed,
            "url_encoded": encoded,
            "token_chars": len(parsed.token),
        },
    )


def _compact_cookie_cache(value: str) -> Recognized | None:
    outer = _json_object(_lenient_b64url(value))
    if outer is None or not isinstance(outer.get("session"), dict) or "signature" not in outer:
        return None
    payload = _mask_session_token({"session": outer["session"]})
    claims = {**payload, "expiresAt": outer.get("expiresAt")}
    return Recognized(
        "cookie_cache_compact",
        "Better Auth session_data cookie (cookie cache, compact strategy)",
        claims=claims,
        explanation=[
            "base64url JSON {session, expiresAt, signature}: a copy of the session and user, "
            "HMAC-signed with BETTER_AUTH_SECRET, valid for cookieCache.maxAge (5 min by "
            "default). It caches the session for Better Auth itself; it is not an access token.",
        ],
        hints=[_SESSION_MODE_FIX],
    )


def _unknown(value: str, reason: str | None) -> Recognized:
    segments = value.count(".") + 1
    explanation = [reason] if reason else []
    if segments == 3:
        explanation.append(
            "It has 3 dot-separated parts, but the first is not base64url JSON with an 'alg': "
            "not a JWT."
        )
    elif value.startswith("ey"):
        explanation.append(
            f"It starts like a JWT but has {segments} part(s); a JWT has 3. "
            "Was it cut off when copying?"
        )
    else:
        explanation.append(
            f"Not a JWT (3 base64url parts; this has {segments}), not a JWE (5 parts), "
            "not a Better Auth session token (32 characters, optionally '.' + a 44-character "
            "signature) and not a session_data cookie."
        )
    return Recognized(
        "unknown",
        "Unrecognised input",
        explanation=explanation,
        details={"length": len(value), "segments": segments},
    )
