"""The one entry point: token, then key, then claims, then ``Principal``.

A ``Verifier`` holds one or more trusted paths (``TrustedIssuer``). A token is routed to
exactly one path, by the family of its ``alg`` and, when several paths share a family, by its
``iss``; it is never tried against another path's keys (V11, V44).

``verify`` is a fixed sequence of public steps, ``credential_kind``, ``parse``, ``route``,
``find_key`` and ``check_signature``, then the path's ``ClaimRules``. Tools that explain a
verdict (``authbridge doctor``) call the same steps rather than repeating their logic.
Building a verifier from settings is ``wiring.py``'s job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal, Self, Unpack

from ..cache import TokenCache
from ..claims import build_principal
from ..errors import (
    AlgorithmNotAllowed,
    ConfigError,
    InvalidApiKey,
    InvalidIssuer,
    InvalidSignature,
    ServiceUnavailable,
    TokenMissing,
    TokenRevoked,
    TokenTooLarge,
    UnknownKey,
)
from ..jose.parse import CompactJWS, HeaderCache, decode_payload, parse_compact
from ..keys.jwk import VerificationKey
from ..principal import Principal
from .trusted import TokenPolicy, TrustedIssuer, VerifierOptions

if TYPE_CHECKING:
    from types import TracebackType

    from ..apikeys.verifier import ApiKeyVerifier
    from ..config import Settings
    from ..revocation import RevocationList
    from ..sessions.verifier import SessionVerifier

__all__ = ["CredentialKind", "Verifier"]

CredentialKind = Literal["session", "jwt"]
_DEFAULT_POLICY: Final = TokenPolicy()
_sessions_logger: Final = logging.getLogger("authbridge.sessions")


class Verifier:
    """Verifies bearer credentials. Safe to share across requests and apps.

    ``Verifier(TrustedIssuer(keys, ClaimRules(issuer=..., audiences=...)))`` trusts one path;
    pass several to trust several issuers. ``sessions`` accepts Better Auth session tokens
    (and backs ``policy.jwt_session_check``), ``api_keys`` Better Auth API keys
    (``verify_api_key``), ``revocations`` refuses revoked sessions and users, ``cache``
    remembers verified tokens (``TokenCache(0)`` turns it off).
    """

    def __init__(
        self,
        *issuers: TrustedIssuer,
        sessions: SessionVerifier | None = None,
        api_keys: ApiKeyVerifier | None = None,
        revocations: RevocationList | None = None,
        policy: TokenPolicy = _DEFAULT_POLICY,
        cache: TokenCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for path in issuers:
            if not isinstance(path, TrustedIssuer):
                raise TypeError(
                    f"Verifier takes TrustedIssuer objects, not {type(path).__name__}: "
                    "Verifier(TrustedIssuer(keys, rules)) or Verifier(*paths)."
                )
        if policy.jwt_session_check and (sessions is None or not sessions.supports_session_exists):
            raise ConfigError(
                "AUTHBRIDGE_JWT_SESSION_CHECK",
                "needs the shared-database session mode to look sessions up.",
                "set AUTHBRIDGE_SESSION_MODE=database and AUTHBRIDGE_SESSION_DATABASE_URL.",
            )
        self.sessions = sessions if sessions is not None and sessions.enabled else None
        self.api_keys = api_keys if api_keys is not None and api_keys.enabled else None
        # Checked after verification and on every cache hit: in memory, no I/O.
        self.revocations = revocations
        if not issuers and self.sessions is None and self.api_keys is None:
            raise ConfigError(
                "BETTER_AUTH_URL",
                "no key source is configured.",
                "set BETTER_AUTH_URL (its JWKS), AUTHBRIDGE_JWKS_URL, or AUTHBRIDGE_JWT_SECRET.",
            )
        self.paths: tuple[TrustedIssuer, ...] = issuers
        self._by_alg: dict[str, tuple[TrustedIssuer, ...]] = {}
        for path in self.paths:
            for alg in path.algorithms:
                self._by_alg[alg] = (*self._by_alg.get(alg, ()), path)
        self.policy = policy
        self._jwt_session_check = policy.jwt_session_check
        self._max_token_bytes = policy.max_token_bytes
        self._clock = clock
        self.cache = cache if cache is not None else TokenCache()
        self._header_cache: HeaderCache = {}
        for path in self.paths:
            path.keys.on_keys_removed(self._evictor(path.name))

    # --- construction from settings (wiring.py) ------------------------------------------

    @classmethod
    def from_env(cls, **overrides: Unpack[VerifierOptions]) -> Verifier:
        """A verifier as the environment (and ``.env``) configures it."""
        from ..config import load_settings

        return cls.from_settings(load_settings(), **overrides)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Unpack[VerifierOptions]) -> Verifier:
        """A verifier as ``settings`` configure it; ``overrides`` replace built parts."""
        from .wiring import verifier_parts

        issuers, options = verifier_parts(settings)
        options.update(overrides)
        return cls(*issuers, **options)

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Prefetch remote keys. A down issuer is not fatal here: keys load lazily later."""
        for path in self.paths:
            await path.keys.start()
        for kind, store in (("session", self.sessions), ("API key", self.api_keys)):
            if store is None:
                continue
            try:
                await store.start()
            except ServiceUnavailable:
                # Like a down JWKS, not fatal: Better Auth may not have migrated its tables
                # yet. Its credentials get 503 until the store answers.
                _sessions_logger.warning(
                    "%s store check failed at startup; it is retried on first use", kind
                )
        if self.revocations is not None:
            await self.revocations.start()

    async def aclose(self) -> None:
        for path in self.paths:
            await path.keys.aclose()
        if self.sessions is not None:
            await self.sessions.aclose()
        if self.api_keys is not None:
            await self.api_keys.aclose()
        if self.revocations is not None:
            await self.revocations.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- verification ------------------------------------------------------------------------

    def verify_cached(self, token: str) -> Principal | None:
        """The synchronous fast path: a Principal if this exact token verified before.

        Always ``None`` when a per-request revocation check is configured, so callers fall
        back to ``verify``.
        """
        if self._jwt_session_check:
            return None
        principal = self.cache.get(token, self._clock())
        revocations = self.revocations
        if principal is not None and revocations is not None and not revocations.allows(principal):
            return None  # ``verify`` raises the reason
        return principal

    async def verify(self, token: str) -> Principal:
        """Verify a bearer credential. Raises an ``AuthError`` subclass on any failure."""
        principal = self.cache.get(token, self._clock())
        if principal is None:
            if self.credential_kind(token) == "session":
                assert self.sessions is not None
                principal = await self.sessions.verify(token)
                if self.revocations is not None:
                    await self._check_revocation(principal)
                return principal
            jws = self.parse(token)
            path = self.route(jws)
            key = self.cached_key(path, jws) or await path.keys.get_key(jws.kid, jws.alg)
            principal = self._verify_signed(token, jws, path, key)
        if self._jwt_session_check:
            await self._check_session(principal)
        if self.revocations is not None:
            await self._check_revocation(principal)
        return principal

    def verify_sync(self, token: str) -> Principal:
        """``verify`` for threaded servers (Flask, Django): the same cache, strictness and key
        policy, no event loop per call, one JWKS fetch in flight across threads
        (``verifier/sync.py``). Raises ``SyncCallInEventLoop`` inside a running event loop."""
        from .sync import verify_sync

        return verify_sync(self, token)

    async def verify_api_key(self, key: str, header: str | None = None) -> Principal:
        """Verify a Better Auth API key (``credential="api_key"``). Raises ``InvalidApiKey``
        (and subclasses), ``UserBanned`` or a ``ServiceUnavailable``; with no API-key mode
        configured, ``InvalidApiKey``."""
        if self.api_keys is None:
            raise InvalidApiKey()
        principal = await self.api_keys.verify(key, header)
        if self.revocations is not None:
            await self._check_revocation(principal)
        return principal

    # --- the steps of ``verify``, in order -------------------------------------------------

    def credential_kind(self, token: str) -> CredentialKind:
        """Which verification ``token`` gets: ``"session"`` (the session store) or ``"jwt"``.

        Raises ``TokenMissing`` or ``TokenTooLarge`` before anything reads the token.
        """
        if not token:
            raise TokenMissing()
        if len(token) > self._max_token_bytes:
            raise TokenTooLarge()
        # A Better Auth session token is "token.signature" or a raw token: never 3 segments.
        if self.sessions is not None and token.count(".") != 2:
            return "session"
        return "jwt"

    def parse(self, token: str) -> CompactJWS:
        """The compact JWS, under this verifier's size limit and header rules (V1–V10)."""
        return parse_compact(
            token,
            max_bytes=self._max_token_bytes,
            rules=self.policy.header_rules,
            header_cache=self._header_cache,
        )

    def route(self, jws: CompactJWS) -> TrustedIssuer:
        """The one trusted path that verifies ``jws``: by its ``alg``, then by its ``iss``.

        Raises ``AlgorithmNotAllowed`` if no path accepts the algorithm and ``InvalidIssuer``
        if several do and none has the token's issuer.
        """
        candidates = self._by_alg.get(jws.alg)
        if not candidates:
            raise AlgorithmNotAllowed()
        if len(candidates) == 1:
            return candidates[0]
        # Several paths accept this alg: pick by iss. Only routing reads it before the
        # signature check; the chosen path still verifies everything.
        iss = decode_payload(jws).get("iss")
        for path in candidates:
            if path.rules.issuer == iss:
                return path
        raise InvalidIssuer()

    def cached_key(self, path: TrustedIssuer, jws: CompactJWS) -> VerificationKey | None:
        """The key from ``path``'s memory, or ``None`` when ``find_key`` must ask the source.

        Raises ``UnknownKey`` for a JWKS token that names no key id.
        """
        keys = path.keys
        if jws.kid is None and not keys.symmetric:
            raise UnknownKey("The token names no key id.")
        return keys.cached_key(jws.kid, jws.alg)

    async def find_key(self, path: TrustedIssuer, jws: CompactJWS) -> VerificationKey:
        """The key that must have signed ``jws``; may fetch. ``UnknownKey``/``KeysUnavailable``."""
        return self.cached_key(path, jws) or await path.keys.get_key(jws.kid, jws.alg)

    def check_signature(self, jws: CompactJWS, key: VerificationKey) -> None:
        """Raise unless ``key`` signed ``jws`` with the algorithm the key is bound to (V9)."""
        algorithm = key.algorithm
        # The algorithm is bound to the key; the header only has to agree with it.
        if algorithm.name != jws.alg:
            raise AlgorithmNotAllowed("The token's algorithm does not match its key.")
        if not algorithm.verify(key.key, jws.signing_input, jws.signature):
            raise InvalidSignature()

    def _verify_signed(
        self, token: str, jws: CompactJWS, path: TrustedIssuer, key: VerificationKey
    ) -> Principal:
        """Signature, then claims, then the Principal (V33: no claim is read before)."""
        self.check_signature(jws, key)
        claims = decode_payload(jws)
        rules = path.rules
        deadline = rules.validate(claims, self._clock())
        principal = build_principal(claims, self.policy.claim_names, issuer=rules.issuer)
        cache = self.cache
        if cache.max_entries > 0:
            cache.put(token, principal, deadline, (path.name, key.kid))
        return principal

    async def _check_session(self, principal: Principal) -> None:
        """JWT revocation: a token carrying ``sid`` is valid only while its session exists."""
        assert self.sessions is not None
        if principal.credential != "jwt" or principal.session_id is None:
            return
        if not await self.sessions.session_exists(principal.session_id):
            raise TokenRevoked()

    async def _check_revocation(self, principal: Principal) -> None:
        """Revoked sessions and per-user cutoffs shared across instances (``revocation.py``)."""
        revocations = self.revocations
        assert revocations is not None
        if not revocations.started:
            await revocations.start()  # lazily, when ``start()`` was not called
        revocations.check(principal)

    def _evictor(self, path_name: str) -> Callable[[frozenset[str]], None]:
        def evict(kids: frozenset[str]) -> None:
            self.cache.evict_keys((path_name, kid) for kid in kids)

        return evict
