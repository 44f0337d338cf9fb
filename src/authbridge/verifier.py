"""The one entry point: token, then key, then claims, then ``Principal``.

A ``Verifier`` holds one or more trusted paths (``TrustedIssuer``). A token is routed to
exactly one path, by the family of its ``alg`` and, when several paths share a family, by its
``iss``; it is never tried against another path's keys (V11, V44).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Self

from .cache import TokenCache
from .claims import DEFAULT_REQUIRED_CLAIMS, ClaimNames, ClaimRules, build_principal
from .config import Secret, Settings, load_settings, split_list
from .errors import (
    AlgorithmNotAllowed,
    ConfigError,
    InvalidIssuer,
    InvalidSignature,
    KeysUnavailable,
    TokenMissing,
    TokenRevoked,
    TokenTooLarge,
    UnknownKey,
)
from .jose.algorithms import ALGORITHMS, DEFAULT_ASYMMETRIC, DEFAULT_SYMMETRIC
from .jose.parse import (
    DEFAULT_HEADER_RULES,
    CompactJWS,
    HeaderCache,
    HeaderRules,
    decode_payload,
    parse_compact,
)
from .keys.jwk import VerificationKey
from .keys.secret import SharedSecret
from .keys.source import KeySource
from .keys.static import StaticJWKS
from .principal import Principal

if TYPE_CHECKING:
    from types import TracebackType

    from .revocation import RevocationList
    from .sessions.verifier import SessionVerifier

__all__ = ["TrustedIssuer", "Verifier"]

DEFAULT_MAX_TOKEN_BYTES: Final = 8192
_sessions_logger: Final = logging.getLogger("authbridge.sessions")


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """One trusted path: its keys, the algorithms they may be used with, and its claim rules."""

    keys: KeySource
    rules: ClaimRules
    algorithms: frozenset[str]
    name: str = "default"

    def __post_init__(self) -> None:
        if not self.algorithms:
            raise ConfigError("AUTHBRIDGE_ALGORITHMS", "no algorithm is allowed.", "list one.")
        for name in self.algorithms:
            algorithm = ALGORITHMS.get(name)
            if algorithm is None:
                raise ConfigError(
                    "AUTHBRIDGE_ALGORITHMS", f"{name!r} is not supported.", "remove it."
                )
            if algorithm.symmetric != self.keys.symmetric:
                kind = "a shared secret" if self.keys.symmetric else "a JWKS"
                raise ConfigError(
                    "AUTHBRIDGE_ALGORITHMS",
                    f"{name} cannot be used with {kind}.",
                    "use HS* only with AUTHBRIDGE_JWT_SECRET and asymmetric algorithms only "
                    "with a JWKS.",
                )

    @classmethod
    def create(
        cls,
        keys: KeySource,
        *,
        issuer: str,
        audience: str | Iterable[str],
        algorithms: Iterable[str] | None = None,
        leeway: float = 30.0,
        required_claims: Iterable[str] = DEFAULT_REQUIRED_CLAIMS,
        max_token_lifetime: float | None = 3600.0,
        max_token_age: float | None = None,
        name: str | None = None,
    ) -> TrustedIssuer:
        audiences = frozenset([audience] if isinstance(audience, str) else audience)
        default = DEFAULT_SYMMETRIC if keys.symmetric else DEFAULT_ASYMMETRIC
        try:
            rules = ClaimRules(
                issuer=issuer,
                audiences=audiences,
                leeway=leeway,
                required=frozenset(required_claims),
                max_lifetime=max_token_lifetime,
                max_age=max_token_age,
            )
        except ValueError as exc:
            raise ConfigError("AUTHBRIDGE_ISSUER", f"{exc}.", "set issuer and audience.") from None
        return cls(
            keys=keys,
            rules=rules,
            algorithms=frozenset(algorithms or default),
            name=name or ("hs" if keys.symmetric else "jwks"),
        )


@dataclass(slots=True)
class _Options:
    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES
    claim_names: ClaimNames = field(default_factory=ClaimNames)
    header_rules: HeaderRules = DEFAULT_HEADER_RULES


class Verifier:
    """Verifies bearer credentials. Safe to share across requests and apps."""

    def __init__(
        self,
        *,
        keys: KeySource | None = None,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        algorithms: Iterable[str] | None = None,
        leeway: float = 30.0,
        required_claims: Iterable[str] = DEFAULT_REQUIRED_CLAIMS,
        max_token_age: float | None = None,
        max_token_lifetime: float | None = 3600.0,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        claim_names: ClaimNames | None = None,
        header_rules: HeaderRules = DEFAULT_HEADER_RULES,
        issuers: Sequence[TrustedIssuer] = (),
        sessions: SessionVerifier | None = None,
        jwt_session_check: bool = False,
        revocations: RevocationList | None = None,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        paths = list(issuers)
        if keys is not None:
            if issuer is None or audience is None:
                raise ConfigError(
                    "AUTHBRIDGE_ISSUER",
                    "a key source needs an issuer and an audience.",
                    "pass issuer= and audience= (Better Auth uses its base URL for both).",
                )
            paths.insert(
                0,
                TrustedIssuer.create(
                    keys,
                    issuer=issuer,
                    audience=audience,
                    algorithms=algorithms,
                    leeway=leeway,
                    required_claims=required_claims,
                    max_token_lifetime=max_token_lifetime,
                    max_token_age=max_token_age,
                ),
            )
        if jwt_session_check and (sessions is None or not sessions.supports_session_exists):
            raise ConfigError(
                "AUTHBRIDGE_JWT_SESSION_CHECK",
                "needs the shared-database session mode to look sessions up.",
                "set AUTHBRIDGE_SESSION_MODE=database and AUTHBRIDGE_SESSION_DATABASE_URL.",
            )
        self.sessions = sessions if sessions is not None and sessions.enabled else None
        self._jwt_session_check = jwt_session_check
        # Checked after verification and on every cache hit: in memory, no I/O.
        self.revocations = revocations
        if not paths and self.sessions is None:
            raise ConfigError(
                "BETTER_AUTH_URL",
                "no key source is configured.",
                "set BETTER_AUTH_URL (its JWKS), AUTHBRIDGE_JWKS_URL, or AUTHBRIDGE_JWT_SECRET.",
            )
        self.paths: tuple[TrustedIssuer, ...] = tuple(paths)
        self._by_alg: dict[str, tuple[TrustedIssuer, ...]] = {}
        for path in self.paths:
            for alg in path.algorithms:
                self._by_alg[alg] = (*self._by_alg.get(alg, ()), path)
        self._options = _Options(max_token_bytes, claim_names or ClaimNames(), header_rules)
        self._clock = clock
        self.cache = TokenCache(cache_size)
        self._header_cache: HeaderCache = {}
        for path in self.paths:
            path.keys.on_keys_removed(self._evictor(path.name))

    # --- construction from settings -----------------------------------------------------------

    @classmethod
    def from_env(cls) -> Verifier:
        return cls.from_settings(load_settings())

    @classmethod
    def from_settings(cls, settings: Settings, **extra: Any) -> Verifier:
        asym, sym = settings.split_algorithms()
        paths: list[TrustedIssuer] = []
        common: dict[str, Any] = {
            "leeway": settings.leeway_seconds,
            "required_claims": split_list(settings.required_claims),
            "max_token_lifetime": settings.max_token_lifetime,
            "max_token_age": settings.max_token_age,
        }
        jwks = _jwks_source(settings, asym)
        issuer, audiences = settings.resolved_issuer(), settings.resolved_audiences()
        if jwks is not None:
            if not issuer or not audiences:
                raise ConfigError(
                    "AUTHBRIDGE_ISSUER",
                    "the JWKS path has no issuer or audience.",
                    "set BETTER_AUTH_URL, or AUTHBRIDGE_ISSUER and AUTHBRIDGE_AUDIENCE.",
                )
            paths.append(
                TrustedIssuer.create(
                    jwks, issuer=issuer, audience=audiences, algorithms=asym or None, **common
                )
            )
        if settings.jwt_secret is not None:
            secret = settings.jwt_secret.get_secret_value()
            if secret == settings.current_better_auth_secret() and not (
                settings.allow_better_auth_secret
            ):
                raise ConfigError(
                    "AUTHBRIDGE_JWT_SECRET",
                    "equals BETTER_AUTH_SECRET, which also signs Better Auth's session_data "
                    "cookie.",
                    "use a separate secret (`authbridge secret`), or opt in with "
                    "AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH=true.",
                )
            hs_issuer = settings.jwt_issuer or issuer
            hs_audiences = split_list(settings.jwt_audience) or audiences
            if not hs_issuer or not hs_audiences:
                raise ConfigError(
                    "AUTHBRIDGE_JWT_ISSUER",
                    "the HS256 path has no issuer or audience.",
                    "set AUTHBRIDGE_JWT_ISSUER and AUTHBRIDGE_JWT_AUDIENCE (or BETTER_AUTH_URL).",
                )
            paths.append(
                TrustedIssuer.create(
                    SharedSecret(secret, algorithms=sym or DEFAULT_SYMMETRIC),
                    issuer=hs_issuer,
                    audience=hs_audiences,
                    **common,
                )
            )
        names = ClaimNames(
            roles=tuple(split_list(settings.roles_claim)),
            scopes=tuple(split_list(settings.scopes_claim)),
        )
        return cls(
            issuers=paths,
            max_token_bytes=settings.max_token_bytes,
            claim_names=names,
            cache_size=settings.token_cache_size,
            sessions=_session_verifier(settings),
            jwt_session_check=settings.jwt_session_check,
            revocations=_revocation_list(settings),
            **extra,
        )

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Prefetch remote keys. A down issuer is not fatal here: keys load lazily later."""
        for path in self.paths:
            await path.keys.start()
        if self.sessions is not None:
            try:
                await self.sessions.start()
            except KeysUnavailable:
                # Like a down JWKS, not fatal: Better Auth may not have migrated its tables
                # yet. Session credentials get 503 until the store answers.
                _sessions_logger.warning(
                    "session store check failed at startup; it is retried on first use"
                )
        if self.revocations is not None:
            await self.revocations.start()

    async def aclose(self) -> None:
        for path in self.paths:
            await path.keys.aclose()
        if self.sessions is not None:
            await self.sessions.aclose()
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
            if not token:
                raise TokenMissing()
            if len(token) > self._options.max_token_bytes:
                raise TokenTooLarge()
            # A Better Auth session token is "token.signature" or a raw token: never 3 segments.
            if self.sessions is not None and token.count(".") != 2:
                principal = await self.sessions.verify(token)
                if self.revocations is not None:
                    await self._check_revocation(principal)
                return principal
            # Inline rather than a nested coroutine: this is every new token's path.
            jws = parse_compact(
                token,
                max_bytes=self._options.max_token_bytes,
                rules=self._options.header_rules,
                header_cache=self._header_cache,
            )
            candidates = self._by_alg.get(jws.alg)
            path = candidates[0] if candidates and len(candidates) == 1 else self._route(jws)
            keys = path.keys
            if jws.kid is None and not keys.symmetric:
                raise UnknownKey("The token names no key id.")
            key = keys.cached_key(jws.kid, jws.alg) or await keys.get_key(jws.kid, jws.alg)
            principal = self._verify_signed(token, jws, path, key)
        if self._jwt_session_check:
            await self._check_session(principal)
        if self.revocations is not None:
            await self._check_revocation(principal)
        return principal

    def _verify_signed(
        self, token: str, jws: CompactJWS, path: TrustedIssuer, key: VerificationKey
    ) -> Principal:
        """Signature, then claims, then the Principal (V33: no claim is read before)."""
        algorithm = key.algorithm
        # The algorithm is bound to the key; the header only has to agree with it (V9).
        if algorithm.name != jws.alg:
            raise AlgorithmNotAllowed("The token's algorithm does not match its key.")
        if not algorithm.verify(key.key, jws.signing_input, jws.signature):
            raise InvalidSignature()
        claims = decode_payload(jws)
        rules = path.rules
        deadline = rules.validate(claims, self._clock())
        principal = build_principal(claims, self._options.claim_names, issuer=rules.issuer)
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

    def _route(self, jws: CompactJWS) -> TrustedIssuer:
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

    def _evictor(self, path_name: str) -> Callable[[frozenset[str]], None]:
        def evict(kids: frozenset[str]) -> None:
            self.cache.evict_keys((path_name, kid) for kid in kids)

        return evict


def _jwks_source(settings: Settings, asymmetric: list[str]) -> KeySource | None:
    rsa_algorithm = settings.resolved_rsa_algorithm(asymmetric)
    if settings.jwks_json:
        try:
            return StaticJWKS(settings.jwks_json, rsa_algorithm=rsa_algorithm)
        except ValueError as exc:
            raise ConfigError("AUTHBRIDGE_JWKS", f"is not a JWK Set ({exc}).", _JWKS_FIX) from None
    if settings.jwks_file:
        try:
            return StaticJWKS.from_file(settings.jwks_file, rsa_algorithm=rsa_algorithm)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                "AUTHBRIDGE_JWKS_FILE", f"cannot be loaded ({type(exc).__name__}).", _JWKS_FIX
            ) from None
    url = settings.resolved_jwks_url()
    if url is None:
        return None
    from .keys.remote import RemoteJWKS

    options: dict[str, Any] = {
        "ttl": settings.jwks_cache_ttl,
        "cooldown": settings.jwks_cooldown,
        "timeout": settings.jwks_timeout,
        "max_bytes": settings.jwks_max_bytes,
        "max_keys": settings.jwks_max_keys,
        "rsa_algorithm": rsa_algorithm,
        "variable": "AUTHBRIDGE_JWKS_URL" if settings.jwks_url else "BETTER_AUTH_URL",
    }
    if settings.redis_url is not None and settings.jwks_shared_cache:
        # N workers, one fetch: the set is shared through Redis (keys/shared_jwks.py).
        from .keys.shared_jwks import SharedRemoteJWKS

        return SharedRemoteJWKS(
            url,
            redis_url=settings.redis_url.get_secret_value(),
            prefix=settings.redis_prefix,
            redis_timeout=settings.redis_timeout,
            **options,
        )
    return RemoteJWKS(url, **options)


_JWKS_FIX: Final = 'provide JSON like {"keys": [...]} as served by /api/auth/jwks.'


def _session_verifier(settings: Settings) -> SessionVerifier | None:
    if settings.session_mode == "off":
        if settings.session_cookie or settings.jwt_session_check:
            raise ConfigError(
                "AUTHBRIDGE_SESSION_MODE",
                "is off, but session cookies or the JWT session check need a session store.",
                "set AUTHBRIDGE_SESSION_MODE=database (shared database) or remote.",
            )
        return None
    import json

    from .sessions.config import SessionConfig, SessionTables, resolve_secrets
    from .sessions.verifier import SessionVerifier

    secrets, legacy = resolve_secrets(
        secrets_env=_secret(settings.better_auth_secrets),
        secret_env=_secret(settings.better_auth_secret),
    )
    tables = SessionTables()
    if settings.session_tables:
        try:
            tables = SessionTables(**json.loads(settings.session_tables))
        except (ValueError, TypeError):
            raise ConfigError(
                "AUTHBRIDGE_SESSION_TABLES",
                "is not a JSON object of SessionTables fields.",
                'write e.g. {"session_table": "sessions", "session_user_id": "user_id"}.',
            ) from None
    config = SessionConfig(
        mode=settings.session_mode,
        secrets=secrets,
        legacy_secret=legacy,
        allow_unsigned=settings.session_allow_unsigned,
        database_url=settings.session_database_url,
        tables=tables,
        cache_ttl=settings.session_cache_ttl,
        base_url=settings.better_auth_url,
        remote_credential=settings.session_remote_credential,
        cookies_enabled=settings.session_cookie,
        cookie_prefix=settings.session_cookie_prefix,
        session_cookie_name=settings.session_cookie_name,
        cookie_cache=settings.session_cookie_cache,
        trusted_origins=tuple(split_list(settings.trusted_origins)),
        timeout=settings.session_timeout,
    )
    return SessionVerifier(config)


def _revocation_list(settings: Settings) -> RevocationList | None:
    if not settings.revocation:
        return None
    if settings.redis_url is None:
        raise ConfigError(
            "AUTHBRIDGE_REVOCATION",
            "needs a shared store so that every instance sees each revocation.",
            "set AUTHBRIDGE_REDIS_URL (e.g. redis://127.0.0.1:6379/0).",
        )
    from .revocation import RevocationList

    return RevocationList(
        settings.redis_url.get_secret_value(),
        prefix=settings.redis_prefix,
        failure=settings.redis_failure,
        resync_interval=settings.revocation_resync,
        retention=settings.revocation_retention,
        timeout=settings.redis_timeout,
    )


def _secret(value: Secret | None) -> str | None:
    return value.get_secret_value() if value is not None else None
