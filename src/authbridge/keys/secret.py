"""The shared HMAC secret for HS256/384/512 service tokens (V21)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..errors import ConfigError, UnknownKey
from ..jose.algorithms import ALGORITHMS, DEFAULT_SYMMETRIC
from .jwk import VerificationKey
from .source import KeysRemovedListener

__all__ = ["BETTER_AUTH_DEFAULT_SECRET", "MIN_SECRET_BYTES", "SharedSecret"]

MIN_SECRET_BYTES: Final = 32
# Better Auth falls back to this public value when no secret is configured.
BETTER_AUTH_DEFAULT_SECRET: Final = "better-auth-secret-12345678901234567890"


def check_secret(secret: str | bytes, variable: str = "AUTHBRIDGE_JWT_SECRET") -> bytes:
    """Return the secret's bytes, or raise ``ConfigError`` naming ``variable`` and the fix."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    fix = "generate one with `authbridge secret` (32 random bytes or more)."
    if raw == BETTER_AUTH_DEFAULT_SECRET.encode():
        raise ConfigError(variable, "is Better Auth's public default secret.", fix)
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigError(
            variable, f"is {len(raw)} bytes; at least {MIN_SECRET_BYTES} are required.", fix
        )
    if len(set(raw)) < 8:
        raise ConfigError(variable, "has too little variety to be a random secret.", fix)
    return raw


class SharedSecret:
    """One secret, bound to each of its HMAC algorithms as a separate key.

    ``kid`` is optional: when set, a token that names a kid must name this one.
    """

    symmetric = True

    def __init__(
        self,
        secret: str | bytes,
        *,
        algorithms: Iterable[str] = DEFAULT_SYMMETRIC,
        kid: str | None = None,
        variable: str = "AUTHBRIDGE_JWT_SECRET",
    ) -> None:
        raw = check_secret(secret, variable)
        self.kid = kid
        self._keys: dict[str, VerificationKey] = {}
        for name in algorithms:
            algorithm = ALGORITHMS.get(name)
            if algorithm is None or not algorithm.symmetric:
                raise ConfigError(
                    "AUTHBRIDGE_ALGORITHMS",
                    f"{name!r} is not an HMAC algorithm.",
                    "use HS256, HS384 or HS512 with a shared secret.",
                )
            # RFC 7518 §3.2: the key must be at least as long as the hash output.
            needed = int(name[2:]) // 8
            if len(raw) < needed:
                raise ConfigError(
                    variable,
                    f"is {len(raw)} bytes; {name} needs at least {needed}.",
                    f"use a secret of {needed} random bytes or more (`authbridge secret`).",
                )
            self._keys[name] = VerificationKey(kid=kid, algorithm=algorithm, key=raw, kty="oct")

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset(self._keys)

    def cached_key(self, kid: str | None, alg: str) -> VerificationKey | None:
        if kid is not None and self.kid is not None and kid != self.kid:
            return None
        return self._keys.get(alg)

    async def get_key(self, kid: str | None, alg: str) -> VerificationKey:
        key = self.cached_key(kid, alg)
        if key is None:
            raise UnknownKey()
        return key

    def on_keys_removed(self, listener: KeysRemovedListener) -> None:
        """A shared secret never rotates in place."""

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
