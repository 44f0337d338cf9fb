"""The verification doctor: each step of ``Verifier.verify``, reported with a reason and a fix.

The doctor asks the verifier what it would do: it calls the same public steps ``verify``
calls (``credential_kind``, ``parse``, ``route``, ``find_key``, ``check_signature``) and
``ClaimRules.validate`` on one claim at a time, so each failure is the library's own
verdict, explained, and the doctor cannot drift from the verifier. The final verdict always
comes from ``Verifier.verify``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..claims import ClaimRules
from ..config import Settings, origin_of
from ..errors import (
    AlgorithmNotAllowed,
    AuthError,
    InvalidAudience,
    InvalidClaims,
    InvalidIssuer,
    KeysUnavailable,
    TokenExpired,
    TokenNotYetValid,
    UnknownKey,
)
from ..jose.algorithms import ALGORITHMS
from ..jose.parse import CompactJWS, decode_payload
from ..keys.jwk import VerificationKey
from ..keys.remote import RemoteJWKS, describe_kid
from ..keys.secret import SharedSecret
from ..keys.static import StaticJWKS
from ..verifier import TrustedIssuer, Verifier
from .recognize import Recognized, algorithm_hint, recognize
from .timefmt import describe_duration, describe_time
from .token_input import CleanToken

__all__ = ["Check", "Diagnosis", "describe_source", "diagnose", "remote_jwks"]


def remote_jwks(keys: object) -> RemoteJWKS | None:
    """``keys`` if it is a ``RemoteJWKS``, else None."""
    return keys if isinstance(keys, RemoteJWKS) else None


Status = Literal["pass", "fail", "warn", "info", "skip"]


@dataclass(slots=True)
class Check:
    step: str
    status: Status
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(slots=True)
class Diagnosis:
    recognized: Recognized
    checks: list[Check] = field(default_factory=list)
    valid: bool = False
    error_code: str | None = None
    error_message: str | None = None
    principal: dict[str, Any] | None = None

    def add(self, step: str, status: Status, detail: str, fix: str | None = None) -> None:
        self.checks.append(Check(step, status, detail, fix))

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.recognized.kind,
            "title": self.recognized.title,
            "checks": [check.as_dict() for check in self.checks],
            "valid": self.valid,
            "error": (
                {"code": self.error_code, "message": self.error_message}
                if self.error_code
                else None
            ),
            "principal": self.principal,
        }


# --- describing the configuration --------------------------------------------------------


def describe_source(path: TrustedIssuer) -> str:
    keys = path.keys
    remote = remote_jwks(keys)
    if remote is not None:
        return f"the JWKS at {remote.url}"
    if isinstance(keys, StaticJWKS):
        return "the static JWKS (AUTHBRIDGE_JWKS / AUTHBRIDGE_JWKS_FILE)"
    if isinstance(keys, SharedSecret):
        return "the shared secret AUTHBRIDGE_JWT_SECRET"
    return f"the key source {type(keys).__name__}"


def _claim_variables(path: TrustedIssuer) -> tuple[str, str]:
    if path.keys.symmetric:
        return "AUTHBRIDGE_JWT_ISSUER", "AUTHBRIDGE_JWT_AUDIENCE"
    return "AUTHBRIDGE_ISSUER or BETTER_AUTH_URL", "AUTHBRIDGE_AUDIENCE or BETTER_AUTH_URL"


def _known_kids(path: TrustedIssuer) -> dict[str, VerificationKey]:
    keys = path.keys
    if isinstance(keys, StaticJWKS) or remote_jwks(keys) is not None:
        return dict(keys.keys)  # type: ignore[attr-defined]
    return {}


def _key_problems(path: TrustedIssuer) -> list[tuple[str | None, str]]:
    keys = path.keys
    if isinstance(keys, StaticJWKS) or remote_jwks(keys) is not None:
        return [(problem.kid, problem.reason) for problem in keys.problems]  # type: ignore[attr-defined]
    return []


def _origin_or_none(value: object) -> str | None:
    if type(value) is not str:
        return None
    try:
        return origin_of(value, "iss")
    except Exception:  # noqa: BLE001 - any unparsable value simply has no origin
        return None


def _host_swap_note(got: object, expected: frozenset[str]) -> str:
    """The classic mix-up: localhost vs 127.0.0.1 are different origins."""
    values = [got] if type(got) is str else got if type(got) is list else []
    hosts = {"localhost", "127.0.0.1", "[::1]"}
    for value in values:
        for want in expected:
            if type(value) is not str:
                continue
            for a in hosts:
                for b in hosts - {a}:
                    if value.replace(a, b) == want:
                        return (
                            f" {a} and {b} are different origins: Better Auth takes iss and aud "
                            "from BETTER_AUTH_URL (or from the request's Host when it is unset)."
                        )
    return ""


# --- the steps -------------------------------------------------------------------------------


_FORMAT_FIX = {
    "session_token": (
        "This is what causes 'token not included in session'-style 401s when an API expects a "
        "JWT. Send a JWT instead: GET /api/auth/token with 'Authorization: Bearer <session "
        "token>' (bearer() plugin) or authClient.token() returns one; or enable session mode "
        "in the API (AUTHBRIDGE_SESSION_MODE=database or remote) to accept session tokens."
    ),
    "cookie_cache_compact": (
        "Send the JWT from GET /api/auth/token (or the session token in session mode), "
        "not the session_data cookie."
    ),
    "jwe": "Send the signed JWT from Better Auth's /api/auth/token (3 segments).",
    "unknown": "Copy the whole token: a JWT is three base64url parts joined by dots (ey….ey….…).",
}
_FORMAT_FIX["cookie_cache_jwe"] = _FORMAT_FIX["cookie_cache_compact"]
_FORMAT_FIX["cookie_cache_jwt"] = _FORMAT_FIX["cookie_cache_compact"]
_FORMAT_FIX["cookie_cache_jwks"] = _FORMAT_FIX["cookie_cache_compact"]


def _check_format(diagnosis: Diagnosis, value: str) -> bool:
    """Whether later steps can run (the credential is shaped like a JWS)."""
    found = diagnosis.recognized
    if found.kind == "jwt":
        diagnosis.add("format", "pass", "a compact JWS: three base64url segments")
        return True
    if found.kind == "unknown":
        opening = f"{found.title}."
    else:
        title = found.title
        if title.startswith(("Encrypted", "Empty")):  # common nouns, not names
            title = title[0].lower() + title[1:]
        article = "an" if title[0] in "AEIOUaeiou" else "a"
        opening = f"This is {article} {title}, not a JWT."
    reason = " ".join([opening, *found.explanation])
    diagnosis.add("format", "fail", reason, _FORMAT_FIX.get(found.kind))
    return found.is_jws


def _check_header(diagnosis: Diagnosis, verifier: Verifier, value: str) -> CompactJWS | None:
    try:
        verifier.credential_kind(value)  # the empty and size checks come first in verify
        jws = verifier.parse(value)
    except AuthError as exc:
        fix = None
        if exc.code == "token_too_large":
            fix = (
                f"the token is {len(value)} bytes; raise AUTHBRIDGE_MAX_TOKEN_BYTES "
                f"(now {verifier.policy.max_token_bytes}) or put less in the token "
                "(definePayload)."
            )
        elif "type" in exc.message:
            fix = (
                "tokens with typ 'better-auth.session-cache+jwt' are Better Auth's cookie "
                "cache; send the /api/auth/token JWT."
            )
        diagnosis.add("header", "fail", exc.message, fix)
        return None
    parts = [f"alg {jws.alg}", f"kid {describe_kid(jws.kid)}" if jws.kid else "no kid"]
    if "typ" in jws.header:
        parts.append(f"typ {jws.header['typ']!r}")
    diagnosis.add("header", "pass", ", ".join(parts))
    return jws


def _route(
    diagnosis: Diagnosis, verifier: Verifier, jws: CompactJWS, claims: Mapping[str, Any] | None
) -> TrustedIssuer | None:
    """``Verifier.route``'s choice; when it refuses, why, in the terms of the settings."""
    alg = jws.alg
    try:
        path = verifier.route(jws)
    except AlgorithmNotAllowed:
        _explain_refused_alg(diagnosis, verifier, alg, claims)
        return None
    except InvalidIssuer:
        iss = claims.get("iss") if claims else None
        candidates = [p for p in verifier.paths if alg in p.algorithms]
        issuers = ", ".join(p.rules.issuer for p in candidates)
        diagnosis.add(
            "alg",
            "fail",
            f"Several trusted issuers accept {alg}; the token's iss {iss!r} is none of "
            f"them ({issuers}).",
            "Set the issuer variables to the token's issuer.",
        )
        return None
    except AuthError as exc:  # the claims could not be decoded to read iss
        diagnosis.add("alg", "fail", exc.message)
        return None
    diagnosis.add("alg", "pass", f"{alg} is accepted; verifying with {describe_source(path)}")
    return path


def _explain_refused_alg(
    diagnosis: Diagnosis, verifier: Verifier, alg: str, claims: Mapping[str, Any] | None
) -> None:
    algorithm = ALGORITHMS.get(alg)
    accepted = sorted({a for path in verifier.paths for a in path.algorithms})
    symmetric_paths = [p for p in verifier.paths if p.keys.symmetric]
    asymmetric_paths = [p for p in verifier.paths if not p.keys.symmetric]
    iss = claims.get("iss") if claims else None
    base = _origin_or_none(iss)
    if not verifier.paths:
        diagnosis.add(
            "alg",
            "fail",
            "This API has no JWT path configured: it accepts Better Auth session tokens only.",
            "To accept JWTs, set BETTER_AUTH_URL (JWKS) or AUTHBRIDGE_JWT_SECRET (HS256).",
        )
    elif algorithm is None:
        diagnosis.add(
            "alg",
            "fail",
            f"{algorithm_hint(alg)} This API accepts {', '.join(accepted)}.",
            "Sign tokens with one of the accepted algorithms.",
        )
    elif not algorithm.symmetric and not asymmetric_paths:
        diagnosis.add(
            "alg",
            "fail",
            f"The token is signed with {alg}, a public-key algorithm (Better Auth's JWT "
            "plugin signs this way), but this API only has a shared secret "
            f"({', '.join(accepted)}) configured. A shared secret can never verify it.",
            "Verify it with the issuer's JWKS: set BETTER_AUTH_URL"
            + (f"={base}" if base else " to the auth server's URL")
            + " (its JWKS is at /api/auth/jwks) or AUTHBRIDGE_JWKS_URL.",
        )
    elif algorithm.symmetric and not symmetric_paths:
        diagnosis.add(
            "alg",
            "fail",
            f"The token is {alg} (a shared-secret algorithm), but this API verifies with "
            f"a JWKS only ({', '.join(accepted)}). Better Auth's JWT plugin never issues "
            f"{alg} tokens.",
            "Send the JWT from Better Auth's /api/auth/token (EdDSA by default). If the "
            "token comes from your own service, set AUTHBRIDGE_JWT_SECRET to the secret it "
            "was signed with.",
        )
    else:
        diagnosis.add(
            "alg",
            "fail",
            f"alg {alg} is not allowed here; this API accepts {', '.join(accepted)}.",
            f"Add {alg} to AUTHBRIDGE_ALGORITHMS if your issuer really signs with it.",
        )


async def _lookup_key(
    diagnosis: Diagnosis, verifier: Verifier, path: TrustedIssuer, jws: CompactJWS
) -> VerificationKey | None:
    """``Verifier.find_key``'s answer; the "key" step is reported by ``_check_signature``."""
    keys = path.keys
    try:
        key = await verifier.find_key(path, jws)
    except KeysUnavailable:
        remote = remote_jwks(keys)
        error = remote.last_error if remote is not None else None
        where = describe_source(path)
        diagnosis.add(
            "key",
            "fail",
            f"Cannot get keys from {where}: " + (error or "unavailable") + ".",
            "Start the auth server (or check its URL): BETTER_AUTH_URL must be where the API "
            "can reach Better Auth, or set AUTHBRIDGE_JWKS_URL to its /api/auth/jwks. "
            "Check with `authbridge jwks`.",
        )
        return None
    except UnknownKey:
        if jws.kid is None and not keys.symmetric:
            diagnosis.add(
                "key",
                "fail",
                "The token names no key id (kid); a JWKS verifier needs it to pick the key.",
                "Better Auth always sets kid; if you mint tokens yourself, put the key's kid in "
                "the header.",
            )
            return None
        known = _known_kids(path)
        listing = (
            ", ".join(f"{describe_kid(k)} ({v.alg})" for k, v in known.items()) or "no usable keys"
        )
        rejected = [reason for kid, reason in _key_problems(path) if kid == jws.kid]
        if keys.symmetric:
            detail = f"The token's kid {describe_kid(jws.kid)} is not the shared secret's kid."
            fix = "Drop the kid from HS256 tokens, or use the configured one."
        elif rejected:
            detail = (
                f"The key {describe_kid(jws.kid)} is in the JWKS but was refused: {rejected[0]}."
            )
            fix = "Rotate the issuer's key (a refused key can never verify anything)."
        else:
            detail = (
                f"kid {describe_kid(jws.kid)} is not in {describe_source(path)}; it has: {listing}."
            )
            fix = (
                "The token was signed by another Better Auth instance or database (another "
                "BETTER_AUTH_URL, or a fresh jwks table), or its key was removed. Point "
                "BETTER_AUTH_URL / AUTHBRIDGE_JWKS_URL at the server that issued it, or sign "
                "in again to get a token from this one."
            )
        diagnosis.add("key", "fail", detail, fix)
        return None
    return key


def _check_signature(
    diagnosis: Diagnosis,
    verifier: Verifier,
    settings: Settings,
    key: VerificationKey,
    jws: CompactJWS,
) -> None:
    """``Verifier.check_signature``'s verdict: the key's binding, then the signature."""
    try:
        verifier.check_signature(jws, key)
    except AlgorithmNotAllowed:
        diagnosis.add(
            "key",
            "fail",
            f"The key {describe_kid(key.kid)} is bound to {key.alg} but the token says {jws.alg}.",
            "Sign with the algorithm the key was made for (its JWK 'alg').",
        )
        return
    except AuthError:
        _key_found(diagnosis, key)
        _explain_bad_signature(diagnosis, settings, key, jws)
        return
    _key_found(diagnosis, key)
    diagnosis.add("signature", "pass", f"valid {key.alg} signature")


def _key_found(diagnosis: Diagnosis, key: VerificationKey) -> None:
    if isinstance(key.key, bytes):
        detail = f"the shared secret, bound to {key.alg}"
    else:
        detail = (
            f"kid {describe_kid(key.kid)} found: {key.kty} {key.detail}, {key.alg}, "
            f"thumbprint {key.thumbprint}"
        )
    diagnosis.add("key", "pass", detail)


def _explain_bad_signature(
    diagnosis: Diagnosis, settings: Settings, key: VerificationKey, jws: CompactJWS
) -> None:
    if isinstance(key.key, bytes):
        detail = (
            "The signature does not match the shared secret (AUTHBRIDGE_JWT_SECRET or "
            "--secret): the token was signed with a different secret, or altered."
        )
        fix = "Give the signer and this API the same secret (generate one: `authbridge secret`)."
        ba_secret = settings.current_better_auth_secret()
        if ba_secret and key.algorithm.verify(
            ba_secret.encode("utf-8"), jws.signing_input, jws.signature
        ):
            detail += (
                " It was signed with BETTER_AUTH_SECRET: Better Auth does that for its "
                "session_data cookie cache, not for access tokens."
            )
            fix = "Send the JWT from /api/auth/token, not the session_data cookie."
    else:
        detail = (
            f"The {key.alg} signature does not verify with the key {describe_kid(key.kid)}: "
            "the token was altered, or signed by a different key under the same kid."
        )
        fix = (
            "Fetch a fresh token from the issuer. If the issuer's database was reset, its kids "
            "can collide with old ones: check `authbridge jwks` against the issuer."
        )
    diagnosis.add("signature", "fail", detail, fix)


def _isolated(rules: ClaimRules, claims: Mapping[str, Any], now: float) -> AuthError | None:
    """The library's verdict on just these claims, with no other rule in play."""
    # sub is always required by the library; a placeholder keeps that rule out of the way
    # (the sub step checks the real one).
    subset = {"sub": "doctor", **claims}
    try:
        rules.validate(subset, now)
    except AuthError as exc:
        return exc
    return None


def _check_claims(
    diagnosis: Diagnosis, path: TrustedIssuer, claims: Mapping[str, Any], verified: bool
) -> None:
    rules = path.rules
    now = time.time()
    single = dataclasses.replace(rules, required=frozenset(), max_lifetime=None, max_age=None)
    suffix = "" if verified else " (unverified: the signature did not verify)"
    iss_var, aud_var = _claim_variables(path)

    missing = sorted(rules.required - claims.keys())
    if missing:
        diagnosis.add(
            "claims",
            "fail",
            f"missing required claim(s): {', '.join(missing)}{suffix}",
            "Better Auth always sets exp, iat, iss, aud and sub; if you mint tokens yourself, "
            "add them (or change AUTHBRIDGE_REQUIRED_CLAIMS).",
        )
    else:
        present = ", ".join(sorted(rules.required))
        diagnosis.add("claims", "pass", f"required claims present: {present}{suffix}")

    leeway = f"leeway {rules.leeway:g} s"
    if "exp" in claims:
        error = _isolated(single, {"exp": claims["exp"]}, now)
        text = describe_time("exp", claims["exp"], now) or f"exp {claims['exp']!r}"
        if error is None:
            diagnosis.add("exp", "pass", text)
        elif isinstance(error, TokenExpired):
            diagnosis.add(
                "exp",
                "fail",
                f"{text} ({leeway}).",
                "Get a fresh token: Better Auth's JWTs live 15 minutes. Fetch a new one from "
                "/api/auth/token before it expires, or on a 401, and retry once.",
            )
        else:
            diagnosis.add("exp", "fail", error.message, None)
    for name in ("nbf", "iat"):
        if name not in claims:
            continue
        error = _isolated(single, {name: claims[name]}, now)
        text = describe_time(name, claims[name], now) or f"{name} {claims[name]!r}"
        if error is None:
            diagnosis.add(name, "pass", text)
        elif isinstance(error, TokenNotYetValid):
            diagnosis.add(
                name,
                "fail",
                f"{text}: not valid yet ({leeway}).",
                "Check the clocks of the issuer and this API (NTP). AUTHBRIDGE_LEEWAY_SECONDS "
                "tolerates up to 60 s of skew.",
            )
        else:
            diagnosis.add(name, "fail", error.message)
    if "iss" in claims:
        error = _isolated(single, {"iss": claims["iss"]}, now)
        if error is None:
            diagnosis.add("iss", "pass", f"iss {claims['iss']}")
        elif isinstance(error, InvalidIssuer):
            diagnosis.add(
                "iss",
                "fail",
                f"iss is {claims['iss']} but this API expects {rules.issuer}."
                + _host_swap_note(claims["iss"], frozenset({rules.issuer})),
                f"Set {iss_var} to match (Better Auth's iss is its BETTER_AUTH_URL origin, or "
                "jwt.issuer).",
            )
        else:
            diagnosis.add("iss", "fail", error.message)
    if "aud" in claims:
        error = _isolated(single, {"aud": claims["aud"]}, now)
        expected = " or ".join(sorted(rules.audiences))
        if error is None:
            diagnosis.add("aud", "pass", f"aud {claims['aud']}")
        elif isinstance(error, InvalidAudience):
            shown = claims["aud"] if type(claims["aud"]) is str else repr(claims["aud"])
            diagnosis.add(
                "aud",
                "fail",
                f"aud is {shown} but this API expects {expected}."
                + _host_swap_note(claims["aud"], rules.audiences),
                f"Set {aud_var} to match (Better Auth's aud is its BETTER_AUTH_URL origin, or "
                "jwt.audience).",
            )
        else:
            diagnosis.add("aud", "fail", error.message)
    if "sub" in claims:
        error = _isolated(single, {"sub": claims["sub"]}, now)
        if error is None:
            diagnosis.add("sub", "pass", f"sub {claims['sub']}")
        else:
            diagnosis.add("sub", "fail", error.message, "sub must be the user id, a string.")
    _check_lifetime(diagnosis, rules, claims, now)


def _check_lifetime(
    diagnosis: Diagnosis, rules: ClaimRules, claims: Mapping[str, Any], now: float
) -> None:
    times = {n: claims[n] for n in ("exp", "iat") if n in claims}
    if "exp" not in times:
        return
    lifetime_rules = dataclasses.replace(rules, required=frozenset())
    error = _isolated(lifetime_rules, times, now)
    if isinstance(error, InvalidClaims):
        limit = describe_duration(rules.max_lifetime or 0)
        lives = ""
        if type(times.get("iat")) in (int, float) and type(times["exp"]) in (int, float):
            lives = f"It lives {describe_duration(times['exp'] - times['iat'])}; "
        diagnosis.add(
            "lifetime",
            "fail",
            f"{lives}this API accepts tokens that live at most {limit}.",
            "Shorten the issuer's expirationTime, or raise AUTHBRIDGE_MAX_TOKEN_LIFETIME.",
        )
    elif isinstance(error, TokenExpired) and rules.max_age is not None and "iat" in times:
        diagnosis.add(
            "age",
            "fail",
            "The token is older than AUTHBRIDGE_MAX_TOKEN_AGE "
            f"({describe_duration(rules.max_age)}).",
            "Fetch a fresh token.",
        )


def _principal_dict(principal: Any) -> dict[str, Any]:
    return {
        "sub": principal.sub,
        "issuer": principal.issuer,
        "email": principal.email,
        "name": principal.name,
        "audience": list(principal.audience),
        "roles": sorted(principal.roles),
        "scopes": sorted(principal.scopes),
        "expires_at": principal.expires_at.isoformat() if principal.expires_at else None,
        "credential": principal.credential,
    }


async def diagnose(cleaned: CleanToken, verifier: Verifier, settings: Settings) -> Diagnosis:
    """Run every step; the verdict at the end is ``Verifier.verify``'s."""
    value = cleaned.value
    diagnosis = Diagnosis(recognize(value))
    for note in cleaned.notes:
        diagnosis.add("input", "warn", note)
    try:
        kind = verifier.credential_kind(value)
    except AuthError:
        kind = "jwt"  # empty or too large: the header step reports it
    if kind == "session":
        # The verifier hands it to the session store; explain a value that is not one.
        if diagnosis.recognized.kind == "session_token":
            _check_session_token(diagnosis, verifier, value)
        else:
            _check_format(diagnosis, value)
    elif _check_format(diagnosis, value):
        jws = _check_header(diagnosis, verifier, value)
        if jws is not None:
            try:
                claims: dict[str, Any] | None = decode_payload(jws)
            except AuthError as exc:
                claims = None
                diagnosis.add("claims", "fail", exc.message, None)
            path = _route(diagnosis, verifier, jws, claims)
            verified = False
            if path is not None:
                key = await _lookup_key(diagnosis, verifier, path, jws)
                if key is not None:
                    _check_signature(diagnosis, verifier, settings, key, jws)
                    verified = diagnosis.checks[-1].status == "pass"
                if claims is not None:
                    _check_claims(diagnosis, path, claims, verified)
    try:
        principal = await verifier.verify(value)
    except AuthError as exc:
        diagnosis.error_code = exc.code
        diagnosis.error_message = exc.message
        _explain_late_failure(diagnosis, exc)
    except Exception as exc:  # noqa: BLE001 - a store outage must be reported, not a traceback
        diagnosis.error_code = "internal_error"
        diagnosis.error_message = f"verification failed with {type(exc).__name__}"
        diagnosis.add(
            "verdict",
            "fail",
            f"The verifier raised {type(exc).__name__} (the API would answer 500 or 503).",
            "Check that the session database / Redis / auth server the settings name is up.",
        )
    else:
        diagnosis.valid = True
        diagnosis.principal = _principal_dict(principal)
    return diagnosis


def _check_session_token(diagnosis: Diagnosis, verifier: Verifier, value: str) -> None:
    """Session mode is on: a session token is a legitimate credential here."""
    from ..sessions.token import parse_session_credential, verify_token_signature

    sessions = verifier.sessions
    assert sessions is not None
    config = sessions.config
    diagnosis.add(
        "format",
        "pass",
        f"a {diagnosis.recognized.title}; session mode ({config.mode}) is on, so it is checked "
        "against the session store",
    )
    try:
        parsed = parse_session_credential(value, allow_unsigned=config.allow_unsigned)
    except AuthError as exc:
        diagnosis.add(
            "signature",
            "fail",
            exc.message,
            "Send the signed token (set-auth-token or the session cookie), or allow raw tokens "
            "with AUTHBRIDGE_SESSION_ALLOW_UNSIGNED=true (Better Auth's default bearer() does).",
        )
        return
    secret = config.current_secret
    if parsed.signature is None:
        diagnosis.add("signature", "info", "an unsigned session token (allowed by the settings)")
    elif secret is None:
        diagnosis.add(
            "signature",
            "info",
            "BETTER_AUTH_SECRET is not set: the HMAC is left to the remote Better Auth to check",
        )
    else:
        try:
            verify_token_signature(parsed, secret)
        except AuthError:
            diagnosis.add(
                "signature",
                "fail",
                "The HMAC does not match BETTER_AUTH_SECRET: Better Auth signed it with another "
                "secret.",
                "Give the API the same BETTER_AUTH_SECRET (or the first entry of "
                "BETTER_AUTH_SECRETS) as the Better Auth server.",
            )
            return
        diagnosis.add("signature", "pass", "the HMAC matches BETTER_AUTH_SECRET")


def _explain_late_failure(diagnosis: Diagnosis, error: AuthError) -> None:
    """A failure no earlier step showed: session lookup, revocation, or anything new."""
    if any(check.status == "fail" for check in diagnosis.checks):
        return
    if error.code == "session_invalid":
        diagnosis.add(
            "session",
            "fail",
            "No live session has this token: the user signed out, the session expired, or the "
            "session store is not Better Auth's.",
            "Sign in again. Check that AUTHBRIDGE_SESSION_DATABASE_URL is Better Auth's "
            "database (database mode) or that BETTER_AUTH_URL reaches it (remote mode).",
        )
    elif error.code == "token_revoked":
        diagnosis.add(
            "revocation",
            "fail",
            "The token is valid but revoked: its session (sid) was signed out or revoked, or "
            "the user's tokens were cut off.",
            "Sign in again to get a new session and token.",
        )
    else:
        diagnosis.add("verdict", "fail", error.message)
