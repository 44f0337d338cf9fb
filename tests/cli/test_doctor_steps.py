"""The doctor asks the verifier: its steps follow the ``Verifier`` it is given, not settings.

Each verifier here is built with a policy that the settings passed alongside do not describe.
A doctor that re-implemented the verifier's routing from settings would report a pass where
``verify`` refuses; these tests see the doctor agree with the verifier.
"""

from __future__ import annotations

import time

from authbridge import ClaimRules, StaticJWKS, TokenPolicy, TrustedIssuer, Verifier
from authbridge.cli.doctor import Diagnosis, diagnose
from authbridge.cli.token_input import clean_token
from authbridge.config import load_settings
from authbridge.jose.parse import HeaderRules
from tokens import AUDIENCE, ISSUER, ba_claims, ed25519_key, jwks

KEY = ed25519_key("k1")
RULES = ClaimRules(issuer=ISSUER, audiences=frozenset({AUDIENCE}))


async def _diagnose(verifier: Verifier, token: str) -> Diagnosis:
    return await diagnose(clean_token(token), verifier, load_settings())


def _step(diagnosis: Diagnosis, name: str) -> tuple[str, str]:
    check = next(c for c in diagnosis.checks if c.step == name)
    return check.status, check.detail


async def test_the_header_step_applies_the_verifiers_header_rules() -> None:
    strict = TokenPolicy(header_rules=HeaderRules(allowed_params=frozenset({"alg", "kid"})))
    verifier = Verifier(TrustedIssuer(StaticJWKS(jwks(KEY)), RULES), policy=strict)
    token = KEY.sign(ba_claims(), typ="JWT")  # a typ, which this verifier refuses
    diagnosis = await _diagnose(verifier, token)
    assert _step(diagnosis, "header")[0] == "fail"
    assert diagnosis.error_code == "token_malformed"
    assert not diagnosis.valid


async def test_the_size_cap_is_the_verifiers() -> None:
    token = KEY.sign(ba_claims())
    small = TokenPolicy(max_token_bytes=len(token) - 1)
    verifier = Verifier(TrustedIssuer(StaticJWKS(jwks(KEY)), RULES), policy=small)
    diagnosis = await _diagnose(verifier, token)
    status, _ = _step(diagnosis, "header")
    assert status == "fail"
    assert diagnosis.error_code == "token_too_large"
    fix = next(c.fix for c in diagnosis.checks if c.step == "header")
    assert fix is not None
    assert f"(now {len(token) - 1})" in fix


async def test_the_alg_step_is_the_verifiers_route() -> None:
    # The path allows ES256 only; the EdDSA key is in its JWKS, but route() refuses EdDSA.
    path = TrustedIssuer(StaticJWKS(jwks(KEY)), RULES, frozenset({"ES256"}))
    diagnosis = await _diagnose(Verifier(path), KEY.sign(ba_claims()))
    status, detail = _step(diagnosis, "alg")
    assert status == "fail"
    assert "EdDSA is not allowed here" in detail
    assert diagnosis.error_code == "algorithm_not_allowed"


async def test_a_valid_token_passes_each_step_and_the_verdict() -> None:
    verifier = Verifier(TrustedIssuer(StaticJWKS(jwks(KEY)), RULES))
    diagnosis = await _diagnose(verifier, KEY.sign(ba_claims(now=time.time())))
    for step in ("format", "header", "alg", "key", "signature"):
        assert _step(diagnosis, step)[0] == "pass", step
    assert diagnosis.valid
