"""A pytest plugin: fail the run if any log record carries a token, a signature or a secret (V56).

Registered by ``tests/conftest.py`` (``pytest_plugins = ["security.log_guard"]``). It puts one
handler on the root logger at DEBUG for the whole session, so every record of every logger is
seen: the formatted message, the ``extra`` fields, and any exception or stack text.

A record is a leak when it holds

* a *watched* value: every token, signature segment and HMAC key passed through
  ``authbridge.jose.sign.sign_compact`` or ``tests/tokens.py``'s ``sign_raw`` (so every token
  minted by ``tests/tokens.py`` and by ``authbridge.testing.FakeIssuer``), every Better Auth
  secret the test harness starts a server with, and anything a test registers with
  ``watch(value)``; and every API key the harness has Better Auth create (as a credential);
* or anything shaped like a compact JWS or a Better Auth signed session token, whoever made it.

Third-party I/O loggers (``httpx``, ``httpcore``, ``websockets``; ``aiosqlite``, ``asyncpg``,
``sqlalchemy``) are held to a narrower rule: they must never carry a *secret*, but tokens there
are expected. They record what went over a wire: ``httpcore`` and ``websockets`` dump raw
headers at DEBUG (``Set-Cookie``, ``set-auth-jwt``, ``Sec-WebSocket-Protocol``), ``httpx``
logs each request URL at INFO (the test suite's own clients talk to Better Auth, or
deliberately put a token in a URL to prove it is refused), and the database drivers log query
parameters at DEBUG (a session lookup's parameter is the session token). authbridge cannot
change what they log; SECURITY.md tells deployments to keep them above DEBUG. The
system under test never logs incoming requests through them; SECURITY.md tells deployments to
keep them above DEBUG.

Leaks are collected as they happen (with the test that was running) and reported at the end;
the session then fails. Import this module as ``security.log_guard`` (never as ``log_guard``):
the plugin's state lives in that one module object.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

__all__ = ["Leak", "LogGuard", "guard", "watch", "watch_token"]

# Third-party I/O loggers: checked for secrets only (see the module docstring).
TRANSPORT_LOGGERS: Final = ("httpx", "httpcore", "websockets", "aiosqlite", "asyncpg", "sqlalchemy")

# Shortest value worth watching: shorter strings collide with ordinary log text.
MIN_WATCH_CHARS: Final = 16

# A compact JWS: a base64url JSON object header ("eyJ" is '{"'), then two more segments; or
# any header followed by a base64url JSON payload. Attack tokens with odd headers are watched.
JWS_SHAPE: Final = re.compile(
    r"(?<![A-Za-z0-9_-])(?:eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}|"
    r"[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{8,})\.[A-Za-z0-9_-]{16,}"
)
# Better Auth's signed session token: 32 alphanumerics, ".", base64 HMAC-SHA256 (44 chars
# ending in "="), possibly URL-encoded as in the cookie.
SESSION_TOKEN_SHAPE: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z0-9]{32}\.(?:[A-Za-z0-9+/]|%2[BbFf]){43}(?:=|%3[Dd])"
)

# LogRecord attributes that are not ``extra`` fields.
_STANDARD_ATTRIBUTES: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


@dataclass(frozen=True)
class Leak:
    """One record that carried something it must not. ``what`` never repeats the value."""

    logger: str
    level: str
    test: str
    what: str


@dataclass
class LogGuard:
    """Watched values, a scanner, and the leaks found so far. Thread-safe."""

    leaks: list[Leak] = field(default_factory=list)
    records_seen: int = 0
    current_test: str = "<collection or session>"
    _secrets: dict[str, set[str]] = field(default_factory=dict)  # prefix -> values
    _tokens: dict[str, set[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, value: str | bytes) -> None:
        """Report any later record that contains the secret ``value`` (ignored if short)."""
        self._add(self._secrets, value)

    def watch_token(self, token: str) -> None:
        """A compact token and, on its own, its signature segment."""
        self._add(self._tokens, token)
        self._add(self._tokens, token.rpartition(".")[2])

    def watch_credential(self, value: str) -> None:
        """A credential that is not a JWS (a session token, a cookie value), watched whole."""
        self._add(self._tokens, value)

    def _add(self, index: dict[str, set[str]], value: str | bytes) -> None:
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                return
        if len(value) < MIN_WATCH_CHARS:
            return
        with self._lock:
            index.setdefault(value[:MIN_WATCH_CHARS], set()).add(value)

    @property
    def watched(self) -> int:
        return sum(len(v) for index in (self._secrets, self._tokens) for v in index.values())

    def findings(self, text: str, *, secrets_only: bool = False) -> list[str]:
        """What in ``text`` is a leak: descriptions only, never the value itself."""
        found: list[str] = []
        if _contains_watched(text, self._secrets, self._lock):
            found.append("a watched secret")
        if secrets_only:
            return found
        if JWS_SHAPE.search(text):
            found.append("a compact JWS")
        if SESSION_TOKEN_SHAPE.search(text):
            found.append("a Better Auth signed session token")
        if _contains_watched(text, self._tokens, self._lock):
            found.append("a watched token or signature")
        return found

    def inspect(self, record: logging.LogRecord) -> None:
        text = record_text(record)
        self.records_seen += 1
        transport = record.name.split(".", 1)[0] in TRANSPORT_LOGGERS
        for what in self.findings(text, secrets_only=transport):
            self.leaks.append(Leak(record.name, record.levelname, self.current_test, what))


def _contains_watched(text: str, index: dict[str, set[str]], lock: threading.Lock) -> bool:
    """One dict lookup per position of ``text``, whatever the number of watched values."""
    width = MIN_WATCH_CHARS
    with lock:
        if not index:
            return False
        for start in range(len(text) - width + 1):
            candidates = index.get(text[start : start + width])
            if candidates and any(text.startswith(v, start) for v in candidates):
                return True
    return False


def record_text(record: logging.LogRecord) -> str:
    """Everything a formatter or a JSON log shipper could write for ``record``."""
    parts: list[str] = []
    try:
        parts.append(record.getMessage())
    except Exception as exc:  # a bad format string must not hide the raw parts
        parts.append(f"{record.msg!r} {record.args!r} ({type(exc).__name__})")
    for name, value in record.__dict__.items():
        if name not in _STANDARD_ATTRIBUTES:
            parts.append(f"{name}={value!r}")
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


class _GuardHandler(logging.Handler):
    def __init__(self, owner: LogGuard) -> None:
        super().__init__(level=logging.DEBUG)
        self.owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.owner.inspect(record)
        except Exception:  # the guard must never break the code under test
            self.handleError(record)


guard: Final = LogGuard()


def watch(value: str | bytes) -> str | bytes:
    """Register a secret or token a test created; returns it, for inline use."""
    guard.watch(value)
    return value


def watch_token(token: str) -> str:
    guard.watch_token(token)
    return token


def watch_credential(value: str) -> str:
    guard.watch_credential(value)
    return value


@contextmanager
def capturing(target: LogGuard, *, isolated: tuple[str, ...] = ()) -> Iterator[LogGuard]:
    """Scan records into ``target`` (not the session guard) for the block: for self-tests.

    With ``isolated`` logger names, only those loggers are captured and their records do not
    propagate to the root (so a deliberate leak never reaches the session guard).
    """
    handler = _GuardHandler(target)
    loggers = [logging.getLogger(name) for name in isolated] or [logging.getLogger()]
    saved = [(logger, logger.propagate, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        if isolated:
            logger.propagate = False
            logger.setLevel(logging.DEBUG)
    try:
        yield target
    finally:
        for logger, propagate, level in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
            logger.setLevel(level)


# --- automatic watching -------------------------------------------------------------------


def _watching_signer(sign: Callable[..., str]) -> Callable[..., str]:
    if getattr(sign, "_log_guard_wrapped", False):
        return sign

    @functools.wraps(sign)
    def signed(claims: Any, key: Any, alg: str, *args: Any, **kwargs: Any) -> str:
        token = sign(claims, key, alg, *args, **kwargs)
        guard.watch_token(token)
        if isinstance(key, bytes | str):  # an HMAC secret
            guard.watch(key)
        return token

    signed._log_guard_wrapped = True  # type: ignore[attr-defined]
    return signed


def _watching_raw_signer(sign: Callable[..., str]) -> Callable[..., str]:
    if getattr(sign, "_log_guard_wrapped", False):
        return sign

    @functools.wraps(sign)
    def signed(header: bytes, payload: bytes, key: Any, alg: str) -> str:
        token = sign(header, payload, key, alg)
        guard.watch_token(token)
        if isinstance(key, bytes | str):
            guard.watch(key)
        return token

    signed._log_guard_wrapped = True  # type: ignore[attr-defined]
    return signed


def _install_watchers() -> None:
    """Wrap the project's signer everywhere it was imported, and the harness's secrets."""
    import sys

    from authbridge.jose import sign as sign_module

    wrapped = _watching_signer(sign_module.sign_compact)
    sign_module.sign_compact = wrapped  # type: ignore[assignment]
    for module in list(sys.modules.values()):
        if getattr(module, "sign_compact", None) is getattr(wrapped, "__wrapped__", None):
            module.sign_compact = wrapped  # type: ignore[attr-defined]
    try:
        import tokens  # tests/tokens.py: wrap it before any test module imports from it
    except ImportError:
        pass
    else:
        tokens.sign_raw = _watching_raw_signer(tokens.sign_raw)  # type: ignore[assignment]
    try:
        from harness import better_auth
    except ImportError:
        return
    build_env = better_auth.BetterAuthServer._build_env
    if getattr(build_env, "_log_guard_wrapped", False):
        return

    @functools.wraps(build_env)
    def watched_env(self: Any, overrides: dict[str, str]) -> dict[str, str]:
        env: dict[str, str] = build_env(self, overrides)
        for name in ("BETTER_AUTH_SECRET", "AUTH_SECRET"):
            if env.get(name):
                guard.watch(env[name])
        for entry in env.get("BETTER_AUTH_SECRETS", "").split(","):
            guard.watch(entry.partition(":")[2])
        return env

    watched_env._log_guard_wrapped = True  # type: ignore[attr-defined]
    better_auth.BetterAuthServer._build_env = watched_env  # type: ignore[method-assign]

    # Every API key the harness has Better Auth create is a credential: watched whole.
    create_api_key = better_auth.BetterAuthServer.create_api_key

    @functools.wraps(create_api_key)
    def watched_api_key(self: Any, user_id: str, **options: Any) -> Any:
        created = create_api_key(self, user_id, **options)
        guard.watch_credential(created.key)
        return created

    better_auth.BetterAuthServer.create_api_key = watched_api_key  # type: ignore[method-assign]


# --- pytest hooks -------------------------------------------------------------------------

_handler: _GuardHandler | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _handler
    _install_watchers()
    _handler = _GuardHandler(guard)
    _keep_installed()
    _survive_dict_config()


def _keep_installed(*, every_level: bool = True) -> None:
    """The guard's handler on the root logger; with ``every_level``, the root logger passes
    every level, so even DEBUG records are made and checked."""
    root = logging.getLogger()
    if _handler is not None and _handler not in root.handlers:
        root.addHandler(_handler)
    if every_level:
        root.setLevel(logging.DEBUG)


def _survive_dict_config() -> None:
    """Code under test may configure logging: Litestar's default ``LoggingConfig`` runs
    ``dictConfig`` when an app is built, which replaces the root logger's handlers and sets
    it to INFO. Without this the guard would stop seeing records for the rest of the run.
    The configured levels stay (a test of a logging config checks them) until the next test
    starts, which puts the root logger back at DEBUG."""
    import logging.config

    configure = logging.config.dictConfig

    def dict_config_keeping_the_guard(config: Any) -> None:
        configure(config)
        _keep_installed(every_level=False)

    logging.config.dictConfig = dict_config_keeping_the_guard


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    guard.current_test = item.nodeid
    _keep_installed()  # whatever the previous test did to the root logger


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
    if guard.leaks and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not guard.leaks:
        terminalreporter.write_line(
            f"log guard: {guard.records_seen} log records checked against {guard.watched} "
            "watched tokens and secrets: no leak"
        )
        return
    terminalreporter.section("log guard: secrets in log records", red=True)
    terminalreporter.line(
        f"{len(guard.leaks)} of {guard.records_seen} log records carried a token, "
        "signature or secret (values not shown):"
    )
    for leak in guard.leaks[:50]:
        terminalreporter.line(f"  {leak.test}: {leak.logger} {leak.level}: {leak.what}")
