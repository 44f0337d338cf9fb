"""The one entry point for Better Auth session credentials.

``verify`` takes a bearer value (``token.signature``, URL-encoded or not, or a raw
token when allowed); ``verify_cookies`` takes a request's cookies and applies the
CSRF origin check first. Both check the HMAC with the current secret (as Better
Auth does: older versioned secrets never verify a signed session token), then
resolve the session in the shared database or through the issuer's get-session,
and return a :class:`Principal` with ``credential="session"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from authbridge.errors import SessionInvalid
from authbridge.principal import Principal
from authbridge.sessions.config import SessionConfig
from authbridge.sessions.cookie_cache import decode_cookie_cache
from authbridge.sessions.cookies import (
    find_session_cookie,
    find_session_data_cookie,
    session_cookie_names,
)
from authbridge.sessions.csrf import TrustedOrigins
from authbridge.sessions.lifecycle import StoreLifecycle
from authbridge.sessions.records import SessionRecord
from authbridge.sessions.token import (
    SessionToken,
    parse_session_credential,
    sign_session_token,
    verify_token_signature,
)
from authbridge.sessions.ttl_cache import SessionCache

if TYPE_CHECKING:
    # The stores import SQLAlchemy (database mode) and httpx (remote mode): each is imported
    # when its mode is configured, so the other mode's dependency need not be installed.
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from authbridge.sessions.database import DatabaseSessionStore
    from authbridge.sessions.remote import RemoteSessionStore

__all__ = ["SessionVerifier"]

_MAX_SESSION_ID = 256


class SessionVerifier(StoreLifecycle):
    """Verifies Better Auth session tokens and cookies; built from a :class:`SessionConfig`."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        http_client: httpx.AsyncClient | None = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.config = config
        origins = list(config.trusted_origins)
        if config.issuer != "better-auth-session":
            origins.append(config.issuer)  # Better Auth trusts its own base URL too.
        self._origins = TrustedOrigins(origins)
        self._cache: SessionCache = SessionCache(
            config.effective_cache_ttl, config.cache_max_entries
        )
        self._database: DatabaseSessionStore | None = None
        self._remote: RemoteSessionStore | None = None
        if config.mode == "database" and config.database_url:
            from authbridge.sessions.database import DatabaseSessionStore

            self._database = DatabaseSessionStore(
                config.database_url, config.tables, timeout=config.timeout, engine=engine
            )
        elif config.mode == "remote" and config.base_url:
            from authbridge.sessions.remote import RemoteSessionStore

            self._remote = RemoteSessionStore(
                config.base_url,
                cookie_names=session_cookie_names(
                    cookie_name=config.session_cookie_name
                    or f"{config.cookie_prefix}.session_token",
                    secure=config.secure_cookies,
                ),
                credential=config.remote_credential,
                timeout=config.timeout,
                client=http_client,
            )

    @property
    def enabled(self) -> bool:
        return self.config.mode != "off"

    @property
    def database(self) -> DatabaseSessionStore | None:
        """The shared-database store (database mode), for diagnostics such as ``check``."""
        return self._database

    @property
    def supports_session_exists(self) -> bool:
        """Only the database mode can look a session up by id (for a JWT's ``sid``)."""
        return self._database is not None

    async def verify(self, credential: str) -> Principal:
        """A bearer session credential to a Principal, or an AuthError."""
        if not self.enabled:
            raise SessionInvalid()
        parsed = parse_session_credential(credential, allow_unsigned=self.config.allow_unsigned)
        signed = self._check_signature(parsed)
        record = await self._resolve(parsed.token, signed)
        return record.to_principal(self.config.issuer)

    async def verify_cookies(
        self, cookies: Mapping[str, str], *, method: str, headers: Mapping[str, str]
    ) -> Principal | None:
        """The session cookie to a Principal; None when cookie mode is off or no cookie is sent.

        Unsafe methods must come from a trusted origin (:class:`CsrfRejected`); pass
        ``method="WEBSOCKET"`` for a WebSocket handshake so its ``Origin`` is checked too.
        A cookie is always signed: Better Auth never accepts an unsigned one.
        """
        if not self.enabled or not self.config.cookies_enabled:
            return None
        config = self.config
        value = find_session_cookie(
            cookies,
            prefix=config.cookie_prefix,
            cookie_name=config.session_cookie_name,
            secure=config.secure_cookies,
        )
        if value is None:
            return None
        self._origins.check(method, headers)
        parsed = parse_session_credential(value, allow_unsigned=False)
        signed = self._check_signature(parsed)
        cached = self._from_cookie_cache(cookies, parsed.token)
        if cached is not None:
            cached.check_ban()  # the cookie cache carries the user, ban included
            return cached.to_principal(config.issuer)
        record = await self._resolve(parsed.token, signed)
        return record.to_principal(config.issuer)

    async def session_exists(self, session_id: str) -> bool:
        """Whether a session with this id is live (database mode only; see
        :attr:`supports_session_exists`)."""
        if self._database is None:
            raise RuntimeError("session_exists needs the database session mode.")
        if not session_id or len(session_id) > _MAX_SESSION_ID:
            return False
        return await self._database.exists(session_id)

    def _check_signature(self, parsed: SessionToken) -> str | None:
        """The signed form to forward, after checking it when the secret is known."""
        secret = self.config.current_secret
        if parsed.signature is None:
            return sign_session_token(parsed.token, secret) if secret else None
        if secret is not None:
            verify_token_signature(parsed, secret)
        return f"{parsed.token}.{parsed.signature}"

    def _from_cookie_cache(self, cookies: Mapping[str, str], token: str) -> SessionRecord | None:
        config = self.config
        if config.cookie_cache == "off":
            return None
        value = find_session_data_cookie(
            cookies, prefix=config.cookie_prefix, secure=config.secure_cookies
        )
        if value is None:
            return None
        secrets = [secret for _, secret in config.secrets]
        if config.legacy_secret and config.legacy_secret not in secrets:
            secrets.append(config.legacy_secret)
        return decode_cookie_cache(
            value,
            strategy=config.cookie_cache,
            secrets=secrets,
            session_token=token,
            version=config.cookie_cache_version,
        )

    async def _resolve(self, token: str, signed: str | None) -> SessionRecord:
        cache_key = signed or token
        cached = self._cache.get(cache_key)
        if cached is not None:
            cached.check_ban()
            return cached
        record: SessionRecord | None = None
        if self._database is not None:
            record = await self._database.find(token)
        elif self._remote is not None:
            record = await self._remote.find(signed=signed, raw=token)
        if record is None or record.is_expired():
            raise SessionInvalid()
        self._cache.put(cache_key, record)
        record.check_ban()  # after caching: a ban is decided on every use, cached or not
        return record
