"""The audit log: one structured event per authentication outcome, on ``authbridge.audit``.

Each record carries the event as a dict in ``record.audit`` (``extra={"audit": ...}``), for
JSON formatters, and a readable one-line message. Events never hold a token, a signature or a
secret (V56). Values an attacker controls (``kid``, unverified ``iss``, path, request id) are
truncated and escaped. Failures are throttled per (code, client IP) and overall, so a flood of
bad tokens costs a bounded number of log lines; the next event that gets through reports how
many were suppressed.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from ..jose.b64 import b64url_decode
from ..jose.strict_json import loads_object
from ..principal import Principal
from ..redact import redact_credentials

__all__ = ["AuditLog", "FailureThrottle", "clean", "request_id_from", "token_hints"]

LOGGER_NAME: Final = "authbridge.audit"
MAX_VALUE_CHARS: Final = 64
_MAX_SEGMENT: Final = 4096  # peek at no header/payload segment larger than this
_SAFE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def clean(value: object, limit: int = MAX_VALUE_CHARS) -> str | None:
    """Printable ASCII only: everything else, quotes and backslashes escaped; then truncated.

    Anything shaped like a token (say, a JWS pasted into a kid or a path) is redacted.
    """
    if not isinstance(value, str):
        return None
    text = redact_credentials(value[: limit * 2])
    out: list[str] = []
    for char in text[:limit]:
        code = ord(char)
        if 0x20 <= code < 0x7F and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    cleaned = "".join(out)
    return cleaned + "..." if len(text) > limit or len(value) > limit * 2 else cleaned


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """``X-Request-ID`` when it is a short safe string, else a fresh random id."""
    for key, value in headers:
        if key == b"x-request-id":
            text = value.decode("latin-1")
            if _SAFE_REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def token_hints(token: str | None) -> tuple[str | None, str | None, str | None]:
    """(alg, kid, iss) read from an *unverified* token, for the log only; never trusted."""
    if not token:
        return None, None, None
    parts = token.split(".")
    if len(parts) != 3 or len(parts[0]) > _MAX_SEGMENT:
        return None, None, None
    header = _peek(parts[0])
    payload = _peek(parts[1]) if len(parts[1]) <= _MAX_SEGMENT else {}
    return clean(header.get("alg"), 16), clean(header.get("kid")), clean(payload.get("iss"))


def _peek(segment: str) -> Mapping[str, Any]:
    try:
        return loads_object(b64url_decode(segment))
    except (ValueError, TypeError, RecursionError):
        return {}


class FailureThrottle:
    """At most ``per_key`` events per window for one key and ``overall`` for all keys.

    ``admit`` returns None when the event must be dropped, else the number of events dropped
    for that key since the last admitted one.
    """

    def __init__(
        self,
        *,
        per_key: int = 5,
        overall: int = 50,
        window: float = 1.0,
        max_keys: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_key = per_key
        self.overall = overall
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._windows: dict[Any, list[float]] = {}  # key -> [window start, admitted, dropped]
        self._total: list[float] = [float("-inf"), 0, 0]

    def admit(self, key: Any) -> int | None:
        now = self._clock()
        total = self._roll(self._total, now)
        entry = self._windows.get(key)
        if entry is None:
            if len(self._windows) >= self.max_keys:
                self._windows.clear()  # bounded memory beats exact counts under a wide flood
            entry = self._windows[key] = [now, 0, 0]
        else:
            self._roll(entry, now)
        if entry[1] >= self.per_key or total[1] >= self.overall:
            entry[2] += 1
            total[2] += 1
            return None
        entry[1] += 1
        total[1] += 1
        dropped, entry[2] = int(entry[2]), 0
        return dropped

    def _roll(self, entry: list[float], now: float) -> list[float]:
        if now - entry[0] >= self.window:
            entry[0], entry[1] = now, 0
        return entry


class AuditLog:
    """Writes authentication events to the ``authbridge.audit`` logger."""

    def __init__(
        self,
        logger: logging.Logger | None = None,
        throttle: FailureThrottle | None = None,
    ) -> None:
        self.logger = logger or logging.getLogger(LOGGER_NAME)
        self.throttle = throttle or FailureThrottle()

    def success(
        self,
        principal: Principal,
        *,
        scope: Mapping[str, Any],
        cached: bool,
        transport: str = "http",
    ) -> None:
        # A cache hit is routine: DEBUG. A fresh verification is INFO.
        level = logging.DEBUG if cached else logging.INFO
        if not self.logger.isEnabledFor(level):
            return
        event = self._base(scope, transport)
        event.update(
            outcome="success",
            code="ok",
            credential=principal.credential,
            iss=clean(principal.issuer, 256),
            sub=clean(principal.sub, 256),
            cached=cached,
        )
        self._emit(level, event)

    def failure(
        self,
        code: str,
        *,
        scope: Mapping[str, Any],
        token: str | Callable[[], str | None] | None,
        status: int,
        transport: str = "http",
        required: tuple[str, ...] = (),
        principal: Principal | None = None,
    ) -> None:
        """A refused request. ``principal`` is set only for 403s, after verification.

        ``token`` (read only for its unverified ``alg``/``kid``/``iss``, never logged) may be
        a function returning it, called only when the throttle admits the event."""
        # No credentials at all is routine (a signed-out browser): INFO, not WARNING.
        level = logging.INFO if code == "token_missing" else logging.WARNING
        if not self.logger.isEnabledFor(level):
            return
        # The throttle first, on the raw client address: under a flood of bad tokens most
        # events are dropped, and they should cost no more than this lookup.
        client = scope.get("client")
        dropped = self.throttle.admit((code, client[0] if client else None))
        if dropped is None:
            return
        event = self._base(scope, transport)
        # Denied: a verified caller refused a route (403); a 401 after verification (a typed
        # user the credential does not fit) is still a failure of the credential.
        outcome = "denied" if principal is not None and status == 403 else "failure"
        event.update(outcome=outcome, code=code, status=status)
        if principal is not None:
            event.update(iss=clean(principal.issuer, 256), sub=clean(principal.sub, 256))
            event["required"] = [clean(name) for name in required]
        else:
            alg, kid, iss = token_hints(token() if callable(token) else token)
            event.update(alg=alg, kid=kid, iss=iss)
        if dropped:
            event["suppressed"] = dropped
        self._emit(level, event)

    def _base(self, scope: Mapping[str, Any], transport: str) -> dict[str, Any]:
        client = scope.get("client")
        return {
            "event": "authbridge.auth",
            "transport": transport,
            "client_ip": clean(client[0]) if client else None,
            "request_id": request_id_from(scope.get("headers", ())),
            "method": clean(scope.get("method"), 16),
            "path": clean(scope.get("path"), 128),
        }

    def _emit(self, level: int, event: dict[str, Any]) -> None:
        text = " ".join(f"{k}={v}" for k, v in event.items() if v is not None and k != "event")
        self.logger.log(level, "authbridge.auth %s", text, extra={"audit": event})
