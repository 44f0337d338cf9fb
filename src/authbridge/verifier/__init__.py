"""The verifier (floor 3): ``Verifier``, its policy objects, and its wiring from settings.

``core.py`` verifies, ``trusted.py`` holds the policy objects it is built from, and
``wiring.py`` turns ``Settings`` into them (``Verifier.from_settings``).
"""

from __future__ import annotations

from .core import CredentialKind, Verifier
from .trusted import DEFAULT_MAX_TOKEN_BYTES, TokenPolicy, TrustedIssuer, VerifierOptions

__all__ = [
    "DEFAULT_MAX_TOKEN_BYTES",
    "CredentialKind",
    "TokenPolicy",
    "TrustedIssuer",
    "Verifier",
    "VerifierOptions",
]
