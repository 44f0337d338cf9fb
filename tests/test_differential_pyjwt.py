"""Differential tests: authbridge against PyJWT 2.15 on hypothesis-generated tokens.

For HS256, EdDSA, ES256 and RS256, random claims and headers are signed, then mutated (bit
flips, segment swaps, alg changes, padding, whitespace, duplicate keys, NaN, non-canonical
base64url, ...). Both libraries verify each result with the same key, issuer, audience,
leeway and required claims.

* authbridge never accepts a token PyJWT rejects.
* When PyJWT accepts and authbridge rejects, the token must fall in one of the
  ``STRICTER_BY_DESIGN`` classes, decided by an independent inspection of the token
  (``classify``), not by authbridge's own error.
* When both accept, they agree on the claims.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authbridge import SharedSecret, StaticJWKS, Verifier
from authbridge.cache import TokenCache
from authbridge.errors import AuthError
from authbridge.jose.b64 import b64url_encode
from authbridge.verifier import TrustedIssuer
from tokens import (
    AUDIENCE,
    ISSUER,
    TestKey,
    ec_key,
    ed25519_key,
    hs_secret,
    jwks,
    rsa_key,
    sign_raw,
)

LEEWAY = 30
MAX_LIFETIME = 3600
REQUIRED = ["exp", "iat", "iss", "aud", "sub"]
_MAX_NUMERIC_DATE = 253_402_300_799

# Each class: where authbridge is stricter than PyJWT on purpose, and the checklist item.
STRICTER_BY_DESIGN: dict[str, str] = {
    "compact-form": "V4: only [A-Za-z0-9_-] in three non-empty segments (PyJWT pads and skips)",
    "strict-json-text": "V6: strict UTF-8, no BOM, exactly one object",
    "duplicate-members": "V7: duplicate member names (PyJWT: last one wins)",
    "non-standard-literal": "V8: NaN/Infinity (Python's json accepts them)",
    "unknown-header-param": "V12-V14, V17-V19: header members outside {alg, kid, typ}",
    "kid-required": "V15: the JWKS path needs a kid",
    "kid-shape": "V15: kid must be a non-empty string of at most 256 characters (the HS "
    "path; PyJWT ignores kid when given the secret)",
    "typ": "V16: typ, when present, must be JWT",
    "time-not-a-number": "V37-V40: exp/iat/nbf must be JSON numbers (PyJWT int()-converts)",
    "numeric-date-range": "V37: time claims beyond year 9999 are refused",
    "max-lifetime": "V38: exp - iat and exp - now at most 3600 s",
    "sub-shape": "V43: sub is a non-empty printable string of at most 256 characters",
    "identity-shape": "V45: identity claims (id, sid, email, roles, organization) are "
    "printable strings of bounded length",
}
# Identity claims and their length limits, written out here rather than imported, so that the
# classifier stays independent of the code it checks.
IDENTITY_LIMITS = {
    "id": 256,
    "sid": 256,
    "email": 320,
    "activeOrganizationId": 256,
    "organizationId": 256,
    "organizationRole": 256,
}
ROLE_CLAIMS = ("role", "roles")

KEYS: dict[str, Any] = {}


@dataclass(frozen=True)
class Setup:
    alg: str
    key: TestKey | None  # None for HS256
    secret: str | None
    verifier: Verifier
    pyjwt_key: Any

    def sign(self, header: bytes, payload: bytes) -> str:
        if self.key is None:
            assert self.secret is not None
            return sign_raw(header, payload, self.secret.encode(), "HS256")
        return sign_raw(header, payload, self.key.private, self.alg)


def _setup(alg: str) -> Setup:
    if alg in KEYS:
        return KEYS[alg]  # type: ignore[no-any-return]
    if alg == "HS256":
        secret = hs_secret()
        verifier = Verifier(
            TrustedIssuer.create(SharedSecret(secret), issuer=ISSUER, audience=AUDIENCE),
            cache=TokenCache(0),
        )
        made = Setup(alg, None, secret, verifier, secret.encode())
    else:
        key = {"EdDSA": ed25519_key, "ES256": ec_key, "RS256": rsa_key}[alg]("k1")
        verifier = Verifier(
            TrustedIssuer.create(StaticJWKS(jwks(key)), issuer=ISSUER, audience=AUDIENCE),
            cache=TokenCache(0),
        )
        made = Setup(alg, key, None, verifier, key.private.public_key())
    KEYS[alg] = made
    return made


# --- generation -------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
# Offsets kept well away from every boundary (leeway 30 s, lifetime 3600 s), so the few
# milliseconds between the two verifications cannot change a verdict.
exp_offsets = st.sampled_from(
    [-86400, -600, -45, -15, 0, 60, 900, 899.5, 3500, 3700, 86400, 10**12]
)
iat_offsets = st.sampled_from([-7200, -3000, -100, -10, 0, 10, 45, 3600])
time_oddities = st.sampled_from(["1800000000", True, None, [1], 1e300, 10**30, -(10**30)])


def _mostly(good: Any, *bad: Any, weight: int = 15) -> st.SearchStrategy[Any]:
    """``good`` most of the time, else one of ``bad``: keeps many tokens valid."""
    return st.sampled_from([good] * weight + list(bad))


@st.composite
def claim_sets(draw: st.DrawFn) -> dict[str, Any]:
    now = time.time()
    claims: dict[str, Any] = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    claims["sub"] = draw(
        st.one_of(
            st.text(min_size=1, max_size=20),
            st.text(min_size=1, max_size=20),
            st.text(min_size=1, max_size=20),
            st.sampled_from(["", "x" * 256, "x" * 257, None, 7, ["u1"]]),
        )
    )
    claims["iss"] = draw(_mostly(ISSUER, ISSUER + "/", ISSUER.upper(), "", None, [ISSUER]))
    claims["aud"] = draw(
        _mostly(AUDIENCE, [AUDIENCE], ["x", AUDIENCE], [], "", ["x"], [AUDIENCE, 1], 5)
    )
    claims["iat"] = int(now + draw(_mostly(0, -7200, -3000, -100, -10, 10, 45, 3600)))
    if draw(st.booleans()):
        claims["exp"] = claims["iat"] + draw(_mostly(900, 3500, 3700, 899.5, 10**12, -45))
    else:
        claims["exp"] = int(now) + draw(_mostly(900, -86400, -600, -45, -15, 0, 60, 3700, 86400))
    if draw(_mostly(False, True, weight=3)):
        claims["nbf"] = int(now + draw(st.sampled_from([-100, 10, 45])))
    if draw(_mostly(False, True, weight=9)):
        claims[draw(st.sampled_from(["exp", "iat", "nbf"]))] = draw(time_oddities)
    if draw(_mostly(False, True, weight=5)):
        claims["jti"] = draw(st.one_of(st.text(max_size=8), st.integers(), st.none()))
    if draw(_mostly(False, True, weight=4)):
        name = draw(st.sampled_from([*IDENTITY_LIMITS, *ROLE_CLAIMS]))
        claims[name] = draw(
            st.one_of(
                st.text(max_size=20),
                st.sampled_from(
                    ["u\x00", "\x1f", "a\nb", "x" * 321, None, 7, ["a", "b"], ["a", 1]]
                ),
            )
        )
    if draw(_mostly(False, True, weight=9)):
        claims.pop(draw(st.sampled_from(REQUIRED)))
    return claims


@st.composite
def headers(draw: st.DrawFn, alg: str) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": draw(_mostly(alg, "none", alg.lower(), "HS256", "RS256"))}
    kid = draw(_mostly("k1", None, "other", "", 7, "k" * 300, weight=10))
    if kid is not None:
        header["kid"] = kid
    typ = draw(_mostly(None, "JWT", "jwt", "at+jwt", "JOSE"))
    if typ is not None:
        header["typ"] = typ
    extra = draw(_mostly(None, "foo", "crit", "cty", "b64", "jku", "zip", weight=12))
    if extra == "crit":
        header["crit"] = ["exp"]
    elif extra == "b64":
        header["b64"] = True
    elif extra is not None:
        header[extra] = "x"
    return header


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


JSON_TWEAKS: dict[str, Callable[[bytes], bytes]] = {
    "none": lambda raw: raw,
    "duplicate-sub": lambda raw: raw[:-1] + b',"sub":"intruder"}',
    "duplicate-alg": lambda raw: raw[:-1] + b',"alg":"none"}',
    "nan-extra": lambda raw: raw[:-1] + b',"n":NaN}',
    "bom": lambda raw: b"\xef\xbb\xbf" + raw,
    "spaces": lambda raw: raw.replace(b",", b" , "),
    "trailing-garbage": lambda raw: raw + b" ",
}


def _flip(token: str, position: int) -> str:
    chars = list(token)
    index = position % len(chars)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if chars[index] in alphabet:
        chars[index] = alphabet[(alphabet.index(chars[index]) + 1) % 64]
    return "".join(chars)


def _respell_last(segment: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    rem = len(segment) % 4
    if rem in (2, 3):
        # The lowest bit of the last character is always a padding bit here.
        return segment[:-1] + alphabet[alphabet.index(segment[-1]) ^ 1]
    return segment


TOKEN_MUTATIONS: dict[str, Callable[[str, int], str]] = {
    "none": lambda t, _: t,
    "flip": _flip,
    "swap-header-payload": lambda t, _: ".".join(
        [t.split(".")[1], t.split(".")[0], t.split(".")[2]]
    ),
    "drop-signature": lambda t, _: t.rsplit(".", 1)[0] + ".",
    "pad": lambda t, n: t + "=" * (1 + n % 2),
    "pad-header": lambda t, _: t.replace(".", "=.", 1),
    "space": lambda t, n: t[: n % len(t)] + " " + t[n % len(t) :],
    "newline": lambda t, _: t + "\n",
    "respell-signature": lambda t, _: (
        t.rsplit(".", 1)[0] + "." + _respell_last(t.rsplit(".", 1)[1])
    ),
    "respell-header": lambda t, _: _respell_last(t.split(".")[0]) + t[t.index(".") :],
    "alg-change": lambda t, n: (
        b64url_encode(
            _dumps({"alg": ["HS256", "none", "EdDSA", "ES256", "RS256"][n % 5], "kid": "k1"})
        )
        + t[t.index(".") :]
    ),
    "extra-dot": lambda t, _: t + ".",
    "truncate": lambda t, n: t[: max(1, len(t) - 1 - n % 5)],
}


# --- the two verdicts --------------------------------------------------------------------------


async def authbridge_verdict(setup: Setup, token: str) -> dict[str, Any] | None:
    try:
        principal = await setup.verifier.verify(token)
    except AuthError:
        return None
    return dict(principal.claims)


def pyjwt_verdict(setup: Setup, token: str) -> dict[str, Any] | None:
    """PyJWT as commonly deployed: the JWKS key named by ``kid`` (PyJWKSet lookup), or the
    one key when the token names none; the HS256 secret regardless of ``kid``."""
    try:
        key = setup.pyjwt_key
        if setup.key is not None:
            kid = jwt.get_unverified_header(token).get("kid")
            if kid is not None:
                key = jwt.PyJWKSet.from_dict(jwks(setup.key))[kid].key
        return jwt.decode(  # type: ignore[no-any-return]
            token,
            key,
            algorithms=[setup.alg],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": REQUIRED},
        )
    except Exception:  # PyJWT's verdict is "rejected" whatever it raises
        return None


# --- independent classification of authbridge's stricter verdicts -----------------------------

_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _lenient_b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class _Dup(Exception):
    pass


def _strict_json_problem(raw: bytes) -> str | None:
    if raw.startswith(b"\xef\xbb\xbf"):
        return "strict-json-text"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "strict-json-text"

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in items}) != len(items):
            raise _Dup
        return dict(items)

    def constant(_: str) -> Any:
        raise ValueError("literal")

    try:
        json.JSONDecoder(object_pairs_hook=pairs, parse_constant=constant).decode(text)
    except _Dup:
        return "duplicate-members"
    except ValueError:
        try:
            json.loads(text)
        except ValueError:
            return "strict-json-text"
        return "non-standard-literal"
    return None


def _time_problem(claims: dict[str, Any], now: float) -> str | None:
    for name in ("exp", "iat", "nbf"):
        if name in claims:
            value = claims[name]
            if type(value) not in (int, float) or (
                type(value) is float and not math.isfinite(value)
            ):
                return "time-not-a-number"
            if abs(value) > _MAX_NUMERIC_DATE:
                return "numeric-date-range"
    exp, iat = claims.get("exp"), claims.get("iat")
    if exp is not None and (
        exp > now + MAX_LIFETIME + LEEWAY or (iat is not None and exp - iat > MAX_LIFETIME)
    ):
        return "max-lifetime"
    return None


def classify(token: str, asymmetric: bool) -> str | None:
    """Why authbridge may rightly reject a token PyJWT accepts; None if no reason applies."""
    if _COMPACT.fullmatch(token) is None:
        return "compact-form"
    segments = token.split(".")
    if any(b64url_encode(_lenient_b64(s)) != s for s in segments):
        return "non-canonical-base64url"
    header_raw, payload_raw = _lenient_b64(segments[0]), _lenient_b64(segments[1])
    for raw in (header_raw, payload_raw):
        problem = _strict_json_problem(raw)
        if problem:
            return problem
    header, claims = json.loads(header_raw), json.loads(payload_raw)
    if set(header) - {"alg", "kid", "typ"}:
        return "unknown-header-param"
    if "typ" in header and (type(header["typ"]) is not str or header["typ"].lower() != "jwt"):
        return "typ"
    if "kid" in header and (type(header["kid"]) is not str or not 0 < len(header["kid"]) <= 256):
        return "kid-shape"
    if asymmetric and "kid" not in header:
        return "kid-required"
    problem = _time_problem(claims, time.time())
    if problem:
        return problem
    sub = claims.get("sub")
    if type(sub) is str and not (0 < len(sub) <= 256 and sub.isprintable()):
        return "sub-shape"
    if _identity_problem(claims):
        return "identity-shape"
    return None


def _bad_text(value: Any, limit: int) -> bool:
    return type(value) is not str or len(value) > limit or not value.isprintable()


def _identity_problem(claims: dict[str, Any]) -> bool:
    for name, limit in IDENTITY_LIMITS.items():
        if claims.get(name) is not None and _bad_text(claims[name], limit):
            return True
    for name in ROLE_CLAIMS:
        value = claims.get(name)
        if type(value) is list:
            if len(value) > 64 or any(_bad_text(item, 256) for item in value):
                return True
        elif value is not None and _bad_text(value, 256):
            return True
    return False


# --- the property ---------------------------------------------------------------------------

SEEN: Counter[str] = Counter()


async def _compare(setup: Setup, token: str) -> None:
    ours = await authbridge_verdict(setup, token)
    theirs = pyjwt_verdict(setup, token)
    if ours is not None:
        assert theirs is not None, "authbridge accepted a token PyJWT rejects"
        assert ours == theirs
        SEEN["both-accept"] += 1
    elif theirs is not None:
        reason = classify(token, asymmetric=setup.key is not None)
        assert reason in STRICTER_BY_DESIGN, f"unclassified stricter rejection: {token!r}"
        SEEN[reason] += 1
    else:
        SEEN["both-reject"] += 1


@pytest.mark.parametrize("alg", ["HS256", "EdDSA", "ES256", "RS256"])
@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.data())
async def test_authbridge_never_accepts_what_pyjwt_rejects(alg: str, data: st.DataObject) -> None:
    setup = _setup(alg)
    header = data.draw(headers(alg))
    claims = data.draw(claim_sets())
    header_raw = data.draw(_mostly("none", "duplicate-alg", "spaces", "bom", weight=12))
    payload_raw = data.draw(_mostly("none", *sorted(set(JSON_TWEAKS) - {"none"}), weight=12))
    token = setup.sign(
        JSON_TWEAKS[header_raw](_dumps(header)), JSON_TWEAKS[payload_raw](_dumps(claims))
    )
    mutation = data.draw(_mostly("none", *sorted(set(TOKEN_MUTATIONS) - {"none"}), weight=14))
    token = TOKEN_MUTATIONS[mutation](token, data.draw(st.integers(0, 10_000)))
    await _compare(setup, token)


@pytest.mark.parametrize("alg", ["HS256", "EdDSA", "ES256", "RS256"])
async def test_well_formed_better_auth_tokens_are_accepted_by_both(alg: str) -> None:
    setup = _setup(alg)
    now = int(time.time())
    claims = {
        "iat": now,
        "name": "Ada",
        "sub": "u1",
        "exp": now + 900,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    header = {"alg": alg, "kid": "k1"}
    token = setup.sign(_dumps(header), _dumps(claims))
    assert await authbridge_verdict(setup, token) == pyjwt_verdict(setup, token) == claims


def _stricter_examples(setup: Setup) -> dict[str, str]:
    """One token per class that PyJWT accepts and authbridge rejects."""
    now = int(time.time())
    base = {"iat": now, "sub": "u1", "exp": now + 900, "iss": ISSUER, "aud": AUDIENCE}
    head = {"alg": setup.alg, "kid": "k1"}
    good = setup.sign(_dumps(head), _dumps(base))

    def signed(header: dict[str, Any] | bytes = head, **claims: Any) -> str:
        raw_header = header if isinstance(header, bytes) else _dumps(header)
        return setup.sign(raw_header, _dumps({**base, **claims}))

    return {
        # PyJWT accepts the signature with its base64 padding restored.
        "compact-form": good + "=" * (-len(good.rsplit(".", 1)[1]) % 4),
        "strict-json-text": setup.sign(b"\xef\xbb\xbf" + _dumps(head), _dumps(base)),
        "duplicate-members": setup.sign(
            _dumps(head)[:-1] + b',"alg":"' + setup.alg.encode() + b'"}', _dumps(base)
        ),
        "non-standard-literal": setup.sign(_dumps(head), _dumps(base)[:-1] + b',"n":NaN}'),
        "unknown-header-param": signed({**head, "foo": "bar"}),
        "kid-shape": signed({**head, "kid": "k" * 300}),
        "typ": signed({**head, "typ": "at+jwt"}),
        "time-not-a-number": signed(exp=str(now + 900)),
        "numeric-date-range": signed(exp=10**13),
        "max-lifetime": signed(exp=now + 7200),
        "sub-shape": signed(sub=""),
        "identity-shape": signed(sid="s\x00"),
        "kid-required": signed({"alg": setup.alg}),
    }


@pytest.mark.parametrize("alg", ["HS256", "EdDSA", "ES256", "RS256"])
async def test_each_stricter_class_is_real(alg: str) -> None:
    setup = _setup(alg)
    examples = _stricter_examples(setup)
    assert set(examples) == set(STRICTER_BY_DESIGN)
    for name, token in examples.items():
        if name == "kid-required" and setup.key is None:
            continue  # the HS path does not need a kid: both accept
        if name == "kid-shape" and setup.key is not None:
            continue  # PyJWKSet finds no key for a bad kid either: both reject
        if (
            name == "non-canonical-base64url"
            and _COMPACT.fullmatch(token)
            and len(token.split(".")[2]) % 4 == 0
        ):
            continue  # RS256 signatures (256 bytes) have no spare bits to respell
        assert pyjwt_verdict(setup, token) is not None, name
        assert await authbridge_verdict(setup, token) is None, name
        assert classify(token, asymmetric=setup.key is not None) == name


@pytest.mark.parametrize("alg", ["HS256", "EdDSA", "ES256"])
async def test_both_reject_non_canonical_base64url(alg: str) -> None:
    """V5 is not a difference: PyJWT 2.15 also re-encodes and compares (GHSA-hxm8-2xgr-2p9m)."""
    setup = _setup(alg)
    now = int(time.time())
    claims = {"iat": now, "sub": "u1", "exp": now + 900, "iss": ISSUER, "aud": AUDIENCE}
    token = setup.sign(_dumps({"alg": alg, "kid": "k1"}), _dumps(claims))
    head, signature = token.rsplit(".", 1)
    assert len(signature) % 4  # HS256, EdDSA and ES256 signatures have spare bits
    respelled = f"{head}.{_respell_last(signature)}"
    assert _lenient_b64(respelled.rsplit(".", 1)[1]) == _lenient_b64(signature)
    assert pyjwt_verdict(setup, respelled) is None
    assert await authbridge_verdict(setup, respelled) is None
    assert classify(respelled, asymmetric=setup.key is not None) == "non-canonical-base64url"


def test_zz_the_generator_reached_acceptance_and_stricter_cases() -> None:
    """Runs after the property tests (file order): they must not be all-reject noise."""
    print(dict(SEEN))
    if SEEN:
        assert SEEN["both-accept"] >= 30
        assert sum(SEEN[name] for name in STRICTER_BY_DESIGN) >= 15
