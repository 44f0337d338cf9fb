"""Wycheproof vectors (C2SP/wycheproof, /work/shared/vectors/wycheproof) through authbridge.

* JWK (``json_web_key_test.json``): keysets through ``parse_jwks`` (the JWKS path), and the
  oct-only keysets through ``SharedSecret`` (the HS path), then the token through the jose layer.
* JWS (``json_web_signature_test.json``): ``parse_compact`` + key bound at load time + the
  algorithm's ``verify``, exactly the steps ``Verifier.verify`` takes before reading claims.
* Ed25519 and ES256 (P1363) raw signatures: the algorithm's ``verify`` with the key loaded by
  ``parse_jwk``; Ed25519 through both implementations (libsodium and OpenSSL).

Every vector's expected result must match. The few that differ are listed below with a
reason, and the tests assert that each listed vector really does differ (so a list entry
cannot go stale silently).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from authbridge.errors import AuthError, ConfigError
from authbridge.jose.algorithms import ALGORITHMS, get_algorithm
from authbridge.jose.b64 import b64url_decode, b64url_encode
from authbridge.jose.parse import parse_compact
from authbridge.keys.jwk import KeyRejected, VerificationKey, parse_jwk, parse_jwks
from authbridge.keys.secret import SharedSecret

VECTORS = Path("/work/shared/vectors/wycheproof")

# --- vectors whose label authbridge deliberately does not follow ----------------------------

_EMPTY_PAYLOAD = (
    "empty payload: a JWT always carries a claims object, so V4 requires three non-empty segments"
)
_ES521 = "key alg 'ES521' is not a JWA name (P-521 is ES512); authbridge refuses unknown key algs"
_PS256_FIG20 = (
    "mislabelled: the key says alg PS256 but RFC 7520 Figure 20 signs with PS384; "
    "a key is bound to exactly one alg (V9)"
)
_IDENTICAL = "mislabelled: byte-identical to tc 357, which is labelled valid"
_QUESTION_MARK = (
    "labelled valid because lenient decoders skip '?'; V4 rejects any non-base64url character"
)

JWS_DIFFERENCES: dict[int, str] = {
    259: _EMPTY_PAYLOAD,
    264: _EMPTY_PAYLOAD,
    268: _EMPTY_PAYLOAD,
    272: _EMPTY_PAYLOAD,
    320: _EMPTY_PAYLOAD,
    325: _EMPTY_PAYLOAD,
    346: _PS256_FIG20,
    350: _PS256_FIG20,
    347: _ES521,
    351: _ES521,
    367: _IDENTICAL,
    370: _IDENTICAL,
    372: _QUESTION_MARK,
    373: _QUESTION_MARK,
}

_OCT_FROM_JWKS = (
    "a valid HMAC token with an oct key: oct keys are never taken from a JWK Set (V26); "
    "the same vector passes through SharedSecret in test_jwk_oct_keysets_through_shared_secret"
)
JWK_DIFFERENCES: dict[int, str] = {
    2: _OCT_FROM_JWKS,
    13: _OCT_FROM_JWKS,
    14: _OCT_FROM_JWKS,
    15: _OCT_FROM_JWKS,
}

# The JWS "base64" group's HMAC key is 32 zero bytes: SharedSecret refuses it (V21, "too
# little variety"), so that group binds the raw key directly to test the jose layer.
ALL_ZERO_KEY_GROUP = "base64"


@dataclass(frozen=True)
class Case:
    file: str
    group: dict[str, Any]
    test: dict[str, Any]

    @property
    def tc(self) -> int:
        return int(self.test["tcId"])

    @property
    def expected_valid(self) -> bool:
        # No vector in these files is "acceptable"; treat it as invalid if one appears.
        return self.test["result"] == "valid"


def _cases(file: str) -> Iterator[Case]:
    document = json.loads((VECTORS / file).read_text())
    for group in document["testGroups"]:
        for test in group["tests"]:
            yield Case(file, group, test)


def _keyset(group: dict[str, Any]) -> dict[str, Any]:
    keys = group.get("public") or group["private"]
    return keys if "keys" in keys else {"keys": [keys]}


def _jose_verdict(token: object, keys: dict[str | None, VerificationKey]) -> bool:
    """What Verifier.verify decides up to the claims: strict parse, key by kid, alg bound,
    signature, then the payload's canonical base64url (``decode_payload``'s first step; the
    JSON-object step is skipped because these payloads are not JWT claims)."""
    assert isinstance(token, str)
    try:
        jws = parse_compact(token, max_bytes=1 << 20)
    except AuthError:
        return False
    key = keys.get(jws.kid)
    if key is None or key.algorithm.name != jws.alg:
        return False
    if not key.algorithm.verify(key.key, jws.signing_input, jws.signature):
        return False
    try:
        b64url_decode(jws.payload_segment)
    except ValueError:
        return False
    return True


def _oct_key(jwk: dict[str, Any]) -> VerificationKey | None:
    """An oct JWK as the HS path would hold it: SharedSecret with the key's one alg."""
    try:
        secret = SharedSecret(b64url_decode(jwk["k"]), algorithms=[jwk.get("alg", "HS256")])
    except ConfigError:
        return None
    return secret.cached_key(None, jwk.get("alg", "HS256"))


def _jws_keys(group: dict[str, Any]) -> dict[str | None, VerificationKey]:
    keyset = _keyset(group)
    octs = [k for k in keyset["keys"] if k.get("kty") == "oct"]
    if octs:
        (jwk,) = octs
        if group["comment"] == ALL_ZERO_KEY_GROUP:
            assert _oct_key(jwk) is None  # refused by SharedSecret hygiene (V21)
            key: VerificationKey | None = VerificationKey(
                kid=None, algorithm=ALGORITHMS[jwk["alg"]], key=b64url_decode(jwk["k"]), kty="oct"
            )
        else:
            key = _oct_key(jwk)
        assert key is not None
        return {jwk.get("kid"): key}
    first = keyset["keys"][0]
    rsa_alg = first.get("alg", "RS256") if first.get("kty") == "RSA" else "RS256"
    if rsa_alg not in ALGORITHMS:
        rsa_alg = "RS256"
    return dict(parse_jwks(keyset, rsa_algorithm=rsa_alg).keys)


JWS_CASES = list(_cases("json_web_signature_test.json"))
JWK_CASES = list(_cases("json_web_key_test.json"))


def test_vector_counts_are_the_published_ones() -> None:
    assert len(JWS_CASES) == 401
    assert len(JWK_CASES) == 26
    assert sum(1 for _ in _cases("ed25519_test.json")) == 151
    assert sum(1 for _ in _cases("ecdsa_secp256r1_sha256_p1363_test.json")) == 262


@pytest.mark.parametrize("case", JWS_CASES, ids=lambda c: f"tc{c.tc}-{c.test['comment']}")
def test_jws_vector(case: Case) -> None:
    verdict = _jose_verdict(case.test["jws"], _jws_keys(case.group))
    if case.tc in JWS_DIFFERENCES:
        assert verdict != case.expected_valid, f"listed difference no longer differs: tc {case.tc}"
    else:
        assert verdict == case.expected_valid


def test_jws_listed_differences_are_real_vectors_and_authbridge_is_stricter() -> None:
    by_tc = {c.tc: c for c in JWS_CASES}
    for tc in JWS_DIFFERENCES:
        # The mislabelled 367/370 are the only ones where Wycheproof says invalid.
        if tc in (367, 370):
            assert by_tc[tc].test["jws"] == by_tc[357].test["jws"]
            assert not by_tc[tc].expected_valid
        else:
            assert by_tc[
                tc
            ].expected_valid  # authbridge rejects a "valid" vector, never the reverse


def test_jws_all_zero_hmac_key_is_refused_as_a_shared_secret() -> None:
    (group,) = [c.group for c in JWS_CASES if c.group["comment"] == ALL_ZERO_KEY_GROUP][:1]
    with pytest.raises(ConfigError) as info:
        SharedSecret(b64url_decode(group["private"]["k"]))
    assert info.value.variable == "AUTHBRIDGE_JWT_SECRET"


def test_jws_json_serialization_is_rejected() -> None:
    serialized = [c for c in JWS_CASES if "JsonSerialization" in c.test["flags"]]
    assert serialized  # the file has them
    for case in serialized:
        assert not _jose_verdict(case.test["jws"], _jws_keys(case.group))


# --- JWK ----------------------------------------------------------------------------------


def _jwk_verdict_via_jwks(case: Case) -> bool:
    return _jose_verdict(case.test["jws"], dict(parse_jwks(_keyset(case.group)).keys))


@pytest.mark.parametrize("case", JWK_CASES, ids=lambda c: f"tc{c.tc}-{c.test['comment']}")
def test_jwk_vector_through_parse_jwks(case: Case) -> None:
    verdict = _jwk_verdict_via_jwks(case)
    if case.tc in JWK_DIFFERENCES:
        assert case.expected_valid
        assert not verdict
    else:
        assert verdict == case.expected_valid


def _oct_only(case: Case) -> bool:
    return all(k.get("kty") == "oct" for k in _keyset(case.group)["keys"])


@pytest.mark.parametrize(
    "case", [c for c in JWK_CASES if _oct_only(c)], ids=lambda c: f"tc{c.tc}-{c.test['comment']}"
)
def test_jwk_oct_keysets_through_shared_secret(case: Case) -> None:
    """The HS path: the key named by the token's kid, configured as the shared secret.

    A kid that names two keys is ambiguous and refused, as parse_jwks does (V26).
    """
    header = json.loads(b64url_decode(case.test["jws"].split(".")[0]))
    matching = [k for k in _keyset(case.group)["keys"] if k.get("kid") == header.get("kid")]
    keys: dict[str | None, VerificationKey] = {}
    if len(matching) == 1:
        key = _oct_key(matching[0])
        if key is not None:
            keys[header.get("kid")] = key
    assert _jose_verdict(case.test["jws"], keys) == case.expected_valid


def test_jwk_roca_key_is_refused_with_a_reason() -> None:
    (case,) = [c for c in JWK_CASES if c.test["comment"] == "rejectsKeyWithRocaVulnerability"]
    parsed = parse_jwks(_keyset(case.group))
    assert not parsed.keys
    assert "ROCA" in parsed.problems[0].reason


def test_jwk_mixed_keyset_keeps_the_asymmetric_key_but_never_the_oct_one() -> None:
    """Wycheproof wants the whole mixed set refused; authbridge drops only the oct key (V32).

    The HS256 token still fails, which is what the vector checks.
    """
    (case,) = [c for c in JWK_CASES if c.tc == 1]
    parsed = parse_jwks(_keyset(case.group))
    assert set(parsed.keys) == {"kid-ec-sign"}
    assert not case.expected_valid
    assert not _jwk_verdict_via_jwks(case)


# --- raw signatures -------------------------------------------------------------------------


def _ec_jwk(group: dict[str, Any]) -> dict[str, Any]:
    if "publicKeyJwk" in group:
        return dict(group["publicKeyJwk"])
    point = group["publicKey"]
    return {
        "kty": "EC",
        "crv": "P-256",
        "kid": "none",
        "x": b64url_encode(int(point["wx"], 16).to_bytes(32, "big")),
        "y": b64url_encode(int(point["wy"], 16).to_bytes(32, "big")),
    }


def _raw_verdict(case: Case, alg: str, jwk: dict[str, Any]) -> bool:
    try:
        key = parse_jwk(jwk)
    except KeyRejected:
        return False
    assert key.alg == alg
    message, signature = bytes.fromhex(case.test["msg"]), bytes.fromhex(case.test["sig"])
    return get_algorithm(alg).verify(key.key, message, signature)


@pytest.mark.parametrize(
    "case", list(_cases("ed25519_test.json")), ids=lambda c: f"tc{c.tc}-{c.test['comment']}"
)
def test_ed25519_vector(case: Case, ed25519_impl: str) -> None:
    assert _raw_verdict(case, "EdDSA", dict(case.group["publicKeyJwk"])) == case.expected_valid


@pytest.mark.parametrize(
    "case",
    list(_cases("ecdsa_secp256r1_sha256_p1363_test.json")),
    ids=lambda c: f"tc{c.tc}-{c.test['comment']}",
)
def test_es256_p1363_vector(case: Case) -> None:
    assert _raw_verdict(case, "ES256", _ec_jwk(case.group)) == case.expected_valid
