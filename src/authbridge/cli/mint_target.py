"""What ``authbridge mint`` signs with: a key, algorithm, issuer and audience that the same
settings verify.

The verifier is built by ``Verifier.from_settings``, as ``authbridge verify`` builds it, and a
dev key counts only when that verifier's own key source returns it by kid with the same
thumbprint. So a token minted with the defaults is never refused by ``verify`` in the same
environment for its key, algorithm, issuer or audience; where no such token can be minted (a
JWKS whose private keys only the auth server holds), mint says so instead (a ``ConfigError``,
exit 2). Explicit ``--iss``, ``--aud``, ``--kid``, ``--exp`` and ``--secret`` are honoured as
given: they exist to mint tokens that fail on purpose, or for another service.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ..claims import ClaimRules
from ..config import Settings, split_list
from ..errors import ConfigError, KeysUnavailable, UnknownKey
from ..jose.algorithms import ALGORITHMS
from ..keys.secret import check_secret
from ..verifier import TrustedIssuer, Verifier
from .dev_guard import dev_key_store
from .devkeys import ASYMMETRIC_DEV_ALGORITHMS, DevKey
from .doctor import describe_source, remote_jwks

__all__ = ["DEV_ISSUER_ORIGIN", "MintTarget", "mint_target"]

DEV_ISSUER_ORIGIN: Final = "http://127.0.0.1:3999"
_DEV_ISSUER_FIX: Final = (
    "for development, run `authbridge dev-issuer` and set BETTER_AUTH_URL=http://127.0.0.1:3999 "
    "(mint and dev-issuer must share the keys file)"
)


@dataclass(frozen=True, slots=True)
class MintTarget:
    """The signing key (a dev key pair or the HS256 secret), the default iss and aud, and the
    claim rules of the trusted path that will verify the token (None: no path yet)."""

    alg: str
    issuer: str
    audience: str
    dev_key: DevKey | None = None
    key_created: bool = False
    keys_file: Path | None = None
    secret: bytes | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()
    rules: ClaimRules | None = None


class _Unavailable(Exception):
    """The JWKS did not answer, so whether it serves the dev keys is unknown."""


class _NoDevKey(ConfigError):
    """The JWKS serves no dev key mint holds; ``reason`` says why in one clause."""

    def __init__(self, variable: str, reason: str, consequence: str, fix: str) -> None:
        super().__init__(variable, f"{reason}, so {consequence}", fix)
        self.reason = reason


def mint_target(
    settings: Settings, *, alg: str | None, secret: str | None, keys_file: Path | None
) -> MintTarget:
    """Choose what to sign with. ``alg`` is ``--alg`` (None: the best the settings accept)."""
    if secret is not None:
        return _explicit_secret(settings, alg, secret)
    has_jwks = settings.jwks_json or settings.jwks_file or settings.resolved_jwks_url()
    if not has_jwks and settings.jwt_secret is None:
        return _bootstrap(settings, alg or "EdDSA", keys_file)
    return asyncio.run(_configured(settings, alg, keys_file))


def _explicit_secret(settings: Settings, alg: str | None, secret: str) -> MintTarget:
    if alg is not None and alg != "HS256":
        raise ConfigError(
            "--secret", f"signs HS256 tokens, not {alg}.", "drop --alg, or drop --secret."
        )
    issuer = settings.jwt_issuer or settings.resolved_issuer() or DEV_ISSUER_ORIGIN
    audiences = split_list(settings.jwt_audience) or settings.resolved_audiences()
    return MintTarget(
        alg="HS256",
        issuer=issuer,
        audience=audiences[0] if audiences else issuer,
        secret=check_secret(secret, "--secret"),
    )


def _bootstrap(settings: Settings, alg: str, keys_file: Path | None) -> MintTarget:
    """Nothing to verify with yet: sign for the dev issuer, which serves the same keys."""
    if ALGORITHMS[alg].symmetric:
        raise _no_secret(
            "is not set, so there is nothing to sign HS256 tokens with.",
            "run `authbridge secret --write --hs256`, or pass --secret.",
        )
    store = dev_key_store(keys_file)
    dev_key, created = store.key_for(alg)
    issuer = settings.resolved_issuer() or DEV_ISSUER_ORIGIN
    audiences = settings.resolved_audiences()
    return MintTarget(
        alg=alg,
        issuer=issuer,
        audience=audiences[0] if audiences else issuer,
        dev_key=dev_key,
        key_created=created,
        keys_file=store.path,
    )


async def _configured(settings: Settings, alg: str | None, keys_file: Path | None) -> MintTarget:
    verifier = Verifier.from_settings(settings)  # a ConfigError here is verify's own
    try:
        jwks = next((p for p in verifier.paths if not p.keys.symmetric), None)
        shared = next((p for p in verifier.paths if p.keys.symmetric), None)
        if alg is not None and ALGORITHMS[alg].symmetric:
            return _hs256(settings, shared, jwks)
        if alg is not None:
            return await _dev_key(settings, jwks, alg, keys_file)
        if jwks is None:
            return _hs256(settings, shared, jwks)
        try:
            return await _dev_key(settings, jwks, None, keys_file)
        except _NoDevKey as refused:
            if shared is None or "HS256" not in shared.algorithms:
                raise
            note = (
                f"{refused.reason}: signed HS256 with AUTHBRIDGE_JWT_SECRET instead (the API's "
                "other trusted path)."
            )
            return dataclasses.replace(_hs256(settings, shared, jwks), notes=(note,))
    finally:
        await verifier.aclose()


def _hs256(
    settings: Settings, shared: TrustedIssuer | None, jwks: TrustedIssuer | None
) -> MintTarget:
    if shared is None:
        raise _no_secret(
            f"is not set, so HS256 tokens would be refused: this API verifies with "
            f"{describe_source(jwks)} only."
            if jwks is not None
            else "is not set.",
            "mint without --alg HS256 (a dev key the JWKS serves), or set AUTHBRIDGE_JWT_SECRET "
            "(`authbridge secret --write --hs256`).",
        )
    if "HS256" not in shared.algorithms:
        raise ConfigError(
            "AUTHBRIDGE_ALGORITHMS",
            f"does not allow HS256 ({', '.join(sorted(shared.algorithms))} only), so an HS256 "
            "token would be refused.",
            "add HS256 to AUTHBRIDGE_ALGORITHMS.",
        )
    assert settings.jwt_secret is not None  # the shared-secret path is built from it
    return MintTarget(
        alg="HS256",
        issuer=shared.rules.issuer,
        audience=_audience(shared),
        secret=settings.jwt_secret.get_secret_value().encode(),
        rules=shared.rules,
    )


async def _dev_key(
    settings: Settings, jwks: TrustedIssuer | None, alg: str | None, keys_file: Path | None
) -> MintTarget:
    """A dev key that the verifier's JWKS serves: ``alg``'s, or else the first allowed of
    Better Auth's algorithms (EdDSA first) whose key it serves. With no such key yet, the
    key is made first (the dev issuer re-reads the file, so it serves it at once)."""
    if jwks is None:
        raise ConfigError(
            "BETTER_AUTH_URL",
            f"is not set and no JWKS is configured, so {alg} tokens would be refused: this API "
            "verifies HS256 with AUTHBRIDGE_JWT_SECRET only.",
            f"drop --alg (mint HS256), or {_DEV_ISSUER_FIX}.",
        )
    allowed = [name for name in ASYMMETRIC_DEV_ALGORITHMS if name in jwks.algorithms]
    if alg is not None and alg not in allowed:
        raise ConfigError(
            "AUTHBRIDGE_ALGORITHMS",
            f"does not allow {alg} ({', '.join(sorted(jwks.algorithms))} only), so an {alg} "
            "token would be refused.",
            f"add {alg} to AUTHBRIDGE_ALGORITHMS, or drop --alg.",
        )
    store = dev_key_store(keys_file)
    mine = {key.alg: key for key in store.load()}
    candidates = [mine[name] for name in ([alg] if alg else allowed) if name in mine]
    created = not candidates
    if created:  # made on first use, as always; a dev issuer serves it from the file at once
        candidates = [store.key_for(alg or allowed[0])[0]]
    try:
        for key in candidates:
            if await _serves(jwks, key):
                return MintTarget(
                    alg=key.alg,
                    issuer=jwks.rules.issuer,
                    audience=_audience(jwks),
                    dev_key=key,
                    key_created=created,
                    keys_file=store.path,
                    rules=jwks.rules,
                )
    except _Unavailable as exc:
        raise _NoDevKey(
            _jwks_variable(settings),
            f"{describe_source(jwks)} cannot be fetched ({exc})",
            "mint cannot tell whether it serves the dev keys, and verify refuses every token "
            "until it answers.",
            "start the auth server (or `authbridge dev-issuer`) first, or fix "
            f"{_jwks_variable(settings)}.",
        ) from None
    which = f"does not serve the {alg} dev key" if alg else "serves none of the dev keys"
    raise _NoDevKey(
        _jwks_variable(settings),
        f"{describe_source(jwks)} {which} in {store.path}",
        "a token minted here would be refused: only the auth server holds its private keys.",
        "get a real token from Better Auth (GET /api/auth/token, or authClient.token()); or, "
        f"{_DEV_ISSUER_FIX}; or set AUTHBRIDGE_JWT_SECRET and mint HS256.",
    )


async def _serves(path: TrustedIssuer, dev_key: DevKey) -> bool:
    """Whether the verifier's own key source returns this dev key for its kid."""
    try:
        key = path.keys.cached_key(dev_key.kid, dev_key.alg) or await path.keys.get_key(
            dev_key.kid, dev_key.alg
        )
    except UnknownKey:
        return False
    except KeysUnavailable:
        remote = remote_jwks(path.keys)
        raise _Unavailable(
            (remote.last_error if remote is not None else None) or "unavailable"
        ) from None
    return key.alg == dev_key.alg and key.thumbprint == dev_key.thumbprint


def _audience(path: TrustedIssuer) -> str:
    """Better Auth's shape (aud = iss) when the path accepts it, else the first accepted."""
    audiences = path.rules.audiences
    return path.rules.issuer if path.rules.issuer in audiences else sorted(audiences)[0]


def _jwks_variable(settings: Settings) -> str:
    """The variable that chose the JWKS, in the verifier's order of precedence."""
    if settings.jwks_json:
        return "AUTHBRIDGE_JWKS"
    if settings.jwks_file:
        return "AUTHBRIDGE_JWKS_FILE"
    return "AUTHBRIDGE_JWKS_URL" if settings.jwks_url else "BETTER_AUTH_URL"


def _no_secret(problem: str, fix: str) -> ConfigError:
    return ConfigError("AUTHBRIDGE_JWT_SECRET", problem, fix)
