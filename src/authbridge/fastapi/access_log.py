"""Keep query-string tokens out of the server's access log (V56).

authbridge never reads ``?access_token=`` (V1), but a client that sends one still gets its URL
written to uvicorn's access log, token included. ``redact_access_log`` adds a filter to the
``uvicorn.access`` logger that replaces, before the line is formatted, the value of every
``access_token`` query parameter (any letter case) and anything shaped like a compact JWS
(a token pasted into a path) with ``[redacted]``. uvicorn logs WebSocket handshakes, URL and
all, on ``uvicorn.error``, so that logger gets the filter too.
"""

from __future__ import annotations

import logging
import re
from typing import Final

__all__ = ["ACCESS_LOGGERS", "QueryTokenRedactor", "redact_access_log", "redact_query_tokens"]

ACCESS_LOGGERS: Final = ("uvicorn.access", "uvicorn.error")
REDACTED: Final = "[redacted]"
# The parameter name may be percent-encoded by a client (access%5Ftoken).
_QUERY_TOKEN: Final = re.compile(r"(?i)((?:^|[?&;])access(?:_|%5f)token=)[^&;#\s\"]*")
# A base64url JSON header ("eyJ" is '{"') followed by two more segments.
_JWS: Final = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


def redact_query_tokens(text: str) -> str:
    """``text`` with every ``access_token`` query value and JWS replaced by ``[redacted]``."""
    if "token" in text.lower():
        text = _QUERY_TOKEN.sub(lambda match: match.group(1) + REDACTED, text)
    if "eyJ" in text:
        text = _JWS.sub(REDACTED, text)
    return text


class QueryTokenRedactor(logging.Filter):
    """Rewrites the string arguments (uvicorn passes the path with its query) of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(
                redact_query_tokens(arg) if isinstance(arg, str) else arg for arg in args
            )
        if isinstance(record.msg, str):
            record.msg = redact_query_tokens(record.msg)
        return True


def redact_access_log(logger_names: tuple[str, ...] = ACCESS_LOGGERS) -> None:
    """Install the filter once on each logger (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, QueryTokenRedactor) for existing in logger.filters):
            logger.addFilter(QueryTokenRedactor())
