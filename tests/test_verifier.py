"""The Verifier: routing to exactly one trusted path, the token cache and its eviction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authbridge import ClaimRules, SharedSecret, StaticJWKS, TrustedIssuer, Verifier
from authbridge.cache import TokenCache
from authbridge.errors import (
    AlgorithmNotAllowed,
    AuthError,
    ConfigError,
    InvalidAudience,
    InvalidIssuer,
    InvalidSignature,
    TokenMissing,
    TokenTooLarge,
    UnknownKey,
)
from authbridge.jose.algorithms import DEFAULT_ASYMMETRIC, DEFAULT_SYMMETRIC
from authbridge.jose.sign import sign_compact
from authbridge.keys.jwk import VerificationKey, parse_jwks
from authbridge.keys.source import KeySource, KeysRemovedListener
from tokens import (
    AUDIENCE,
    ISSUER,
    NOW,
    USER_ID,
    FixedClock,
    TestKey,
    ba_claims,
    dumps,
    ec_key,
    ed25519_key,
    hs_secret,
    jwks,
    sign_raw,
)

OTHER_ISSUER = "https://login.partner.example"


class FakeKeys:
    """A KeySource over a mutable key set that can announce removed kids, like RemoteJWKS."""

    symmetric = False

    def __init__(self, *keys: TestKey) -> None:
        self.keys: dict[str, VerificationKey] = dict(parse_jwks(jwks(*keys)).keys)
        self.listeners: list[KeysRemovedListener] = []
        self.lookups = 0
        self.started = self.closed = False

    def cached_key(self, kid: str | None, alg: str) -> VerificationKey | None:
        self.lookups += 1
        return self.keys.get(kid) if kid else None

    async def get_key(self, kid: str | None, alg: str) -> VerificationKey:
        key = self.cached_key(kid, alg)
        if key is None:
            raise UnknownKey()
        return key

    def on_keys_removed(self, listener: KeysRemovedListener) -> None:
        self.listeners.append(listener)

    def remove(self, kid: str) -> None:
        del self.keys[kid]
        for listener in self.listeners:
            listener(frozenset({kid}))

    async def start(self) -> None:
        self.started = True

    async def aclose(self) -> None:
        self.closed = True


def test_fake_keys_is_a_key_source() -> None:
    assert isinstance(FakeKeys(), KeySource)
    assert isinstance(SharedSecret(hs_secret()), KeySource)
    assert isinstance(StaticJWKS(jwks()), KeySource)


# --- routing ------------------------------------------------------------------------------------


async def test_two_asymmetric_issuers_are_routed_by_iss() -> None:
    ours, theirs = ed25519_key("k1"), ed25519_key("k2")
    clock = FixedClock()
    verifier = Verifier(
        TrustedIssuer.create(StaticJWKS(jwks(ours)), issuer=ISSUER, audience=AUDIENCE),
        TrustedIssuer.create(
            StaticJWKS(jwks(theirs)), issuer=OTHER_ISSUER, audience=AUDIENCE, name="partner"
        ),
        clock=clock,
    )
    assert (await verifier.verify(ours.sign(ba_claims()))).issuer == ISSUER
    partner = await verifier.verify(theirs.sign(ba_claims(issuer=OTHER_ISSUER)))
    assert partner.issuer == OTHER_ISSUER
    # A token is never tried against the other issuer's keys.
    with pytest.raises(UnknownKey):
        await verifier.verify(theirs.sign(ba_claims()))  # claims our iss, signed by theirs
    with pytest.raises(UnknownKey):
        await verifier.verify(ours.sign(ba_claims(issuer=OTHER_ISSUER)))
    with pytest.raises(InvalidIssuer):
        await verifier.verify(ours.sign(ba_claims(issuer="https://unknown.example")))


async def test_routing_by_alg_family() -> None:
    key, secret = ed25519_key("k1"), hs_secret()
    verifier = Verifier(
        TrustedIssuer.create(StaticJWKS(jwks(key)), issuer=ISSUER, audience=AUDIENCE),
        TrustedIssuer.create(SharedSecret(secret), issuer=OTHER_ISSUER, audience="svc"),
        clock=FixedClock(),
    )
    assert [p.name for p in verifier.paths] == ["jwks", "hs"]
    hs_token = sign_compact(
        ba_claims(issuer=OTHER_ISSUER, audience="svc"), secret.encode(), "HS256"
    )
    assert (await verifier.verify(hs_token)).issuer == OTHER_ISSUER
    assert (await verifier.verify(key.sign(ba_claims()))).issuer == ISSUER
    es384 = sign_compact(ba_claims(), ec_key("p384", "P-384").private, "ES384", kid="x")
    with pytest.raises(AlgorithmNotAllowed):
        await verifier.verify(es384)  # ES384 is on no path's allow-list


async def test_empty_and_oversized_tokens() -> None:
    verifier = Verifier(TrustedIssuer.create(FakeKeys(), issuer=ISSUER, audience=AUDIENCE))
    with pytest.raises(TokenMissing):
        await verifier.verify("")
    with pytest.raises(TokenTooLarge):
        await verifier.verify("a" * 9000)


def test_construction_errors() -> None:
    with pytest.raises(ConfigError) as info:
        Verifier()
    assert info.value.variable == "BETTER_AUTH_URL"
    with pytest.raises(ConfigError):
        TrustedIssuer.create(FakeKeys(), issuer=ISSUER, audience=[])
    with pytest.raises(ConfigError):
        Verifier(TrustedIssuer.create(FakeKeys(), issuer="", audience=AUDIENCE))
    with pytest.raises(ConfigError):
        Verifier(
            TrustedIssuer.create(FakeKeys(), issuer=ISSUER, audience=AUDIENCE, algorithms=["XS256"])
        )


async def test_lifecycle_starts_and_closes_key_sources() -> None:
    keys = FakeKeys()
    async with Verifier(TrustedIssuer.create(keys, issuer=ISSUER, audience=AUDIENCE)) as verifier:
        assert keys.started
        assert verifier.paths[0].keys is keys
    assert keys.closed


# --- the token cache ------------------------------------------------------------------------


async def test_a_repeated_token_is_a_cache_hit() -> None:
    key = ed25519_key("k1")
    keys = FakeKeys(key)
    verifier = Verifier(
        TrustedIssuer.create(keys, issuer=ISSUER, audience=AUDIENCE), clock=FixedClock()
    )
    token = key.sign(ba_claims())
    first = await verifier.verify(token)
    lookups = keys.lookups
    again = await verifier.verify(token)
    assert again is first
    assert keys.lookups == lookups  # no key lookup, no signature check
    assert verifier.verify_cached(token) is first
    assert first.sub == USER_ID


async def test_cache_disabled() -> None:
    key = ed25519_key("k1")
    keys = FakeKeys(key)
    verifier = Verifier(
        TrustedIssuer.create(keys, issuer=ISSUER, audience=AUDIENCE),
        cache=TokenCache(0),
        clock=FixedClock(),
    )
    token = key.sign(ba_claims())
    await verifier.verify(token)
    await verifier.verify(token)
    assert keys.lookups == 2
    assert verifier.verify_cached(token) is None


async def test_cache_eviction_when_a_key_leaves_the_set() -> None:
    a, b = ed25519_key("ka"), ed25519_key("kb")
    keys = FakeKeys(a, b)
    verifier = Verifier(
        TrustedIssuer.create(keys, issuer=ISSUER, audience=AUDIENCE), clock=FixedClock()
    )
    token_a, token_b = a.sign(ba_claims()), b.sign(ba_claims())
    await verifier.verify(token_a)
    await verifier.verify(token_b)
    assert len(verifier.cache) == 2
    keys.remove("ka")
    assert verifier.verify_cached(token_a) is None
    assert verifier.verify_cached(token_b) is not None
    with pytest.raises(UnknownKey):
        await verifier.verify(token_a)


async def test_eviction_is_per_path() -> None:
    """Two paths with the same kid: removing it from one leaves the other's tokens cached."""
    ours, theirs = ed25519_key("same"), ed25519_key("same")
    our_keys, their_keys = FakeKeys(ours), FakeKeys(theirs)
    verifier = Verifier(
        TrustedIssuer.create(our_keys, issuer=ISSUER, audience=AUDIENCE, name="ours"),
        TrustedIssuer.create(their_keys, issuer=OTHER_ISSUER, audience=AUDIENCE, name="theirs"),
        clock=FixedClock(),
    )
    mine, partner = ours.sign(ba_claims()), theirs.sign(ba_claims(issuer=OTHER_ISSUER))
    await verifier.verify(mine)
    await verifier.verify(partner)
    their_keys.remove("same")
    assert verifier.verify_cached(mine) is not None
    assert verifier.verify_cached(partner) is None


async def test_cached_principal_respects_expiry() -> None:
    key = ed25519_key("k1")
    clock = FixedClock()
    verifier = Verifier(
        TrustedIssuer.create(FakeKeys(key), issuer=ISSUER, audience=AUDIENCE), clock=clock
    )
    token = key.sign(ba_claims(exp=int(NOW) + 60))
    await verifier.verify(token)
    clock.now = NOW + 89
    assert verifier.verify_cached(token) is not None
    clock.now = NOW + 90
    assert verifier.verify_cached(token) is None


async def test_failures_do_not_touch_the_cache() -> None:
    key = ed25519_key("k1")
    verifier = Verifier(
        TrustedIssuer.create(FakeKeys(key), issuer=ISSUER, audience=AUDIENCE), clock=FixedClock()
    )
    forged = key.sign(ba_claims())[:-4] + "AAAA"
    with pytest.raises(InvalidSignature):
        await verifier.verify(forged)
    assert len(verifier.cache) == 0


# --- robustness: anything at all is a clean AuthError ------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_REGISTERED = [
    "alg",
    "kid",
    "typ",
    "crit",
    "iss",
    "aud",
    "sub",
    "exp",
    "iat",
    "nbf",
    "jti",
    "role",
    "scope",
]
_FUZZ_KEY = ed25519_key("k1")
_FUZZ_SECRET = hs_secret()


def _fuzz_verifier() -> Verifier:
    return Verifier(
        TrustedIssuer.create(StaticJWKS(jwks(_FUZZ_KEY)), issuer=ISSUER, audience=AUDIENCE),
        TrustedIssuer.create(
            StaticJWKS(jwks(ed25519_key("k2"))), issuer=OTHER_ISSUER, audience=AUDIENCE
        ),
        TrustedIssuer.create(SharedSecret(_FUZZ_SECRET), issuer=ISSUER, audience="svc"),
        clock=FixedClock(),
    )


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    header=st.dictionaries(st.sampled_from(_REGISTERED), _json, max_size=4),
    claims=st.dictionaries(st.sampled_from(_REGISTERED), _json, max_size=8),
    alg=st.sampled_from(["EdDSA", "HS256"]),
)
async def test_signed_garbage_only_raises_auth_errors(
    header: dict[str, Any], claims: dict[str, Any], alg: str
) -> None:
    base = ba_claims()
    merged = {**base, **claims}
    head = {"alg": alg, "kid": "k1", **header}
    key: Any = _FUZZ_KEY.private if alg == "EdDSA" else _FUZZ_SECRET.encode()
    token = sign_raw(dumps(head), json.dumps(merged, allow_nan=True).encode(), key, alg)
    try:
        principal = await _fuzz_verifier().verify(token)
    except AuthError:
        return
    assert type(principal.sub) is str
    assert principal.sub


@settings(max_examples=300, deadline=None, derandomize=True)
@given(token=st.text(max_size=200) | st.from_regex(r"[A-Za-z0-9_\-.=+/ ]{0,120}", fullmatch=True))
async def test_arbitrary_text_only_raises_auth_errors(token: str) -> None:
    with pytest.raises(AuthError):
        await _fuzz_verifier().verify(token)


# --- the public steps of verify: the decision tools (the doctor) ask for -------------------


async def test_the_steps_are_the_decisions_verify_makes() -> None:
    key, secret = ed25519_key("k1"), hs_secret()
    jwks_path = TrustedIssuer.create(StaticJWKS(jwks(key)), issuer=ISSUER, audience=AUDIENCE)
    hs_path = TrustedIssuer.create(SharedSecret(secret), issuer=OTHER_ISSUER, audience="svc")
    verifier = Verifier(jwks_path, hs_path, clock=FixedClock())
    token = key.sign(ba_claims())

    assert verifier.credential_kind(token) == "jwt"
    jws = verifier.parse(token)
    assert verifier.route(jws) is jwks_path
    found = await verifier.find_key(jws_path := verifier.route(jws), jws)
    assert found.kid == "k1"
    verifier.check_signature(jws, found)  # no exception: the signature holds
    assert (await verifier.verify(token)).sub == USER_ID

    hs_token = sign_compact(
        ba_claims(issuer=OTHER_ISSUER, audience="svc"), secret.encode(), "HS256"
    )
    assert verifier.route(verifier.parse(hs_token)) is hs_path
    # A key of the right path but bound to another algorithm is refused by the same step.
    with pytest.raises(AlgorithmNotAllowed):
        verifier.check_signature(verifier.parse(hs_token), found)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidSignature):
        verifier.check_signature(verifier.parse(tampered), found)
    assert jws_path is jwks_path


def test_route_refuses_as_verify_does() -> None:
    ours, theirs = ed25519_key("k1"), ed25519_key("k2")
    verifier = Verifier(
        TrustedIssuer.create(StaticJWKS(jwks(ours)), issuer=ISSUER, audience=AUDIENCE),
        TrustedIssuer.create(StaticJWKS(jwks(theirs)), issuer=OTHER_ISSUER, audience=AUDIENCE),
        clock=FixedClock(),
    )
    with pytest.raises(AlgorithmNotAllowed):
        verifier.route(verifier.parse(sign_compact(ba_claims(), b"s" * 32, "HS256")))
    with pytest.raises(InvalidIssuer):
        verifier.route(verifier.parse(ours.sign(ba_claims(issuer="https://elsewhere.example"))))
    with pytest.raises(TokenMissing):
        verifier.credential_kind("")
    with pytest.raises(TokenTooLarge):
        verifier.credential_kind("a" * 9000)


async def test_find_key_needs_a_kid_for_a_jwks() -> None:
    key = ed25519_key("k1")
    path = TrustedIssuer.create(StaticJWKS(jwks(key)), issuer=ISSUER, audience=AUDIENCE)
    verifier = Verifier(path, clock=FixedClock())
    header = dumps({"alg": "EdDSA", "typ": "JWT"})
    no_kid = sign_raw(header, dumps(ba_claims()), key.private, "EdDSA")
    with pytest.raises(UnknownKey):
        await verifier.find_key(path, verifier.parse(no_kid))
    with pytest.raises(UnknownKey):
        await verifier.verify(no_kid)


def test_trusted_issuer_defaults_follow_the_key_source() -> None:
    rules = ClaimRules(issuer=ISSUER, audiences=frozenset({AUDIENCE}))
    jwks_path = TrustedIssuer(StaticJWKS(jwks(ed25519_key("k1"))), rules)
    hs_path = TrustedIssuer(SharedSecret(hs_secret()), rules)
    assert jwks_path.name == "jwks"
    assert jwks_path.algorithms == frozenset(DEFAULT_ASYMMETRIC)
    assert hs_path.name == "hs"
    assert hs_path.algorithms == frozenset(DEFAULT_SYMMETRIC)
    with pytest.raises(ConfigError):
        TrustedIssuer(SharedSecret(hs_secret()), rules, frozenset({"EdDSA"}))


def test_a_bare_string_audience_is_one_audience_not_its_substrings() -> None:
    rules = ClaimRules(issuer=ISSUER, audiences=AUDIENCE)  # type: ignore[arg-type]
    assert rules.audiences == frozenset({AUDIENCE})
    with pytest.raises(InvalidAudience):
        rules.validate({**ba_claims(), "aud": "auth"}, NOW)


def test_a_key_source_or_a_list_where_paths_belong_is_a_clear_type_error() -> None:
    keys = StaticJWKS(jwks(ed25519_key("k1")))
    path = TrustedIssuer.create(keys, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(TypeError, match="not StaticJWKS"):
        Verifier(keys)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not list"):
        Verifier([path])  # type: ignore[arg-type]
