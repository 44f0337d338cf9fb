"""Credentials out of log text: the one place that knows what a credential looks like (V56).

Two ways to recognize one:

* **By shape**, anywhere in any text (``redact_credentials``): a compact JWS (its header or
  payload is base64url JSON, which starts ``eyJ``, i.e. ``{"``) and a signed Better Auth
  session token (``token.`` + 43 base64 characters + ``=``, raw or URL-encoded as in its
  cookie).
* **By name**, in a URL's query string (``redact_url``, ``redact_query``): the value of every
  parameter whose name, percent-decoded and in any case, reads like a credential
  (``access_token``, ``token``, ``api_key``, ``password``, ``session``, ``code``...).

A bare opaque token under a harmless name (``?q=<token>``) cannot be told from data; nothing
here claims to catch it.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote_plus

__all__ = [
    "JWS_LIKE",
    "REDACTED",
    "is_credential_name",
    "redact_credentials",
    "redact_query",
    "redact_url",
]

REDACTED: Final = "[redacted]"

# A JWS or a JWS-shaped fragment: a header or payload segment ("eyJ" is '{"'), with its
# neighbours. Matches a token pasted whole or in part (a kid, a path, a query value).
JWS_LIKE: Final = re.compile(
    r"(?:eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*|[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]{4,})"
    r"(?:\.[A-Za-z0-9_-]*)?"
)
# Better Auth's signed session token: id + "." + base64(HMAC-SHA256) (43 chars + "="), as sent
# in a header or URL-encoded as in its cookie ("+" "/" "=" as %2B %2F %3D).
_SIGNED_SESSION_TOKEN: Final = re.compile(
    r"[A-Za-z0-9_-]{8,512}\.(?:[A-Za-z0-9+/_-]|%2[BbFf]){43}(?:=|%3[Dd])"
)
# One name=value pair of a query string.
_PAIR: Final = re.compile(r"(?:^|(?<=[&;]))([^=&;#]{1,256})=([^&;#]*)")
_CREDENTIAL_NAME: Final = re.compile(
    r"token|secret|passw|pwd|session|auth|jwt|credential|signature|api[-_]?key|cookie"
    r"|^(?:key|code|sig|sid)$"
)


def is_credential_name(name: str) -> bool:
    """Whether a parameter named ``name`` (as sent, maybe percent-encoded) holds a secret."""
    return _CREDENTIAL_NAME.search(unquote_plus(name).lower()) is not None


def _redact_pair(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if not value or value == REDACTED or not is_credential_name(name):
        return match.group(0)
    return f"{name}={REDACTED}"


def redact_credentials(text: str) -> str:
    """``text`` with every credential recognized by its shape redacted."""
    if "eyJ" in text:
        text = JWS_LIKE.sub(REDACTED, text)
    if "." in text:
        text = _SIGNED_SESSION_TOKEN.sub(REDACTED, text)
    return text


def redact_query(query: str) -> str:
    """A query string (no ``?``) with credentials redacted by shape and by name."""
    query = redact_credentials(query)
    return _PAIR.sub(_redact_pair, query) if "=" in query else query


def redact_url(text: str) -> str:
    """A path or URL (or a log argument holding one): credentials redacted by shape, and in
    the query string by parameter name too."""
    path, mark, query = text.partition("?")
    path = redact_credentials(path)
    return path + mark + redact_query(query) if mark else path
