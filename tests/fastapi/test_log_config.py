"""``authbridge.fastapi.log_config``, the logging configuration ``tasks-api serve`` gives
uvicorn, applied to a private logging tree: the text
and JSON formats, and redaction of whatever a record carries (``test_tasks_serve_logs.py``
runs the real process)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from authbridge.fastapi.access_log import QueryTokenRedactor, redact_log_argument
from authbridge.fastapi.log_config import JSONFormatter, TextFormatter, log_config
from authbridge.testing import FakeIssuer

TOKEN = FakeIssuer().token()
SESSION = "edIda55cDWMSK41DH5zG9ea1wmojrLkn"
SIGNED = SESSION + ".aiP24XcSDqz0+3z+b/BR084HfjFXgsewPsPg3p+3G1E="


def _record(name: str, msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": name, "msg": msg, "args": args, "levelno": 30})
    record.levelname = "WARNING"
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_the_fields_a_pipeline_expects() -> None:
    audit = {
        "event": "authbridge.auth",
        "outcome": "failure",
        "code": "token_expired",
        "status": 401,
        "kid": None,
    }
    line = JSONFormatter().format(_record("authbridge.audit", "refused %s", "x", audit=audit))
    entry = json.loads(line)
    assert entry["level"] == "warning"
    assert entry["logger"] == "authbridge.audit"
    assert entry["message"] == "refused x"
    assert (entry["outcome"], entry["code"], entry["status"]) == ("failure", "token_expired", 401)
    assert "kid" not in entry  # None fields are left out
    assert entry["timestamp"].endswith("Z")
    assert "T" in entry["timestamp"]
    access = _record(
        "uvicorn.access", '%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET", "/x", "1.1", 204
    )
    fields = json.loads(JSONFormatter().format(access))
    assert (fields["client"], fields["method"], fields["path"], fields["status"]) == (
        "1.2.3.4:5",
        "GET",
        "/x",
        204,
    )


def test_json_escapes_newlines_and_surrogates_into_one_ascii_line() -> None:
    line = JSONFormatter().format(_record("tasks_api", "a\nb \ud800 é"))
    assert "\n" not in line
    assert line.isascii()
    assert json.loads(line)["message"] == "a\nb \ud800 é"


@pytest.mark.parametrize("formatter", [JSONFormatter(), TextFormatter("%(message)s")])
def test_tokens_in_messages_and_tracebacks_are_redacted(formatter: logging.Formatter) -> None:
    try:
        raise ValueError(f"bad token {TOKEN} and {SIGNED}")
    except ValueError:
        record = _record("some.library", "failed on %s", TOKEN)
        import sys

        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    assert TOKEN.split(".")[1] not in text
    assert TOKEN.split(".")[2] not in text
    assert SESSION not in text
    assert "[redacted]" in text
    assert "ValueError" in text


def test_asgi_scopes_at_trace_lose_their_credentials() -> None:
    scope = {
        "type": "http",
        "path": f"/api/{TOKEN}",
        "raw_path": f"/api/{TOKEN}".encode(),
        "query_string": f"access%5Ftoken={TOKEN}&token={SESSION}&q=ok".encode(),
        "headers": [
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"cookie", SIGNED.encode()),
            (b"x-api-key", SESSION.encode()),
            (b"accept", b"*/*"),
        ],
    }
    redacted = redact_log_argument(scope)
    text = repr(redacted)
    assert TOKEN.split(".")[2] not in text
    assert SESSION not in text
    assert redacted["query_string"] == b"access%5Ftoken=[redacted]&token=[redacted]&q=ok"
    assert (b"accept", b"*/*") in redacted["headers"]
    assert scope["path"] == f"/api/{TOKEN}"  # the scope itself is untouched
    record = _record("uvicorn.asgi", "%s [%d] Started scope=%s", "ASGI", 1, scope)
    QueryTokenRedactor().filter(record)
    assert TOKEN.split(".")[2] not in record.getMessage()


@contextmanager
def _applied(config: dict[str, object]) -> Iterator[None]:
    """dictConfig on the real tree, then the previous handlers and levels put back."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "authbridge", "tasks_api"]
    saved = {
        n: (
            logging.getLogger(n).handlers[:],
            logging.getLogger(n).level,
            logging.getLogger(n).propagate,
        )
        for n in names
    }
    try:
        logging.config.dictConfig(config)
        yield
    finally:
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_library_logs_through_the_null_handler_of_the_cli(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's NullHandler on ``authbridge`` must not silence the served process."""
    import authbridge.cli.main  # noqa: F401 - installs the NullHandler

    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    with _applied(log_config("info", fmt)):  # type: ignore[arg-type]
        logging.getLogger("authbridge.audit").info("audit line")
        logging.getLogger("authbridge.keys").warning("fetch failed")
        logging.getLogger("authbridge.keys").debug("not at info")
        logging.getLogger("sqlalchemy.pool").info("not from other libraries at info")
    written = out.getvalue() + err.getvalue()
    assert "audit line" in written
    assert "fetch failed" in written
    assert "not at info" not in written
    assert "not from other libraries" not in written


def test_unknown_levels_and_formats_are_refused() -> None:
    with pytest.raises(ValueError, match="level"):
        log_config("verbose", "text")
    with pytest.raises(ValueError, match="format"):
        log_config("info", "xml")  # type: ignore[arg-type]


def test_the_apps_own_loggers_log_at_the_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """``loggers`` names the app's loggers; any other library stays at WARNING."""
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    with _applied(log_config("info", "json", loggers=("tasks_api",))):
        logging.getLogger("tasks_api.routes").info("app line")
        logging.getLogger("another_app").info("not named")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(entry["logger"], entry["message"]) for entry in lines] == [
        ("tasks_api.routes", "app line")
    ]
