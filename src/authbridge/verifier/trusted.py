"""The verifier's policy objects: one ``TrustedIssuer`` per trusted path, and ``TokenPolicy``.

They hold what a ``Verifier`` enforces and nothing it does, so that a verifier is built from
explicit objects (``Verifier(TrustedIssuer(keys, ClaimRules(...)))``) and settings are turned
into them in one place, ``wiring.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypedDict

from ..claims import DEFAULT_REQUIRED_CLAIMS, ClaimNames, ClaimRules
from ..errors import ConfigError
from ..jose.algorithms import ALGORITHMS, DEFAULT_ASYMMETRIC, DEFAULT_SYMMETRIC
from ..jose.parse import DEFAULT_HEADER_RULES, HeaderRules
from ..keys.source import KeySource

if TYPE_CHECKING:
    from ..apikeys.verifier import ApiKeyVerifier
    from ..cache import TokenCache
    from ..revocation import RevocationList
    from ..sessions.verifier import SessionVerifier

__all__ = ["DEFAULT_MAX_TOKEN_BYTES", "TokenPolicy", "TrustedIssuer", "VerifierOptions"]

DEFAULT_MAX_TOKEN_BYTES: Final = 8192


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """One trusted path: its keys, the algorithms they may be used with, and its claim rules.

    ``algorithms`` defaults to the key source's family (``DEFAULT_SYMMETRIC`` for a shared
    secret, ``DEFAULT_ASYMMETRIC`` for a JWKS); ``name`` to ``"hs"`` or ``"jwks"``.
    """

    keys: KeySource
    rules: ClaimRules
    algorithms: frozenset[str] = frozenset()
    name: str = ""

    def __post_init__(self) -> None:
        if not self.algorithms:
            default = DEFAULT_SYMMETRIC if self.keys.symmetric else DEFAULT_ASYMMETRIC
            object.__setattr__(self, "algorithms", frozenset(default))
        elif not isinstance(self.algorithms, frozenset):
            object.__setattr__(self, "algorithms", frozenset(self.algorithms))
        if not self.name:
            object.__setattr__(self, "name", "hs" if self.keys.symmetric else "jwks")
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
        """A path from plain values; a bad issuer, audience or leeway is a ``ConfigError``."""
        audiences = frozenset([audience] if isinstance(audience, str) else audience)
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
        return cls(keys=keys, rules=rules, algorithms=frozenset(algorithms or ()), name=name or "")


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """What every credential must satisfy whichever path it takes, and how claims map.

    ``jwt_session_check``: a JWT that carries a session id (``sid``) is valid only while that
    session exists in the shared database (needs a ``SessionVerifier`` in database mode).
    """

    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES
    header_rules: HeaderRules = DEFAULT_HEADER_RULES
    claim_names: ClaimNames = field(default_factory=ClaimNames)
    jwt_session_check: bool = False


class VerifierOptions(TypedDict, total=False):
    """The keyword arguments of ``Verifier``: what ``wiring.verifier_parts`` builds."""

    sessions: SessionVerifier | None
    api_keys: ApiKeyVerifier | None
    revocations: RevocationList | None
    policy: TokenPolicy
    cache: TokenCache
    clock: Callable[[], float]
