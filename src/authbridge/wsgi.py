"""The bearer credential of a WSGI request, for the Flask and Django layers.

A WSGI server hands headers over as ``HTTP_*`` strings decoded as latin-1 (PEP 3333);
encoding them back gives the bytes the client sent, which ``credentials.py`` reads exactly
as it reads an ASGI scope's. A server that folds two ``Authorization`` headers into one
value (``"Bearer a, Bearer b"``) produces a value outside the b64token syntax: 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .credentials import bearer_from_headers

__all__ = ["bearer_from_environ", "has_authorization"]


def has_authorization(meta: Mapping[str, Any]) -> bool:
    """Whether the request carries an ``Authorization`` header at all."""
    return "HTTP_AUTHORIZATION" in meta


def bearer_from_environ(meta: Mapping[str, Any], *, session_tokens: bool = False) -> str:
    """The bearer token of a WSGI environ (``meta``: Django's ``request.META``, Flask's
    ``request.environ``), or ``TokenMissing`` / ``InvalidRequest`` (``bearer_from_headers``)."""
    value = meta.get("HTTP_AUTHORIZATION")
    headers = [] if value is None else [(b"authorization", str(value).encode("latin-1"))]
    query = str(meta.get("QUERY_STRING", "")).encode("latin-1")
    return bearer_from_headers(headers, query, session_tokens=session_tokens)
