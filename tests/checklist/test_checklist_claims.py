"""Checklist E (V37–V46): claim rules, cross-JWT confusion and what is deliberately absent."""

from __future__ import annotations

from typing import Any

import pytest
from checklist_support import HS_AUDIENCE, HS_ISSUER, jwks_verifier, rejects, two_path_verifier

from authbridge import ClaimRules, Verifier
from authbridge.config import load_settings
from authbridge.errors import (
    AlgorithmNotAllowed,
    ConfigError,
    InvalidAudience,
    InvalidClaims,
    InvalidIssuer,
    InvalidSignature,
    TokenExpired,
    TokenMalformed,
    TokenNotYetValid,
    TokenRevoked,
)
from authbridge.jose.b64 import b64url_encode
from authbridge.jose.sign import sign_compact
from authbridge.revocation import RevocationList
from tokens import (
    AUDIENCE,
    DROP,
    ISSUER,
    NOW,
    USER_ID,
    FixedClock,
    ba_claims,
    cookie_cache_claims,
    cookie_cache_jwt,
    ed25519_key,
    hs_secret,
)

KEY = ed25519_key("ed-1")
VERIFIER = jwks_verifier(KEY)
T = int(NOW)


async def _accepts(verifier: Verifier, **claims: Any) -> None:
    assert (await verifier.verify(KEY.sign(ba_claims(**claims)))).sub == USER_ID


# --- V37 exp ----------------------------------------------------------------------------------


async def test_v37_exp_required() -> None:
    await rejects(VERIFIER, KEY.sign(ba_claims(exp=DROP)), InvalidClaims)


@pytest.mark.parametrize(
    "exp",
    [str(T + 60), True, False, None, [T + 60], {"t": T + 60}, 1e300, 10**20, -(10**20), 10**400],
    ids=["string", "true", "false", "null", "array", "object", "1e300", "1e20", "-1e20", "huge"],
)
async def test_v37_exp_must_be_a_sane_number(exp: Any) -> None:
    await rejects(VERIFIER, KEY.sign(ba_claims(exp=exp)), InvalidClaims)


async def test_v37_exp_with_leeway() -> None:
    await _accepts(VERIFIER, exp=T - 29)
    await _accepts(VERIFIER, exp=T + 0.5)  # fractional NumericDate
    await rejects(VERIFIER, KEY.sign(ba_claims(exp=T - 30)), TokenExpired)
    strict = jwks_verifier(KEY, leeway=0)
    await rejects(strict, KEY.sign(ba_claims(exp=T)), TokenExpired)
    await _accepts(strict, exp=T + 1)


def test_v37_leeway_is_at_most_60_seconds() -> None:
    with pytest.raises(ValueError):
        ClaimRules(issuer=ISSUER, audiences=frozenset({AUDIENCE}), leeway=61)
    with pytest.raises(ConfigError):
        jwks_verifier(KEY, leeway=120)
    with pytest.raises(ConfigError) as info:
        load_settings(AUTHBRIDGE_LEEWAY_SECONDS="61")
    assert info.value.variable == "AUTHBRIDGE_LEEWAY_SECONDS"
    assert jwks_verifier(KEY, leeway=60).paths[0].rules.leeway == 60


async def test_v37_expiry_is_rechecked_for_cached_tokens() -> None:
    clock = FixedClock()
    verifier = jwks_verifier(KEY, clock=clock)
    token = KEY.sign(ba_claims(exp=T + 10))
    assert (await verifier.verify(token)).sub
    clock.now = T + 10 + 30  # exp + leeway
    await rejects(verifier, token, TokenExpired)


# --- V38 max lifetime ---------------------------------------------------------------------


async def test_v38_max_lifetime() -> None:
    await _accepts(VERIFIER, iat=T, exp=T + 3600)
    await rejects(VERIFIER, KEY.sign(ba_claims(iat=T, exp=T + 3601)), InvalidClaims)
    await rejects(VERIFIER, KEY.sign(ba_claims(iat=T - 7200, exp=T + 60)), InvalidClaims)
    no_iat = jwks_verifier(KEY, required_claims=["exp", "iss", "aud", "sub"])
    await rejects(no_iat, KEY.sign(ba_claims(iat=DROP, exp=T + 3600 + 31)), InvalidClaims)
    await _accepts(no_iat, iat=DROP, exp=T + 3600)
    day = jwks_verifier(KEY, max_token_lifetime=86400)
    await _accepts(day, iat=T, exp=T + 86400)


async def test_v38_a_lifetime_cap_needs_exp_even_if_configuration_drops_it() -> None:
    no_exp = jwks_verifier(KEY, required_claims=["iat", "iss", "aud", "sub"])
    await rejects(no_exp, KEY.sign(ba_claims(exp=DROP)), InvalidClaims)
    # Only an explicit "no lifetime cap" lets a token without exp through.
    uncapped = jwks_verifier(
        KEY, required_claims=["iat", "iss", "aud", "sub"], max_token_lifetime=None
    )
    assert (await uncapped.verify(KEY.sign(ba_claims(exp=DROP)))).expires_at is None


# --- V39 iat ----------------------------------------------------------------------------------


async def test_v39_iat_required_and_numeric() -> None:
    await rejects(VERIFIER, KEY.sign(ba_claims(iat=DROP)), InvalidClaims)
    for bad in (str(T), None, True, [T]):
        await rejects(VERIFIER, KEY.sign(ba_claims(iat=bad)), InvalidClaims)


async def test_v39_iat_in_the_future() -> None:
    await _accepts(VERIFIER, iat=T + 29, exp=T + 900)
    await rejects(VERIFIER, KEY.sign(ba_claims(iat=T + 31, exp=T + 900)), TokenNotYetValid)


async def test_v39_max_token_age() -> None:
    aged = jwks_verifier(KEY, max_token_age=600)
    await _accepts(aged, iat=T - 560, exp=T + 300)
    await rejects(aged, KEY.sign(ba_claims(iat=T - 640, exp=T + 300)), TokenExpired)


# --- V40 nbf ----------------------------------------------------------------------------------


async def test_v40_nbf() -> None:
    await _accepts(VERIFIER, nbf=T + 29)
    await _accepts(VERIFIER, nbf=T - 1000)
    await rejects(VERIFIER, KEY.sign(ba_claims(nbf=T + 31)), TokenNotYetValid)
    for bad in (str(T), None, False, {}):
        await rejects(VERIFIER, KEY.sign(ba_claims(nbf=bad)), InvalidClaims)


# --- V41 iss ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iss",
    [
        ISSUER + "/",
        ISSUER + "/api/auth",
        ISSUER.upper(),
        "HTTPS://auth.example.com",
        "https://AUTH.example.com",
        "https://auth.example.com:443",
        "http://auth.example.com",
        "https://аuth.example.com",  # Cyrillic а
        "https://ａuth.example.com",  # fullwidth a
        "https://auth.example.com\u200b",
        " https://auth.example.com",
        "https://auth.example.co",
        "https://auth.example.com.evil.example",
        "auth.example.com",
        "",
        None,
        [ISSUER],
        {"iss": ISSUER},
    ],
)
async def test_v41_issuer_is_exact(iss: Any) -> None:
    await rejects(VERIFIER, KEY.sign(ba_claims(issuer=iss)), InvalidIssuer)


async def test_v41_issuer_required() -> None:
    await rejects(VERIFIER, KEY.sign(ba_claims(iss=DROP)), InvalidClaims)


# --- V42 aud ----------------------------------------------------------------------------------


async def test_v42_audience_string_or_list() -> None:
    await _accepts(VERIFIER, audience=AUDIENCE)
    await _accepts(VERIFIER, audience=[AUDIENCE])
    await _accepts(VERIFIER, audience=["https://other.example", AUDIENCE])
    several = jwks_verifier(KEY, audience=["https://a.example", "https://b.example"])
    await _accepts(several, audience="https://b.example")


@pytest.mark.parametrize(
    ("aud", "error"),
    [
        ("https://other.example", InvalidAudience),
        (AUDIENCE + "/", InvalidAudience),
        ("", InvalidAudience),
        ([], InvalidAudience),
        (["https://other.example"], InvalidAudience),
        ([AUDIENCE, 1], InvalidAudience),
        ([AUDIENCE, None], InvalidAudience),
        ([[AUDIENCE]], InvalidAudience),
        (1, InvalidAudience),
        (None, InvalidAudience),
        ({"aud": AUDIENCE}, InvalidAudience),
        (DROP, InvalidClaims),
    ],
)
async def test_v42_audience_rejections(aud: Any, error: type[Exception]) -> None:
    claims = ba_claims(aud=aud) if aud is DROP else ba_claims(audience=aud)
    await rejects(VERIFIER, KEY.sign(claims), error)  # type: ignore[arg-type]


# --- V43 sub ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sub", ["", None, 123, True, ["u1"], {"id": "u1"}, "x" * 257], ids=repr)
async def test_v43_sub_is_a_short_non_empty_string(sub: Any) -> None:
    await rejects(VERIFIER, KEY.sign(ba_claims(sub=sub)), InvalidClaims)


async def test_v43_sub_required_even_if_configuration_forgets_it() -> None:
    forgetful = jwks_verifier(KEY, required_claims=["exp", "iat", "iss", "aud"])
    await rejects(forgetful, KEY.sign(ba_claims(sub=DROP)), InvalidClaims)
    await rejects(VERIFIER, KEY.sign(ba_claims(sub=DROP)), InvalidClaims)


async def test_v43_sub_is_opaque_and_exact() -> None:
    for sub in ("x" * 256, "User-ABC", "user-abc", " padded ", "ü"):
        principal = await VERIFIER.verify(KEY.sign(ba_claims(sub=sub)))
        assert principal.sub == sub
    # sub, not the user object's "id", is the identity.
    principal = await VERIFIER.verify(KEY.sign(ba_claims(id="someone-else")))
    assert principal.sub == USER_ID


# --- V44 Better Auth's session_data cookie-cache JWT is never a bearer token -----------------


async def test_v44_cookie_cache_jwt_without_an_hs256_path() -> None:
    token = cookie_cache_jwt(hs_secret())
    assert token.startswith(b64url_encode(b'{"alg":"HS256"}') + ".")
    await rejects(VERIFIER, token, AlgorithmNotAllowed)


async def test_v44_cookie_cache_jwt_with_a_separate_hs256_secret() -> None:
    better_auth_secret, service_secret = hs_secret(), hs_secret()
    both = two_path_verifier(KEY, service_secret)
    await rejects(
        both, cookie_cache_jwt(better_auth_secret), InvalidSignature, [better_auth_secret]
    )


def test_v44_reusing_better_auth_secret_needs_an_explicit_opt_in() -> None:
    secret = hs_secret()
    settings = load_settings(
        BETTER_AUTH_URL=ISSUER,
        BETTER_AUTH_SECRET=secret,
        AUTHBRIDGE_JWKS='{"keys": []}',
        AUTHBRIDGE_JWT_SECRET=secret,
    )
    with pytest.raises(ConfigError) as info:
        Verifier.from_settings(settings)
    assert info.value.variable == "AUTHBRIDGE_JWT_SECRET"
    assert "AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH" in info.value.fix
    assert secret not in str(info.value)


async def test_v44_with_the_reuse_opt_in_claims_still_hold() -> None:
    secret = hs_secret()
    settings = load_settings(
        BETTER_AUTH_URL=ISSUER,
        BETTER_AUTH_SECRET=secret,
        AUTHBRIDGE_JWKS='{"keys": []}',
        AUTHBRIDGE_JWT_SECRET=secret,
        AUTHBRIDGE_JWT_SECRET_REUSE_BETTER_AUTH="true",
        AUTHBRIDGE_JWT_ISSUER=HS_ISSUER,
        AUTHBRIDGE_JWT_AUDIENCE=HS_AUDIENCE,
    )
    verifier = Verifier.from_settings(settings, clock=FixedClock())
    # The cookie cache carries no iss/aud/sub: its valid signature does not make it a bearer.
    await rejects(verifier, cookie_cache_jwt(secret), InvalidClaims, [secret])
    # Even given a sub, iss and aud are still this path's own.
    smuggled = cookie_cache_jwt(secret, sub=USER_ID, iss=ISSUER, aud=AUDIENCE)
    await rejects(verifier, smuggled, InvalidIssuer, [secret])
    smuggled = cookie_cache_jwt(secret, sub=USER_ID, iss=HS_ISSUER, aud=AUDIENCE)
    await rejects(verifier, smuggled, InvalidAudience, [secret])
    # The path itself is live: a real service token with its own iss/aud passes.
    good = sign_compact(ba_claims(issuer=HS_ISSUER, audience=HS_AUDIENCE), secret.encode(), "HS256")
    assert (await verifier.verify(good)).issuer == HS_ISSUER


async def test_v44_eddsa_session_cache_jwt_is_rejected() -> None:
    """``jwt({sessionCookieCache: true})``: signed by the JWKS key itself, typ marks it."""
    claims = {
        **cookie_cache_claims(),
        "sid": "edIda55cDWMSK41DH5zG9ea1wmojrLkn",
        "iss": ISSUER,
        "aud": "better-auth:session-cache",
        "sub": USER_ID,
    }
    token = KEY.sign(claims, typ="better-auth.session-cache+jwt")
    await rejects(VERIFIER, token, TokenMalformed)
    # Defence in depth: without the typ, its audience still does not match.
    await rejects(VERIFIER, KEY.sign(claims), InvalidAudience)


# --- V45 unknown claims are ignored --------------------------------------------------------


async def test_v45_unknown_claims_grant_nothing() -> None:
    claims = ba_claims(
        admin=True,
        is_admin="true",
        permissions=["*"],
        groups=["admin"],
        authorities="ROLE_ADMIN",
        extra={"role": "admin", "scope": "tasks:write"},
    )
    principal = await VERIFIER.verify(KEY.sign(claims))
    assert principal.roles == frozenset()
    assert principal.scopes == frozenset()
    assert principal.claims["permissions"] == ["*"]  # visible, read-only, never trusted
    with pytest.raises(TypeError):
        principal.claims["admin"] = False  # type: ignore[index]


# --- V46 revocation is keyed by (iss, sid) / (iss, sub), never by the raw token ---------------


async def test_v46_revocation_is_keyed_by_issuer_and_session_not_by_token_text() -> None:
    """The revocation list (revocation.py) holds ``(iss, sid)`` and ``(iss, sub) -> cutoff``.
    Revoking a session refuses *every* token carrying that sid, whatever its spelling or
    signature; the only map keyed by token text is the verified-token cache, which holds
    successes only and is re-checked against the revocation list on every hit."""
    revocations = RevocationList()
    verifier = jwks_verifier(KEY, revocations=revocations)
    first = KEY.sign(ba_claims(sid="sess-1"))
    second = KEY.sign(ba_claims(sid="sess-1", jti="another-token"))
    other_session = KEY.sign(ba_claims(sid="sess-2"))
    for token in (first, second, other_session):
        assert (await verifier.verify(token)).sub == USER_ID
    await revocations.revoke_session(ISSUER, "sess-1")
    await rejects(verifier, first, TokenRevoked)  # even though it is in the token cache
    await rejects(verifier, second, TokenRevoked)
    assert verifier.verify_cached(first) is None
    assert (await verifier.verify(other_session)).session_id == "sess-2"
    # A user cutoff refuses every earlier token of that subject.
    await revocations.revoke_user(ISSUER, USER_ID, not_before=T + 1)
    await rejects(verifier, other_session, TokenRevoked)
    fresh = KEY.sign(ba_claims(now=T + 2, sid="sess-3"))
    clock_verifier = jwks_verifier(KEY, revocations=revocations, clock=FixedClock(T + 2))
    assert (await clock_verifier.verify(fresh)).session_id == "sess-3"


async def test_v46_no_other_spelling_of_a_cached_token_exists() -> None:
    verifier = jwks_verifier(KEY)
    token = KEY.sign(ba_claims())
    await verifier.verify(token)
    assert verifier.verify_cached(token) is not None
    head, payload, sig = token.split(".")
    respelled = f"{head}.{payload}.{sig}=="
    assert verifier.verify_cached(respelled) is None
    await rejects(verifier, respelled, TokenMalformed)
