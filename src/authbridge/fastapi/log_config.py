"""Logging for an app served by uvicorn: every record it writes, as text or JSON lines.

uvicorn's default configuration only has handlers for its own loggers, so without this a
deployed API would print neither its audit events nor a failed JWKS fetch. Hand
``log_config(level, fmt)`` to uvicorn (``uvicorn.run(..., log_config=...)``, as
``tasks-api serve`` does), which applies it in the supervisor and in every worker:

* ``authbridge.*`` (the audit log, key fetches, sessions, revocation) and the app's own
  ``loggers`` at ``level`` (``info`` by default: audit successes and ``token_missing`` are INFO,
  refusals and faults WARNING), every other library at WARNING;
* uvicorn's own loggers as uvicorn configures them, access log included;
* ``text``: uvicorn's format, with the logger's name for non-uvicorn records; ``json``: one JSON
  object per line on stdout (``timestamp``, ``level``, ``logger``, ``message``, ``pid``, the
  audit event's fields, the access log's ``client``/``method``/``path``/``status``, and
  ``exc_type``/``exc_info`` for errors).

Every formatted line goes through ``authbridge.redact`` once more, whatever logger wrote it, so
that a token in an exception message or a third-party record is not printed either.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from ..redact import redact_credentials

try:
    from uvicorn.logging import AccessFormatter, DefaultFormatter
except ModuleNotFoundError as missing:  # not part of the fastapi extra: the app picks a server
    raise ImportError(
        "authbridge.fastapi.log_config formats uvicorn's logs: pip install uvicorn",
        name="uvicorn",
    ) from missing

__all__ = [
    "LOG_FORMATS",
    "LOG_LEVELS",
    "AccessTextFormatter",
    "JSONFormatter",
    "LogFormat",
    "TextFormatter",
    "log_config",
]

LogFormat = Literal["text", "json"]
LOG_FORMATS: Final = ("text", "json")
LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug", "trace")
_TRACE: Final = 5  # uvicorn's TRACE level
# uvicorn.access passes (client address, method, full path, HTTP version, status) as args.
_ACCESS_FIELDS: Final = ("client", "method", "path", "http_version", "status")
# LogRecord attributes that are not extras.
_STANDARD: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Extras that only serve a text formatter (uvicorn's coloured copy of its message).
_NOT_FIELDS: Final = frozenset({"audit", "levelprefix", "color_message"})


class TextFormatter(DefaultFormatter):
    """uvicorn's look (``INFO:     message``), with credentials redacted from the line."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_credentials(super().format(record))


class AccessTextFormatter(AccessFormatter):
    """uvicorn's access line, with credentials redacted from the line."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_credentials(super().format(record))


class JSONFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": _utc(record.created),
            "level": "trace" if record.levelno == _TRACE else record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process or os.getpid(),
        }
        audit = getattr(record, "audit", None)
        if isinstance(audit, Mapping):
            entry.update((k, v) for k, v in audit.items() if k not in entry and v is not None)
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            entry.update(zip(_ACCESS_FIELDS, record.args, strict=False))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry and key not in _NOT_FIELDS:
                entry[key] = value
        if record.exc_info:
            entry["exc_type"] = getattr(record.exc_info[0], "__name__", None)
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        # ASCII only: a lone surrogate from a client can be escaped, never fail the write.
        line = json.dumps(entry, ensure_ascii=True, default=str, separators=(",", ":"))
        return redact_credentials(line)


def _utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def log_config(
    level: str = "info", fmt: LogFormat = "text", loggers: Iterable[str] = ()
) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` dictionary to give uvicorn.

    ``loggers`` are the app's own logger names, set to ``level`` like ``authbridge``.
    """
    if level not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}")
    ours = "DEBUG" if level == "trace" else level.upper()
    if fmt == "json":
        formatter: dict[str, Any] = {"()": f"{__name__}.JSONFormatter"}
        formatters = {"default": formatter, "access": formatter, "service": formatter}
        err = "ext://sys.stdout"  # one stream of JSON lines
    else:
        formatters = {
            "default": {"()": f"{__name__}.TextFormatter", "fmt": "%(levelprefix)s %(message)s"},
            "access": {
                "()": f"{__name__}.AccessTextFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
            "service": {
                "()": f"{__name__}.TextFormatter",
                "fmt": "%(levelprefix)s [%(name)s] %(message)s",
            },
        }
        err = "ext://sys.stderr"  # as uvicorn: the access log on stdout, the rest on stderr
    # The server's records carry URLs and ASGI scopes in their arguments: redacted by name
    # and shape before any formatter sees them (AuthBridge.install adds the same filter to
    # uvicorn's loggers; the supervisor process, which loads no app, needs it here).
    redact = {"()": "authbridge.fastapi.access_log.QueryTokenRedactor"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact_urls": redact},
        "formatters": formatters,
        "handlers": {
            "default": _handler("default", err, ["redact_urls"]),
            "access": _handler("access", "ext://sys.stdout", ["redact_urls"]),
            "service": _handler("service", err, []),
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "authbridge": {"level": ours},
            **{name: {"level": ours} for name in loggers},
        },
        "root": {"handlers": ["service"], "level": "WARNING"},
    }


def _handler(formatter: str, stream: str, filters: list[str]) -> dict[str, Any]:
    return {
        "class": "logging.StreamHandler",
        "formatter": formatter,
        "stream": stream,
        "filters": filters,
    }
