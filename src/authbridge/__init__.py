"""authbridge: verify Better Auth credentials in Python and FastAPI.

Everything the default Better Auth path needs is importable from here::

    from authbridge import AuthError, Principal, Verifier

    verifier = Verifier.from_env()  # BETTER_AUTH_URL: its JWKS, issuer and audience
    principal = await verifier.verify(token)

or, built from explicit objects::

    from authbridge import ClaimRules, RemoteJWKS, TrustedIssuer, Verifier

    keys = RemoteJWKS("https://auth.example.com/api/auth/jwks")
    origin = "https://auth.example.com"
    rules = ClaimRules(issuer=origin, audiences=frozenset({origin}))
    verifier = Verifier(TrustedIssuer(keys, rules))

Importing this module stays cheap: the error classes load with it, every other name on first
use (``RemoteJWKS`` brings asyncio, and httpx when one is built).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AlgorithmNotAllowed,
    ApiKeyDisabled,
    ApiKeyEndpointUnavailable,
    ApiKeyExpired,
    ApiKeyRateLimited,
    ApiKeyStoreUnavailable,
    ApiKeyUsageExceeded,
    AuthError,
    ConfigError,
    CsrfRejected,
    InsufficientScope,
    InvalidApiKey,
    InvalidAudience,
    InvalidClaims,
    InvalidIssuer,
    InvalidRequest,
    InvalidSignature,
    KeysUnavailable,
    OrganizationRequired,
    OrganizationRoleDenied,
    PermissionDenied,
    RevocationUnavailable,
    ServiceUnavailable,
    SessionEndpointUnavailable,
    SessionInvalid,
    SessionStoreUnavailable,
    TokenExpired,
    TokenMalformed,
    TokenMissing,
    TokenNotYetValid,
    TokenRevoked,
    TokenTooLarge,
    UnknownKey,
    UserBanned,
)

if TYPE_CHECKING:
    from .cache import TokenCache
    from .claims import ClaimNames, ClaimRules
    from .config import Settings, load_settings
    from .heap import freeze_heap
    from .keys.jwk import VerificationKey
    from .keys.remote import RemoteJWKS
    from .keys.secret import SharedSecret
    from .keys.source import KeySource
    from .keys.static import StaticJWKS
    from .principal import Principal
    from .verifier import TokenPolicy, TrustedIssuer, Verifier

__all__ = [
    "AlgorithmNotAllowed",
    "ApiKeyDisabled",
    "ApiKeyEndpointUnavailable",
    "ApiKeyExpired",
    "ApiKeyRateLimited",
    "ApiKeyStoreUnavailable",
    "ApiKeyUsageExceeded",
    "AuthError",
    "ClaimNames",
    "ClaimRules",
    "ConfigError",
    "CsrfRejected",
    "InsufficientScope",
    "InvalidApiKey",
    "InvalidAudience",
    "InvalidClaims",
    "InvalidIssuer",
    "InvalidRequest",
    "InvalidSignature",
    "KeySource",
    "KeysUnavailable",
    "OrganizationRequired",
    "OrganizationRoleDenied",
    "PermissionDenied",
    "Principal",
    "RemoteJWKS",
    "RevocationUnavailable",
    "ServiceUnavailable",
    "SessionEndpointUnavailable",
    "SessionInvalid",
    "SessionStoreUnavailable",
    "Settings",
    "SharedSecret",
    "StaticJWKS",
    "TokenCache",
    "TokenExpired",
    "TokenMalformed",
    "TokenMissing",
    "TokenNotYetValid",
    "TokenPolicy",
    "TokenRevoked",
    "TokenTooLarge",
    "TrustedIssuer",
    "UnknownKey",
    "UserBanned",
    "VerificationKey",
    "Verifier",
    "freeze_heap",
    "load_settings",
]
__version__ = "0.1.0"

# Everything but the error classes loads on first access (PEP 562): ``import authbridge`` (and
# every ``authbridge.<part>`` import, which runs this file first) then costs about 20 ms
# instead of 80 (bench/results/startup.md). The names are the same either way.
_LAZY: dict[str, str] = {
    "ClaimNames": ".claims",
    "ClaimRules": ".claims",
    "KeySource": ".keys.source",
    "Principal": ".principal",
    "RemoteJWKS": ".keys.remote",
    "Settings": ".config",
    "SharedSecret": ".keys.secret",
    "StaticJWKS": ".keys.static",
    "TokenCache": ".cache",
    "TokenPolicy": ".verifier",
    "TrustedIssuer": ".verifier",
    "VerificationKey": ".keys.jwk",
    "Verifier": ".verifier",
    "freeze_heap": ".heap",
    "load_settings": ".config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'authbridge' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
