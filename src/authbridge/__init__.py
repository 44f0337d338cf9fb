"""authbridge: verify Better Auth credentials in Python and FastAPI."""

from __future__ import annotations

from .claims import ClaimNames, ClaimRules
from .config import Settings, load_settings
from .errors import AuthError, ConfigError
from .keys.secret import SharedSecret
from .keys.static import StaticJWKS
from .principal import Principal
from .verifier import TrustedIssuer, Verifier

__all__ = [
    "AuthError",
    "ClaimNames",
    "ClaimRules",
    "ConfigError",
    "Principal",
    "Settings",
    "SharedSecret",
    "StaticJWKS",
    "TrustedIssuer",
    "Verifier",
    "load_settings",
]
__version__ = "0.1.0"
