"""Keep credentials that clients put in URLs out of the ASGI server's log, at every level (V56).

authbridge never reads ``?access_token=`` (V1), but a client that sends one, or ``?token=``, or
a token pasted into the path, still gets its URL written by uvicorn:

* ``uvicorn.access`` writes the path and query of every request (INFO);
* ``uvicorn.error`` writes WebSocket handshakes, URL and all (INFO);
* ``uvicorn.asgi`` writes, at ``--log-level trace``, every ASGI scope: path, raw path and
  query string (uvicorn replaces headers and bodies with placeholders; if a version did not,
  credential headers are redacted here too).

``redact_access_log`` adds a filter to those loggers that rewrites a record's arguments before
any handler formats them, using ``authbridge.redact``: tokens by shape anywhere, and query
parameters by name (``access_token``, ``token``, ``api_key``... percent-decoded, any case).
Trace logging therefore stays available, and stays free of credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from ..redact import REDACTED, is_credential_name, redact_credentials, redact_query, redact_url

__all__ = ["ACCESS_LOGGERS", "QueryTokenRedactor", "redact_access_log", "redact_log_argument"]

ACCESS_LOGGERS: Final = ("uvicorn.access", "uvicorn.error", "uvicorn.asgi")
_URL_KEYS: Final = frozenset({"path", "raw_path"})


def _text(value: str | bytes, redact: Callable[[str], str]) -> str | bytes:
    if isinstance(value, bytes):
        return bytes(redact(value.decode("latin-1")), "latin-1")
    return redact(value)


def _header(name: Any, value: Any) -> tuple[Any, Any]:
    if not isinstance(value, str | bytes):
        return name, value
    raw = name.decode("latin-1") if isinstance(name, bytes) else str(name)
    if is_credential_name(raw) or raw.lower() in ("authorization", "proxy-authorization"):
        return name, REDACTED.encode() if isinstance(value, bytes) else REDACTED
    return name, _text(value, redact_credentials)


def _scope(scope: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an ASGI scope or message with its URL parts and credential headers redacted."""
    copy = dict(scope)
    for key, value in scope.items():
        if key in _URL_KEYS and isinstance(value, str | bytes):
            copy[key] = _text(value, redact_url)
        elif key == "query_string" and isinstance(value, str | bytes):
            copy[key] = _text(value, redact_query)
        elif key == "headers" and isinstance(value, list | tuple):
            copy[key] = [
                _header(*pair) if isinstance(pair, list | tuple) and len(pair) == 2 else pair
                for pair in value
            ]
    return copy


def redact_log_argument(value: Any) -> Any:
    """One ``%``-argument of a server log record, with any credential in it redacted."""
    if isinstance(value, str | bytes):
        return _text(value, redact_url)
    if isinstance(value, Mapping):
        return _scope(value)
    return value


class QueryTokenRedactor(logging.Filter):
    """Rewrites the message and arguments of each record before it is formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(redact_log_argument(arg) for arg in args)
        elif isinstance(args, Mapping):
            record.args = _scope(args)
        if isinstance(record.msg, str):
            record.msg = redact_url(record.msg)
        return True


def redact_access_log(logger_names: tuple[str, ...] = ACCESS_LOGGERS) -> None:
    """Install the filter once on each logger (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, QueryTokenRedactor) for existing in logger.filters):
            logger.addFilter(QueryTokenRedactor())
