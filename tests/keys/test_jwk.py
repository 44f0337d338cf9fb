"""JWK and JWK Set loading: each key bound to one algorithm at load time, with thumbprints."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authbridge.keys.jwk import KeyRejected, parse_jwk, parse_jwks, thumbprint
from tokens import ec_key, ed25519_key, rsa_key

ED = ed25519_key("ed")
RSA = rsa_key("rsa")


def _without(jwk: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k not in names}


def test_better_auth_shaped_keys_load_bound_to_their_alg() -> None:
    key = parse_jwk(ED.jwk)
    assert (key.kid, key.alg, key.kty, key.detail) == ("ed", "EdDSA", "OKP", "Ed25519")
    assert isinstance(key.key, ed25519.Ed25519PublicKey)
    for crv, alg in (("P-256", "ES256"), ("P-384", "ES384"), ("P-521", "ES512")):
        loaded = parse_jwk(ec_key("e", crv).jwk)
        assert (loaded.alg, loaded.detail) == (alg, crv)
        assert isinstance(loaded.key, ec.EllipticCurvePublicKey)
    loaded = parse_jwk(RSA.jwk)
    assert (loaded.alg, loaded.detail) == ("RS256", "2048 bits")
    assert isinstance(loaded.key, rsa.RSAPublicKey)


def test_keys_without_alg_are_bound_by_kty_and_crv() -> None:
    # Better Auth rows from before 1.7 carry no alg.
    assert parse_jwk(_without(ED.jwk, "alg")).alg == "EdDSA"
    assert parse_jwk(_without(ec_key("e", "P-521").jwk, "alg")).alg == "ES512"
    assert parse_jwk(_without(RSA.jwk, "alg")).alg == "RS256"
    assert parse_jwk(_without(RSA.jwk, "alg"), rsa_algorithm="PS256").alg == "PS256"
    # A stated alg wins over the configured RSA default.
    assert parse_jwk({**RSA.jwk, "alg": "PS512"}, rsa_algorithm="PS256").alg == "PS512"


def test_kid_rules() -> None:
    with pytest.raises(KeyRejected):
        parse_jwk(_without(ED.jwk, "kid"))
    assert parse_jwk(_without(ED.jwk, "kid"), require_kid=False).kid is None
    for kid in (1, "", "k" * 257, None):
        jwk = {**ED.jwk, "kid": kid}
        if kid is None:
            jwk = _without(ED.jwk, "kid")
        with pytest.raises(KeyRejected):
            parse_jwk(jwk)
    assert parse_jwk({**ED.jwk, "kid": "k" * 256}).kid == "k" * 256


def test_rfc7638_thumbprint() -> None:
    # RFC 7638 §3.1 example.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tS"
        "oc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGj"
        "QR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bF"
        "TWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert parse_jwk(jwk).thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    # Members outside the required set do not change it.
    assert parse_jwk({**ED.jwk, "use": "sig"}).thumbprint == parse_jwk(ED.jwk).thumbprint


def test_key_material_is_not_in_repr() -> None:
    key = parse_jwk(ED.jwk)
    assert ED.jwk["x"] not in repr(key)


def test_parse_jwks_collects_problems_with_safe_reasons() -> None:
    parsed = parse_jwks({"keys": [ED.jwk, {**RSA.jwk, "e": "AQ"}, {"kty": "oct", "kid": "h"}]})
    assert set(parsed.keys) == {"ed"}
    assert [p.kid for p in parsed.problems] == ["rsa", "h"]
    assert all(RSA.jwk["n"] not in p.reason for p in parsed.problems)


def test_parse_jwks_max_keys_and_hostile_kids() -> None:
    with pytest.raises(ValueError):
        parse_jwks({"keys": [ED.jwk] * 3}, max_keys=2)
    parsed = parse_jwks({"keys": [{**ED.jwk, "kid": "k" * 5000}, {**ED.jwk, "kid": ["x"]}]})
    assert not parsed.keys
    assert [p.kid for p in parsed.problems] == [None, None]  # unsafe kids are not echoed


def test_parse_jwks_never_raises_for_odd_entries() -> None:
    odd: list[Any] = [None, 1, "x", [], {}, {"kty": None}, {"kty": "EC", "crv": ["P-256"]}]
    parsed = parse_jwks({"keys": [*odd, ED.jwk]})
    assert set(parsed.keys) == {"ed"}
    assert len(parsed.problems) == len(odd)
