"""Better Auth session credentials: signed session tokens, session cookies and the cookie cache."""

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
    "resolve_secrets",
    "sign_session_token",
]
