"""One error base class; each subclass carries a short, stable ``code``.

Messages are fixed strings chosen by authbridge. They never contain token, key,
signature or claim material, so they are safe to log and to send to clients.

The classes are the one place that decides how a failure is answered: ``status`` is the HTTP
status, ``code`` the precise reason (for the audit log and the CLI) and ``public_code`` what a
client is told. Every token failure shares the public code ``invalid_token`` (V53); an outage
of a service authentication depends on (``ServiceUnavailable``) is not the client's fault, so
its precise code is public.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

__all__ = [
    "AlgorithmNotAllowed",
    "ApiKeyDisabled",
    "ApiKeyEndpointUnavailable",
    "ApiKeyExpired",
    "ApiKeyRateLimited",
    "ApiKeyStoreUnavailable",
    "ApiKeyUsageExceeded",
    "AuthError",
    "ConfigError",
    "CsrfRejected",
    "InsufficientScope",
    "InvalidApiKey",
    "InvalidAudience",
    "InvalidClaims",
    "InvalidIssuer",
    "InvalidRequest",
    "InvalidSignature",
    "KeysUnavailable",
    "OrganizationRequired",
    "OrganizationRoleDenied",
    "PermissionDenied",
    "RevocationUnavailable",
    "ServiceUnavailable",
    "SessionEndpointUnavailable",
    "SessionInvalid",
    "SessionStoreUnavailable",
    "TokenExpired",
    "TokenMalformed",
    "TokenMissing",
    "TokenNotYetValid",
    "TokenRevoked",
    "TokenTooLarge",
    "UnknownKey",
    "UserBanned",
]


# What a client is told for a status, when a class does not say.
_PUBLIC_CODE_FOR_STATUS: Final = {400: "invalid_request", 401: "invalid_token", 403: "forbidden"}


class AuthError(Exception):
    """Base of every credential failure. ``code`` is stable; ``status`` is the HTTP answer.

    ``public_code`` is the code a client sees. A subclass that sets its own ``status`` and no
    ``public_code`` gets the coarse one for that status.
    """

    code: ClassVar[str] = "invalid_token"
    status: ClassVar[int] = 401
    public_code: ClassVar[str] = "invalid_token"
    default_message: ClassVar[str] = "The access token is invalid."

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "status" in cls.__dict__ and "public_code" not in cls.__dict__:
            cls.public_code = _PUBLIC_CODE_FOR_STATUS.get(cls.status, cls.code)
        # An error without a docstring is documented by what it tells the client.
        if cls.__doc__ is None:
            cls.__doc__ = f"{cls.default_message} Code ``{cls.code}``, HTTP {cls.status}."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class TokenMissing(AuthError):
    code = "token_missing"
    public_code = "token_missing"
    default_message = "No credentials were sent."


class InvalidRequest(AuthError):
    """The request itself is malformed (RFC 6750 ``invalid_request``): answered with 400."""

    code = "invalid_request"
    status = 400
    default_message = "The Authorization header is malformed."


class TokenMalformed(AuthError):
    code = "token_malformed"
    default_message = "The token is not a well-formed compact JWS."


class TokenTooLarge(AuthError):
    code = "token_too_large"
    default_message = "The token is larger than this API accepts."


class AlgorithmNotAllowed(AuthError):
    code = "algorithm_not_allowed"
    default_message = "The token's algorithm is not allowed."


class UnknownKey(AuthError):
    code = "unknown_key"
    default_message = "The token was signed by a key this API does not know."


class InvalidSignature(AuthError):
    code = "invalid_signature"
    default_message = "The token's signature is invalid."


class TokenExpired(AuthError):
    code = "token_expired"
    default_message = "The token has expired."


class TokenNotYetValid(AuthError):
    code = "token_not_yet_valid"
    default_message = "The token is not valid yet."


class InvalidIssuer(AuthError):
    code = "invalid_issuer"
    default_message = "The token's issuer is not trusted."


class InvalidAudience(AuthError):
    code = "invalid_audience"
    default_message = "The token is not meant for this API."


class InvalidClaims(AuthError):
    code = "invalid_claims"
    default_message = "The token's claims are invalid."


class TokenRevoked(AuthError):
    code = "token_revoked"
    default_message = "The token has been revoked."


class SessionInvalid(AuthError):
    """A Better Auth session credential that is unknown, expired or signed out."""

    code = "session_invalid"
    default_message = "The session is invalid or has ended."


class UserBanned(AuthError):
    """The credential is valid but its user is banned (Better Auth's admin plugin).

    401 rather than the 403 Better Auth answers at sign-in: the credential itself must go. A
    401 carries ``WWW-Authenticate: Bearer error="invalid_token"``, the RFC 6750 signal to drop
    the token; the web app (web/lib/api.ts) refreshes once on a 401, gets no new token for a
    banned user, and signs them out. A 403 would leave a banned user signed in, retrying.
    Its code is public because the user can do nothing about it, and should be told so.
    """

    code = "user_banned"
    status = 401
    public_code = "user_banned"
    default_message = "The user is banned."


class InvalidApiKey(AuthError):
    """An API key Better Auth would refuse: unknown, too short, of another configuration, or
    its user gone. Every API-key refusal answers 401 with the public code ``invalid_api_key``;
    the subclasses' codes (disabled, expired, used up, rate limited) go to the audit log."""

    code = "invalid_api_key"
    status = 401
    public_code = "invalid_api_key"
    default_message = "The API key is invalid."


class ApiKeyDisabled(InvalidApiKey):
    code = "api_key_disabled"
    public_code = "invalid_api_key"
    default_message = "The API key is disabled."


class ApiKeyExpired(InvalidApiKey):
    code = "api_key_expired"
    public_code = "invalid_api_key"
    default_message = "The API key has expired."


class ApiKeyUsageExceeded(InvalidApiKey):
    """The key's ``remaining`` count is used up (Better Auth's ``USAGE_EXCEEDED``)."""

    code = "api_key_usage_exceeded"
    public_code = "invalid_api_key"
    default_message = "The API key has no uses left."


class ApiKeyRateLimited(InvalidApiKey):
    """The key's own rate limit is hit (Better Auth's ``RATE_LIMITED``)."""

    code = "api_key_rate_limited"
    public_code = "invalid_api_key"
    default_message = "The API key's rate limit is exceeded."


class CsrfRejected(AuthError):
    code = "csrf_rejected"
    status = 403
    public_code = "csrf_rejected"  # a cookie sent cross-site: not a token problem
    default_message = "The request's origin is not trusted."


class ServiceUnavailable(AuthError):
    """A service authentication depends on is down: answered with 503 and ``Retry-After``.

    Catch this to handle every outage at once; each subclass names the service, in its class
    and in its ``code``, so a database outage is never logged as a key outage.
    """

    code = "service_unavailable"
    status = 503
    default_message = "Authentication is temporarily unavailable."

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "public_code" not in cls.__dict__:
            cls.public_code = cls.code  # an outage is not the client's fault: say which

    def __init__(self, message: str | None = None, *, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KeysUnavailable(ServiceUnavailable):
    """The issuer's keys cannot be fetched and none are cached."""

    code = "keys_unavailable"
    default_message = "The issuer's signing keys are unavailable."


class SessionStoreUnavailable(ServiceUnavailable):
    """Session mode: Better Auth's session database cannot be read."""

    code = "session_store_unavailable"
    default_message = "The session store is unavailable."


class SessionEndpointUnavailable(ServiceUnavailable):
    """Session mode: Better Auth's ``get-session`` endpoint cannot be reached or misbehaves."""

    code = "session_endpoint_unavailable"
    default_message = "The session endpoint is unavailable."


class ApiKeyStoreUnavailable(SessionStoreUnavailable):
    """API keys, database mode: Better Auth's ``apikey`` table cannot be read or written."""

    code = "api_key_store_unavailable"
    default_message = "The API key store is unavailable."


class ApiKeyEndpointUnavailable(SessionEndpointUnavailable):
    """API keys, remote mode: Better Auth's ``get-session`` cannot check the key."""

    code = "api_key_endpoint_unavailable"
    default_message = "The API key endpoint is unavailable."


class RevocationUnavailable(ServiceUnavailable):
    """``failure="closed"`` and the shared revocation list cannot be read."""

    code = "revocation_unavailable"
    default_message = "The revocation list is unavailable."


class InsufficientScope(AuthError):
    code = "insufficient_scope"
    status = 403
    public_code = "insufficient_scope"
    default_message = "The token lacks the scope or role this request needs."

    def __init__(self, message: str | None = None, *, required: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.required = required


class OrganizationRequired(InsufficientScope):
    """The request needs an active organization and the credential names none.

    Its own public code, unlike the other authorization refusals: the client has something
    to do about it (set an active organization, ``organization.setActive`` in Better Auth).
    As an ``InsufficientScope`` it keeps the RFC 6750 ``insufficient_scope`` challenge.
    """

    code = "organization_required"
    public_code = "organization_required"
    default_message = "The request needs an active organization."


class OrganizationRoleDenied(InsufficientScope):
    """The member's role in the active organization is not one the route accepts.

    Answered like ``require_roles``' refusal (public code ``insufficient_scope``); the precise
    code goes to the audit log only, as with token failures.
    """

    code = "insufficient_org_role"
    default_message = "The member's organization role is not allowed here."


class PermissionDenied(InsufficientScope):
    """The member's organization role does not grant the permission the route needs.

    Answered like ``require_roles``' refusal (public code ``insufficient_scope``).
    """

    code = "insufficient_permission"
    default_message = "The member's organization role lacks the permission this request needs."


class ConfigError(Exception):
    """A bad setting, raised at startup. It names the variable and says how to fix it."""

    def __init__(self, variable: str, problem: str, fix: str) -> None:
        self.variable = variable
        self.problem = problem
        self.fix = fix
        super().__init__(f"{variable}: {problem} Fix: {fix}")
