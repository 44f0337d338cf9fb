"""Shared helpers for the checklist tests: verifiers over real keys, and a rejection check
that also enforces V36 (no token, signature or key material in any error text)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from authbridge import SharedSecret, StaticJWKS, TrustedIssuer, Verifier
from authbridge.errors import AuthError
from authbridge.revocation import RevocationList
from authbridge.verifier import TokenPolicy
from tokens import AUDIENCE, ISSUER, FixedClock, TestKey, jwks

HS_ISSUER = "https://api.example.com/services"
HS_AUDIENCE = "https://tasks.example.com"


def jwks_verifier(
    *keys: TestKey,
    clock: FixedClock | None = None,
    audience: Any = AUDIENCE,
    policy: TokenPolicy | None = None,
    revocations: RevocationList | None = None,
    **path_options: Any,
) -> Verifier:
    """A verifier over a static JWKS; ``path_options`` go to ``TrustedIssuer.create``."""
    path = TrustedIssuer.create(
        StaticJWKS(jwks(*keys)), issuer=ISSUER, audience=audience, **path_options
    )
    return Verifier(
        path,
        policy=policy or TokenPolicy(),
        revocations=revocations,
        clock=clock or FixedClock(),
    )


def hs_verifier(secret: str, clock: FixedClock | None = None) -> Verifier:
    path = TrustedIssuer.create(SharedSecret(secret), issuer=HS_ISSUER, audience=HS_AUDIENCE)
    return Verifier(path, clock=clock or FixedClock())


def two_path_verifier(key: TestKey, secret: str, clock: FixedClock | None = None) -> Verifier:
    """The JWKS path (Better Auth's iss/aud) and the HS256 path (its own iss/aud)."""
    return Verifier(
        TrustedIssuer.create(StaticJWKS(jwks(key)), issuer=ISSUER, audience=AUDIENCE),
        TrustedIssuer.create(SharedSecret(secret), issuer=HS_ISSUER, audience=HS_AUDIENCE),
        clock=clock or FixedClock(),
    )


def assert_error_is_safe(error: BaseException, token: str, material: Iterable[Any] = ()) -> None:
    """V36: the error's text never carries the token, its segments, or key material."""
    text = f"{error}\n{error!r}\n{getattr(error, 'message', '')}"
    pieces = [token, *(part for part in token.split(".") if len(part) >= 6)]
    pieces += [str(m) for m in material if m]
    for piece in pieces:
        assert piece not in text, "an error message leaks token or key material"


def key_material(*keys: TestKey) -> list[str]:
    """The public-key strings a JWKS carries, to check they never reach an error."""
    found: list[str] = []
    for key in keys:
        found += [v for n, v in key.jwk.items() if n in ("x", "y", "n") and isinstance(v, str)]
    return found


async def rejects(
    verifier: Verifier,
    token: str,
    error: type[AuthError] | tuple[type[AuthError], ...],
    material: Iterable[Any] = (),
) -> AuthError:
    """Assert ``verify`` raises exactly ``error`` (or a subclass) and leaks nothing."""
    with pytest.raises(AuthError) as info:
        await verifier.verify(token)
    assert isinstance(info.value, error), f"expected {error}, got {info.value!r}"
    assert_error_is_safe(info.value, token, material)
    return info.value
