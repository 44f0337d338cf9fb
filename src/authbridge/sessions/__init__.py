"""Better Auth session credentials: signed session tokens, session cookies and the cookie cache.

``ping_after_idle`` (needs ``authbridge[sessions]``) is the pool policy of the library's session
store, public so that an application's own SQLAlchemy engine can use it too.
"""

from typing import TYPE_CHECKING, Any

from authbridge.sessions.config import (
    SessionConfig,
    SessionTables,
    parse_secrets,
    resolve_secrets,
)
from authbridge.sessions.cookies import find_session_cookie, find_session_data_cookie
from authbridge.sessions.csrf import TrustedOrigins, check_csrf
from authbridge.sessions.token import parse_session_credential, sign_session_token
from authbridge.sessions.verifier import SessionVerifier

if TYPE_CHECKING:
    from authbridge.sessions.pool_ping import ping_after_idle

__all__ = [
    "SessionConfig",
    "SessionTables",
    "SessionVerifier",
    "TrustedOrigins",
    "check_csrf",
    "find_session_cookie",
    "find_session_data_cookie",
    "parse_secrets",
    "parse_session_credential",
    "ping_after_idle",
    "resolve_secrets",
    "sign_session_token",
]


def __getattr__(name: str) -> Any:
    # Lazy: it imports SQLAlchemy, which the token and cookie parsers above do not need.
    if name == "ping_after_idle":
        from authbridge.sessions.pool_ping import ping_after_idle

        return ping_after_idle
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
