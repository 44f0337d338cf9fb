"""Attack corpus, claims: ``exp``/``iat``/``nbf`` of the wrong JSON type, and ``iss``/``aud``
near-misses (trailing slash, case, scheme, port, Unicode confusables, prefix and suffix).

Every token is genuinely signed by the issuer's key: only the claim under test is wrong.
"""

from __future__ import annotations

from typing import Any

import pytest
from security_support import HS_AUDIENCE, HS_ISSUER, KeyRing, refused

from authbridge.errors import (
    InvalidAudience,
    InvalidClaims,
    InvalidIssuer,
    TokenExpired,
    TokenMalformed,
    TokenNotYetValid,
)
from tokens import AUDIENCE, ISSUER, NOW, ba_claims, dumps, sign_raw


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing()


_BAD_TIMES: list[Any] = [
    str(int(NOW) + 900),
    f"{int(NOW) + 900}.0",
    1e300,
    -1e300,
    True,
    False,
    None,
    [int(NOW) + 900],
    {"$date": int(NOW) + 900},
    "",
    "Infinity",
    2**64,
    10**400,
]


@pytest.mark.parametrize("value", _BAD_TIMES, ids=lambda v: repr(v)[:30])
@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
async def test_time_claims_of_the_wrong_type_are_refused(
    ring: KeyRing, claim: str, value: Any
) -> None:
    error = await refused(ring.two_paths(), ring.ed.sign(ba_claims(**{claim: value})))
    assert isinstance(error, InvalidClaims | TokenExpired | TokenNotYetValid | TokenMalformed), (
        error
    )


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-0e999999"])
@pytest.mark.parametrize("claim", ["exp", "iat"])
async def test_time_claims_as_non_finite_literals(ring: KeyRing, claim: str, literal: str) -> None:
    claims = ba_claims()
    claims[claim] = "__VALUE__"
    payload = dumps(claims).replace(b'"__VALUE__"', literal.encode())
    token = sign_raw(dumps({"alg": "EdDSA", "kid": ring.ed.kid}), payload, ring.ed.private, "EdDSA")
    error = await refused(ring.two_paths(), token)
    assert isinstance(error, TokenMalformed | InvalidClaims | TokenExpired)


def _near_misses(base: str) -> list[Any]:
    host = base.split("://", 1)[1]
    return [
        base + "/",
        base + "//",
        base.upper(),
        base.replace("https://", "HTTPS://"),
        base.replace(host, host.capitalize()),
        base.replace("https://", "http://"),
        base.replace("https://", "wss://"),
        base + ":443",
        base + ":8443",
        base + ".",
        base.replace(host, host + "."),
        base + "/api/auth",
        base + "?",
        base + "#",
        base + ".evil.test",
        base + "@evil.test",
        "https://evil.test/" + base,
        "https://evil-" + host,
        base[:-1],
        base[1:],
        " " + base,
        base + " ",
        base + "\u200b",
        base + "\x00",
        base.replace("a", "\u0430", 1),  # Cyrillic a
        base.replace("e", "\u0435", 1),  # Cyrillic e
        base.replace("h", "\uff48", 1),  # fullwidth h
        base.replace(".", "\u3002", 1),  # ideographic full stop
        base.replace(".", "%2E", 1),
        base.replace("o", "\u03bf", 1),  # Greek omicron
        "",
        None,
        [base],
        {"iss": base},
        1,
    ]


@pytest.mark.parametrize("issuer", _near_misses(ISSUER), ids=lambda v: repr(v)[:40])
async def test_issuer_near_misses(ring: KeyRing, issuer: Any) -> None:
    """RFC 7519 §7.3: exact code-point comparison; no normalisation, folding or prefixing."""
    error = await refused(ring.two_paths(), ring.ed.sign(ba_claims(issuer=issuer)))
    assert isinstance(error, InvalidIssuer | InvalidClaims), error


@pytest.mark.parametrize(
    "audience", [v for v in _near_misses(AUDIENCE) if v != [AUDIENCE]], ids=lambda v: repr(v)[:40]
)
async def test_audience_near_misses(ring: KeyRing, audience: Any) -> None:
    error = await refused(ring.two_paths(), ring.ed.sign(ba_claims(audience=audience)))
    assert isinstance(error, InvalidAudience | InvalidClaims), error


@pytest.mark.parametrize(
    "audience",
    [
        [],
        [AUDIENCE + "/"],
        [AUDIENCE.upper(), AUDIENCE + "/"],
        [[AUDIENCE]],
        [None, 1, True],
        [AUDIENCE, 1],
        [AUDIENCE, None],
        AUDIENCE + " " + AUDIENCE,
        AUDIENCE + "," + AUDIENCE,
    ],
    ids=repr,
)
async def test_audience_lists_that_do_not_really_contain_the_audience(
    ring: KeyRing, audience: Any
) -> None:
    error = await refused(ring.two_paths(), ring.ed.sign(ba_claims(audience=audience)))
    assert isinstance(error, InvalidAudience | InvalidClaims), error


async def test_each_path_refuses_the_other_paths_iss_and_aud(ring: KeyRing) -> None:
    """A genuinely signed JWKS token naming the HS path's issuer, and an HS token naming the
    Better Auth issuer, both fail: the paths never share claim rules (V11, V44)."""
    verifier = ring.two_paths()
    crossed = ring.ed.sign(ba_claims(issuer=HS_ISSUER, audience=HS_AUDIENCE))
    assert isinstance(await refused(verifier, crossed), InvalidIssuer | InvalidAudience)
    hs = sign_raw(
        dumps({"alg": "HS256"}),
        dumps(ba_claims(issuer=ISSUER, audience=AUDIENCE)),
        ring.secret.encode(),
        "HS256",
    )
    assert isinstance(await refused(verifier, hs), InvalidIssuer | InvalidAudience)
