"""Better Auth's signed session token: ``token + "." + base64(HMAC-SHA256(secret, token))``.

The signature is standard base64 with padding (44 characters). In cookies the
whole value is URL-encoded; the bearer plugin's ``set-auth-token`` header is
not. Better Auth splits at the last ``.``.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from authbridge.errors import InvalidSignature, SessionInvalid, TokenTooLarge
from authbridge.jose.mac import hmac_sign

__all__ = [
    "MAX_CREDENTIAL_LENGTH",
    "SessionToken",
    "parse_session_credential",
    "sign_session_token",
    "signed_cookie_value",
    "verify_token_signature",
]

# A Better Auth session token is 32 characters; a signed one is 77. Leave room
# for custom ID generators, but refuse anything absurd before decoding it.
MAX_CREDENTIAL_LENGTH = 1024

_SIGNATURE_LENGTH = 44
_SIGNATURE_RE = re.compile(r"[A-Za-z0-9+/]{43}=")
# Printable ASCII without separators that never occur in a generated ID.
_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-]{1,512}")


@dataclass(frozen=True, slots=True)
class SessionToken:
    """A parsed credential. ``signature`` is None for a raw (unsigned) token."""

    token: str
    signature: str | None

    def __repr__(self) -> str:  # never print the token
        return f"SessionToken(signed={self.signature is not None})"


def sign_session_token(token: str, secret: str) -> str:
    """The signed form Better Auth puts in cookies (before URL-encoding)."""
    return f"{token}.{_signature(token, secret)}"


def signed_cookie_value(token: str, secret: str) -> str:
    """The ``Set-Cookie`` value: the signed token URL-encoded like JS ``encodeURIComponent``."""
    return quote(sign_session_token(token, secret), safe="-_.!~*'()")


def _signature(token: str, secret: str) -> str:
    mac = hmac_sign(secret.encode("utf-8"), token.encode("utf-8"))
    return base64.b64encode(mac).decode("ascii")


def parse_session_credential(credential: str, *, allow_unsigned: bool) -> SessionToken:
    """Split a bearer or cookie value into token and signature; check only the form.

    Accepts ``token.signature`` URL-encoded or not. A raw token without a
    signature is refused unless ``allow_unsigned``.
    """
    if len(credential) > MAX_CREDENTIAL_LENGTH:
        raise TokenTooLarge()
    value = credential.strip()
    if "%" in value:
        try:
            value = unquote(value, errors="strict")
        except UnicodeDecodeError:
            raise SessionInvalid("The session token is malformed.") from None
    if not _is_ascii(value):
        raise SessionInvalid("The session token is malformed.")
    token, dot, signature = value.rpartition(".")
    if not dot:
        if not allow_unsigned:
            raise SessionInvalid("The session token must be signed.")
        if not _TOKEN_RE.fullmatch(value):
            raise SessionInvalid("The session token is malformed.")
        return SessionToken(token=value, signature=None)
    if not _TOKEN_RE.fullmatch(token) or len(signature) != _SIGNATURE_LENGTH:
        raise SessionInvalid("The session token is malformed.")
    if not _SIGNATURE_RE.fullmatch(signature):
        raise SessionInvalid("The session token is malformed.")
    return SessionToken(token=token, signature=signature)


def verify_token_signature(parsed: SessionToken, secret: str) -> None:
    """Constant-time HMAC check against one secret; raises :class:`InvalidSignature`."""
    if parsed.signature is None:
        raise SessionInvalid("The session token must be signed.")
    expected = _signature(parsed.token, secret)
    # Compared as text: the signature must be the one canonical spelling, not any base64
    # that decodes to the same bytes.
    if not hmac.compare_digest(expected.encode("ascii"), parsed.signature.encode("ascii")):
        raise InvalidSignature("The session token's signature is invalid.")


def _is_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()
