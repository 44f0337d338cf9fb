"""CORS origins as browsers send them: the one parser of a ``CORS_ORIGINS`` list.

An API that reads its allowed origins from a variable and ``authbridge check``, which
reports on that variable, both call ``parse_cors_origins``, so the two cannot disagree.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .config import origin_of
from .errors import ConfigError

__all__ = ["parse_cors_origins", "split_origins"]


def split_origins(value: str) -> list[str]:
    """The entries of a comma-separated list, stripped, empty ones dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_cors_origins(value: str) -> list[str]:
    """The origins in a ``CORS_ORIGINS`` value, or a ``ValueError`` naming the first entry
    that is not one. ``authbridge check`` calls this too: a service that parses its origins with
    it and the check cannot disagree.

    An entry must be exactly what a browser sends in its ``Origin`` header (the middleware
    compares strings): scheme, host and port only, lower-case, no default port, no path or
    trailing slash. ``*`` alone allows every origin (and turns credentials off); a wildcard
    inside a host never matches anything, so it is refused.
    """
    origins = split_origins(value)
    for origin in origins:
        if origin == "*":
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or origin != f"{parts.scheme}://{parts.netloc}":
            raise ValueError(
                f"{origin!r} is not an origin like https://app.example.com "
                "(scheme, host and port only: no path, no trailing slash)"
            )
        if "*" in origin:
            raise ValueError(
                f"{origin!r} has a wildcard, but origins are matched exactly: list each one, "
                "or use * alone"
            )
        try:
            sent = origin_of(origin, "CORS_ORIGINS")
        except ConfigError:
            raise ValueError(f"{origin!r} is not an origin like https://app.example.com") from None
        if sent != origin:
            raise ValueError(f"{origin!r} never matches: browsers send this origin as {sent!r}")
    return origins
