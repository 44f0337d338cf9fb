"""Find the one bearer credential in a request (V1, V2), from its raw headers.

Framework-neutral (every layer passes ``(name, value)`` byte pairs: an ASGI scope's, or a
WSGI environ's), so that FastAPI, Starlette, Flask, Litestar and Django read credentials
alike.

Only ``Authorization: Bearer <token>`` is a credential. A token in the query string is never
used; sent *alongside* a header it makes the request ambiguous, which RFC 6750 §3.1 answers
with ``invalid_request``. The form-body variant needs the body, so it is checked separately
(``form_has_access_token``) and only when a header credential was found.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import parse_qsl

from .errors import InvalidRequest, TokenMissing

__all__ = [
    "FORM_CONTENT_TYPE",
    "api_key_from_headers",
    "bearer_candidate",
    "bearer_from_headers",
    "form_has_access_token",
    "header_value",
    "is_b64token",
    "query_has_access_token",
]

# RFC 6750 §2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
# Checked as: the text without its trailing "=" is not empty and has nothing left once these
# characters are deleted. One C pass over the bytes: a regular expression's fullmatch cost
# about 15,000 instructions on a 600-character token, on every request the cache misses.
_B64TOKEN: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
# With session mode on, a Better Auth session token may also arrive URL-encoded, as copied
# from its cookie ("token.sig%3D"): the same characters plus "%".
_SESSION_TOKEN: Final = _B64TOKEN + b"%"
FORM_CONTENT_TYPE: Final = b"application/x-www-form-urlencoded"
_AUTHORIZATION: Final = b"authorization"


def header_value(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of a (lower-case) header name, or None."""
    for key, value in headers:
        if key == name:
            return value
    return None


def _may_name_access_token(encoded: bytes) -> bool:
    """The cheap test that rules out nearly every request before anything is decoded.

    A name is compared after percent-decoding, as the server decodes it, so ``access%5Ftoken``
    is ``access_token`` too: any ``%`` means the text must be decoded to be sure.
    """
    return b"access_token" in encoded or b"%" in encoded


def _names_access_token(encoded: bytes) -> bool:
    # Decoded exactly as Starlette decodes ``request.query_params`` and urlencoded forms:
    # latin-1 bytes to text, then ``parse_qsl`` (``+`` is a space, ``%XX`` an escape).
    text = encoded.decode("latin-1")
    return any(name == "access_token" for name, _ in parse_qsl(text, keep_blank_values=True))


def query_has_access_token(query_string: bytes) -> bool:
    """Whether the query string carries an ``access_token`` parameter (any value), its name
    compared after percent-decoding."""
    return _may_name_access_token(query_string) and _names_access_token(query_string)


def bearer_from_headers(
    headers: Iterable[tuple[bytes, bytes]],
    query_string: bytes = b"",
    *,
    session_tokens: bool = False,
) -> str:
    """Return the bearer token, or raise ``TokenMissing`` / ``InvalidRequest``.

    ``session_tokens`` also admits ``%`` (a URL-encoded Better Auth session token).

    * no ``Authorization`` header, or another scheme (``Basic ...``): ``TokenMissing``, which
      the HTTP layer answers with a 401 challenge carrying no error code (V47);
    * two ``Authorization`` headers, ``Bearer`` with nothing or more than one token after it,
      a token outside the b64token syntax, or a header plus ``?access_token=``:
      ``InvalidRequest`` (400, V49, V2).
    """
    found: bytes | None = None
    for key, value in headers:
        if key == _AUTHORIZATION:
            if found is not None:
                raise InvalidRequest("The request carries more than one Authorization header.")
            found = value
    if found is None:
        raise TokenMissing()
    scheme, _, credentials = found.partition(b" ")
    if scheme.lower() != b"bearer":
        raise TokenMissing("The request uses an authentication scheme this API does not accept.")
    # Exactly one space, then exactly one b64token (RFC 6750 §2.1).
    if not is_b64token(credentials, session_tokens=session_tokens):
        raise InvalidRequest("The Authorization header is malformed.")
    token = credentials.decode("latin-1")
    if query_has_access_token(query_string):
        raise InvalidRequest("The request carries more than one credential.")
    return token


def is_b64token(credentials: bytes, *, session_tokens: bool = False) -> bool:
    """Whether the text after ``Bearer `` is one b64token (RFC 6750 §2.1); with
    ``session_tokens``, ``%`` is admitted too."""
    body = credentials.rstrip(b"=")
    return bool(body) and not body.translate(None, _SESSION_TOKEN if session_tokens else _B64TOKEN)


def bearer_candidate(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The text after ``Bearer `` in the only ``Authorization`` header, unchecked; else None.

    For the token-cache fast path only: a string found in the verifier's cache already passed
    the strict compact-JWS check, so the b64token syntax check can be skipped. Anything else
    takes ``bearer_from_headers``.
    """
    found: bytes | None = None
    for key, value in headers:
        if key == _AUTHORIZATION:
            if found is not None:
                return None
            found = value
    if found is None or found[:7].lower() != b"bearer ":
        return None
    return found[7:].decode("latin-1")


def form_has_access_token(body: bytes) -> bool:
    """Whether a form-encoded body carries an ``access_token`` field (name percent-decoded)."""
    return _may_name_access_token(body) and _names_access_token(body)


def api_key_from_headers(
    headers: Iterable[tuple[bytes, bytes]], names: tuple[bytes, ...]
) -> tuple[str, str] | None:
    """``(header name, key)`` from the one non-empty API-key header among ``names``; None
    without one. Two of them (the same header twice, or two of the names) are two
    credentials: ``InvalidRequest``. An empty value is no key, as Better Auth reads it."""
    found: tuple[str, str] | None = None
    for key, value in headers:
        if key in names and value:
            if found is not None:
                raise InvalidRequest("The request carries more than one credential.")
            found = (key.decode("latin-1"), value.decode("latin-1"))
    return found
