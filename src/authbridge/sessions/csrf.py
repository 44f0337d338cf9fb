"""CSRF protection for cookie-authenticated requests: an Origin check.

Browsers attach cookies to cross-site requests, so a request authenticated by
a cookie must prove where it came from. On unsafe methods (anything but GET,
HEAD, OPTIONS) the ``Origin`` header, or else the ``Referer``'s origin, must be
a trusted origin. A request with neither is refused: every current browser
sends ``Origin`` on unsafe requests, so only non-browser clients lack it, and
those should send a bearer token instead of a cookie.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from authbridge.errors import CsrfRejected

__all__ = ["SAFE_METHODS", "TrustedOrigins", "check_csrf", "normalize_origin"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_HEADER = 4096


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]``, lower case, no default port; None if not a web origin."""
    value = value.strip()
    if not value or len(value) > _MAX_HEADER or value == "null":
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


class TrustedOrigins:
    """Exact origins, plus ``scheme://*.domain`` patterns that match any subdomain."""

    def __init__(self, origins: Iterable[str]) -> None:
        exact: set[str] = set()
        wildcard: set[tuple[str, str]] = set()
        for origin in origins:
            scheme, sep, rest = origin.strip().partition("://*.")
            if sep:
                normalized = normalize_origin(f"{scheme}://{rest}")
                if normalized is None:
                    raise ValueError("A trusted origin pattern is not a web origin.")
                wildcard_scheme, _, suffix = normalized.partition("://")
                wildcard.add((wildcard_scheme, "." + suffix))
                continue
            normalized = normalize_origin(origin)
            if normalized is None:
                raise ValueError("A trusted origin is not a web origin.")
            exact.add(normalized)
        self._exact = frozenset(exact)
        self._wildcard = frozenset(wildcard)

    def __contains__(self, origin: object) -> bool:
        if not isinstance(origin, str):
            return False
        if origin in self._exact:
            return True
        scheme, _, host = origin.partition("://")
        return any(scheme == s and host.endswith(suffix) for s, suffix in self._wildcard)

    def check(self, method: str, headers: Mapping[str, str]) -> None:
        """Raise :class:`CsrfRejected` unless the request is safe or from a trusted origin."""
        if method.upper() in SAFE_METHODS:
            return
        origin_header = _header(headers, "origin")
        if origin_header is not None:
            origin = normalize_origin(origin_header)
        else:
            referer = _header(headers, "referer")
            origin = normalize_origin(referer) if referer is not None else None
        if origin is None or origin not in self:
            raise CsrfRejected()


def check_csrf(method: str, headers: Mapping[str, str], trusted_origins: Iterable[str]) -> None:
    """One-shot form of :meth:`TrustedOrigins.check`."""
    TrustedOrigins(trusted_origins).check(method, headers)
