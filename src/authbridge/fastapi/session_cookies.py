"""Better Auth's session cookie as a credential (cookie mode), for ``AuthBridge(sessions=...)``.

The bridge consults this only when a request has no bearer credential: an ``Authorization``
header always wins over a cookie. Browsers attach cookies to cross-site requests, so the
``SessionVerifier`` checks the request's ``Origin`` (or else ``Referer``) against the trusted
origins on every unsafe method before it looks at the cookie's value; a WebSocket handshake
is treated as unsafe, since browsers do not apply CORS to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from starlette.requests import HTTPConnection

from ..principal import Principal
from .credentials import header_value

if TYPE_CHECKING:
    from ..sessions.verifier import SessionVerifier

__all__ = ["SessionCookieAuthenticator"]

_COOKIE: Final = b"cookie"
_ORIGIN_HEADERS: Final = (b"origin", b"referer")


def _origin_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Only the two headers the CSRF check reads (the first of each, as sent)."""
    found: dict[str, str] = {}
    for key, value in headers:
        if key in _ORIGIN_HEADERS:
            found.setdefault(key.decode("latin-1"), value.decode("latin-1"))
    return found


class SessionCookieAuthenticator:
    """Resolves the ``[__Secure-]{prefix}.session_token`` cookie through a ``SessionVerifier``.

    ``AuthBridge.from_settings`` builds one when ``AUTHBRIDGE_SESSION_COOKIE=on``.
    """

    def __init__(self, sessions: SessionVerifier) -> None:
        if not sessions.enabled or not sessions.config.cookies_enabled:
            raise ValueError("the SessionVerifier's cookie mode is off (AUTHBRIDGE_SESSION_COOKIE)")
        self.sessions = sessions

    async def authenticate(self, connection: HTTPConnection) -> Principal | None:
        """The cookie's Principal; None without a session cookie. Raises ``CsrfRejected``
        (403) for an unsafe request from an untrusted origin, or an ``AuthError`` for a bad
        or ended session."""
        scope = connection.scope
        headers = scope["headers"]
        if header_value(headers, _COOKIE) is None:
            return None  # the common signed-out case: no parsing at all
        method = str(scope.get("method", "GET")) if scope["type"] == "http" else "WEBSOCKET"
        return await self.sessions.verify_cookies(
            connection.cookies, method=method, headers=_origin_headers(headers)
        )
