"""Checklist B (V9–V20): the header and the algorithm, chosen by configuration and keys."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from checklist_support import (
    HS_AUDIENCE,
    HS_ISSUER,
    hs_verifier,
    jwks_verifier,
    key_material,
    rejects,
    two_path_verifier,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed448, x25519

from authbridge import SharedSecret, StaticJWKS, TrustedIssuer, Verifier
from authbridge.errors import (
    AlgorithmNotAllowed,
    ConfigError,
    InvalidIssuer,
    InvalidSignature,
    TokenMalformed,
    UnknownKey,
)
from authbridge.jose.b64 import b64url_encode
from authbridge.jose.parse import HeaderRules
from authbridge.jose.sign import sign_compact
from authbridge.keys.jwk import parse_jwks
from authbridge.verifier import TokenPolicy
from tokens import (
    AUDIENCE,
    ISSUER,
    FixedClock,
    ba_claims,
    dumps,
    ec_key,
    ed25519_key,
    hs_secret,
    jwks,
    rsa_key,
    sign_raw,
)

ED = ed25519_key("ed-1")
EC = ec_key("ec-1")
RSA = rsa_key("rsa-1")
VERIFIER = jwks_verifier(ED, EC, RSA)
CLAIMS = dumps(ba_claims())


def _signed_with_header(header: dict[str, Any], key: Any = ED.private, alg: str = "EdDSA") -> str:
    return sign_raw(dumps(header), CLAIMS, key, alg)


async def test_each_key_type_verifies_with_its_own_alg() -> None:
    for key in (ED, EC, RSA):
        assert (await VERIFIER.verify(key.sign(ba_claims()))).issuer == ISSUER


# --- V9 allow-list, exact and case-sensitive; alg bound to the key -------------------------


@pytest.mark.parametrize("alg", ["eddsa", "EDDSA", "EdDsa", "EdDSA ", " EdDSA", "Ed-DSA", "es256"])
async def test_v09_allow_list_is_exact_and_case_sensitive(alg: str) -> None:
    token = _signed_with_header({"alg": alg, "kid": ED.kid})
    await rejects(VERIFIER, token, AlgorithmNotAllowed)


async def test_v09_alg_bound_to_key() -> None:
    # The EC key's kid with alg EdDSA, signed by the Ed25519 key.
    await rejects(
        VERIFIER, _signed_with_header({"alg": "EdDSA", "kid": EC.kid}), AlgorithmNotAllowed
    )
    # A genuinely valid PS256 signature by the RSA key, but the key is bound to RS256.
    token = sign_compact(ba_claims(), RSA.private, "PS256", kid=RSA.kid)
    await rejects(VERIFIER, token, AlgorithmNotAllowed)


async def test_v09_alg_bound_to_key_even_without_a_stated_alg() -> None:
    # Better Auth's pre-1.7 JWKS rows carry no alg: the binding comes from kty/crv.
    bare = {k: v for k, v in RSA.jwk.items() if k != "alg"}
    verifier = Verifier(
        TrustedIssuer.create(StaticJWKS({"keys": [bare]}), issuer=ISSUER, audience=AUDIENCE),
        clock=FixedClock(),
    )
    assert (await verifier.verify(RSA.sign(ba_claims()))).sub
    await rejects(
        verifier, sign_compact(ba_claims(), RSA.private, "PS256", kid=RSA.kid), AlgorithmNotAllowed
    )


async def test_v09_the_application_allow_list_wins_over_the_keys() -> None:
    only_es256 = jwks_verifier(ED, EC, algorithms=["ES256"])
    assert (await only_es256.verify(EC.sign(ba_claims()))).sub
    await rejects(only_es256, ED.sign(ba_claims()), AlgorithmNotAllowed)


def test_v09_configured_names_are_case_sensitive() -> None:
    with pytest.raises(ConfigError) as info:
        jwks_verifier(ED, algorithms=["eddsa"])
    assert info.value.variable == "AUTHBRIDGE_ALGORITHMS"


# --- V10 none --------------------------------------------------------------------------------


_NONE_HEADERS: list[dict[str, Any]] = [
    {"alg": "none", "kid": ED.kid},
    {"alg": "None", "kid": ED.kid},
    {"alg": "NONE", "kid": ED.kid},
    {"alg": "nOnE", "kid": ED.kid},
    {"alg": "", "kid": ED.kid},
    {"kid": ED.kid},
    {"alg": None, "kid": ED.kid},
    {"alg": ["EdDSA"], "kid": ED.kid},
    {"alg": {"name": "EdDSA"}, "kid": ED.kid},
    {"alg": 0, "kid": ED.kid},
]


@pytest.mark.parametrize("header", _NONE_HEADERS, ids=lambda h: repr(h.get("alg", "missing")))
@pytest.mark.parametrize("signature", ["", "AAAA", "valid"])
async def test_v10_none_is_never_accepted(header: dict[str, Any], signature: str) -> None:
    secret = hs_secret()
    h = b64url_encode(dumps(header))
    p = b64url_encode(CLAIMS)
    if signature == "valid":
        signature = _signed_with_header(header).rsplit(".", 1)[1]
    token = f"{h}.{p}.{signature}"
    for verifier in (VERIFIER, two_path_verifier(ED, secret)):
        error = await rejects(verifier, token, (TokenMalformed, AlgorithmNotAllowed))
        assert error.code in ("token_malformed", "algorithm_not_allowed")


# --- V11 the HS path and the JWKS path never share key material -----------------------------


def _public_key_spellings() -> dict[str, bytes]:
    raw = ED.private.public_key().public_bytes_raw()
    pem = RSA.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "ed25519-raw": raw,
        "ed25519-x": ED.jwk["x"].encode(),
        "ed25519-jwk-json": dumps(ED.jwk),
        "jwks-json": dumps(jwks(ED, EC, RSA)),
        "rsa-pem": pem,
        "rsa-n": RSA.jwk["n"].encode(),
    }


@pytest.mark.parametrize("spelling", sorted(_public_key_spellings()))
async def test_v11_hs256_signed_with_the_jwks_public_key_never_verifies(spelling: str) -> None:
    material = _public_key_spellings()[spelling]
    for kid in (ED.kid, RSA.kid, None):
        for issuer, audience in ((ISSUER, AUDIENCE), (HS_ISSUER, HS_AUDIENCE)):
            claims = ba_claims(issuer=issuer, audience=audience)
            token = sign_compact(claims, material, "HS256", kid=kid)
            # JWKS path alone: HS256 is not on its allow-list at all.
            await rejects(VERIFIER, token, AlgorithmNotAllowed, key_material(ED, RSA))
            # Both paths: HS256 goes to the shared secret only, never to the JWKS keys.
            both = two_path_verifier(ED, hs_secret())
            await rejects(both, token, InvalidSignature, key_material(ED, RSA))


async def test_v11_each_path_accepts_only_its_own_tokens() -> None:
    secret = hs_secret()
    both = two_path_verifier(ED, secret)
    hs_token = sign_compact(
        ba_claims(issuer=HS_ISSUER, audience=HS_AUDIENCE), secret.encode(), "HS256"
    )
    assert (await both.verify(hs_token)).issuer == HS_ISSUER
    assert (await both.verify(ED.sign(ba_claims()))).issuer == ISSUER
    # Each path's iss/aud are its own: Better Auth's iss on the HS path is refused.
    wrong = sign_compact(ba_claims(), secret.encode(), "HS256")
    await rejects(both, wrong, InvalidIssuer)
    await rejects(hs_verifier(secret), ED.sign(ba_claims()), AlgorithmNotAllowed)


def test_v11_a_path_cannot_mix_key_kinds() -> None:
    with pytest.raises(ConfigError):
        TrustedIssuer.create(
            StaticJWKS(jwks(ED)), issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"]
        )
    with pytest.raises(ConfigError):
        TrustedIssuer.create(
            SharedSecret(hs_secret()), issuer=ISSUER, audience=AUDIENCE, algorithms=["EdDSA"]
        )
    with pytest.raises(ConfigError):
        SharedSecret(hs_secret(), algorithms=["EdDSA"])


# --- V12–V14, V17–V19 header members that change processing or name keys ---------------------


def _header(**extra: Any) -> dict[str, Any]:
    return {"alg": "EdDSA", "kid": ED.kid, **extra}


_REJECTED_HEADERS: dict[str, dict[str, Any]] = {
    "v12-crit-exp": _header(crit=["exp"]),
    "v12-crit-empty": _header(crit=[]),
    "v12-crit-string": _header(crit="exp"),
    "v12-crit-non-string": _header(crit=[1]),
    "v12-crit-registered": _header(crit=["alg"]),
    "v12-crit-b64": _header(crit=["b64"], b64=True),
    "v13-b64-false": _header(crit=["b64"], b64=False),
    "v13-b64-false-no-crit": _header(b64=False),
    "v17-cty-jwt": _header(cty="JWT"),
    "v17-cty-json": _header(cty="json"),
    "v18-unknown": _header(foo="bar"),
    "v18-url": _header(url="https://auth.example.com"),
    "v18-nonce": _header(nonce="n"),
    "v18-iss-in-header": _header(iss=ISSUER),
    "v19-enc": _header(enc="A256GCM"),
    "v19-zip": _header(zip="DEF"),
    "v19-p2c": _header(p2c=10_000_000, p2s="c2FsdA"),
    "v19-epk": _header(epk={"kty": "EC"}),
    "v14-x5t": _header(**{"x5t": "AAAA"}),
    "v14-x5t-s256": _header(**{"x5t#S256": "AAAA"}),
}


async def _rejected(prefix: str) -> None:
    names = [n for n in _REJECTED_HEADERS if n.startswith(prefix)]
    assert names
    for name in names:
        token = _signed_with_header(_REJECTED_HEADERS[name])
        error = await rejects(VERIFIER, token, TokenMalformed, key_material(ED))
        if name == "v19-enc":
            assert "JWE" in error.message


async def test_v12_crit_is_rejected() -> None:
    await _rejected("v12-")


async def test_v13_b64_false_is_rejected() -> None:
    await _rejected("v13-")


async def test_v14_certificate_thumbprints_are_rejected() -> None:
    await _rejected("v14-")


async def test_v17_cty_is_rejected() -> None:
    await _rejected("v17-")


async def test_v18_unknown_header_params_are_rejected() -> None:
    await _rejected("v18-")


async def test_v19_jwe_zip_p2c_members_are_rejected() -> None:
    await _rejected("v19-")


async def test_v18_an_application_may_allow_an_extra_member_deliberately() -> None:
    rules = HeaderRules(allowed_params=frozenset({"alg", "kid", "typ", "x-tenant"}))
    verifier = jwks_verifier(ED, policy=TokenPolicy(header_rules=rules))
    token = _signed_with_header(_header(**{"x-tenant": "acme"}))
    assert (await verifier.verify(token)).sub


# --- V14 jku / x5u / jwk / x5c: never fetched, never trusted ----------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.3)
    yield server
    server.close()


def _no_connection_arrived(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except TimeoutError:
        return True
    connection.close()
    return False


async def test_v14_key_references_are_rejected_and_never_fetched(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    url = f"http://127.0.0.1:{port}/jwks"
    attacker = ed25519_key("ed-1")  # same kid as the real key, different key
    headers = {
        "jku": _header(jku=url),
        "x5u": _header(x5u=url),
        "jwk": _header(jwk={k: v for k, v in attacker.jwk.items() if k != "alg"}),
        "x5c": _header(x5c=["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
    }
    for name, header in headers.items():
        token = _signed_with_header(header, attacker.private)
        error = await rejects(VERIFIER, token, TokenMalformed, key_material(ED, attacker))
        assert "key references" in error.message, name
    assert _no_connection_arrived(listener)


# --- V15 kid ---------------------------------------------------------------------------------


async def test_v15_kid_required_on_the_jwks_path() -> None:
    token = sign_compact(ba_claims(), ED.private, "EdDSA")
    await rejects(VERIFIER, token, UnknownKey)


@pytest.mark.parametrize(
    "kid",
    [123, 1.5, True, None, ["ed-1"], {"kid": "ed-1"}, "", "k" * 257],
    ids=["int", "float", "bool", "null", "list", "object", "empty", "too-long"],
)
async def test_v15_kid_must_be_a_short_string(kid: Any) -> None:
    await rejects(VERIFIER, _signed_with_header({"alg": "EdDSA", "kid": kid}), TokenMalformed)


@pytest.mark.parametrize(
    "kid", ["k" * 256, "../../etc/passwd", "ed-1' OR '1'='1", "ED-1", "ed-1 ", "ed-1\u200b", "*"]
)
async def test_v15_kid_is_an_exact_match_lookup(kid: str) -> None:
    await rejects(VERIFIER, _signed_with_header({"alg": "EdDSA", "kid": kid}), UnknownKey)


async def test_v15_another_keys_kid_does_not_help() -> None:
    other = ed25519_key("ed-2")
    verifier = jwks_verifier(ED, other)
    token = _signed_with_header({"alg": "EdDSA", "kid": other.kid})  # signed by ED
    await rejects(verifier, token, InvalidSignature)


async def test_v15_hs_path_kid_is_optional_or_must_match_a_configured_one() -> None:
    secret = hs_secret()
    claims = ba_claims(issuer=HS_ISSUER, audience=HS_AUDIENCE)
    plain = hs_verifier(secret)
    assert (await plain.verify(sign_compact(claims, secret.encode(), "HS256"))).sub
    assert (await plain.verify(sign_compact(claims, secret.encode(), "HS256", kid="any"))).sub
    named = Verifier(
        TrustedIssuer.create(
            SharedSecret(secret, kid="svc-1"), issuer=HS_ISSUER, audience=HS_AUDIENCE
        ),
        clock=FixedClock(),
    )
    assert (await named.verify(sign_compact(claims, secret.encode(), "HS256", kid="svc-1"))).sub
    assert (await named.verify(sign_compact(claims, secret.encode(), "HS256"))).sub
    await rejects(named, sign_compact(claims, secret.encode(), "HS256", kid="svc-2"), UnknownKey)


# --- V16 typ ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "jwt", "Jwt"])
async def test_v16_typ_jwt_is_accepted_in_any_case(typ: str) -> None:
    assert (await VERIFIER.verify(ED.sign(ba_claims(), typ=typ))).sub


async def test_v16_typ_absent_is_accepted() -> None:
    token = ED.sign(ba_claims())
    assert '"typ"' not in _decoded_header(token)
    assert (await VERIFIER.verify(token)).sub


@pytest.mark.parametrize(
    "typ",
    ["at+jwt", "better-auth.session-cache+jwt", "secevent+jwt", "JOSE", "JWS", "jwt ", "", None, 1],
)
async def test_v16_other_types_are_rejected(typ: Any) -> None:
    await rejects(VERIFIER, _signed_with_header(_header(typ=typ)), TokenMalformed)


async def test_v16_a_deployment_may_configure_its_own_type() -> None:
    rules = HeaderRules(accepted_types=frozenset({"jwt", "at+jwt"}))
    verifier = jwks_verifier(ED, policy=TokenPolicy(header_rules=rules))
    assert (await verifier.verify(ED.sign(ba_claims(), typ="at+JWT"))).sub
    await rejects(verifier, ED.sign(ba_claims(), typ="secevent+jwt"), TokenMalformed)


def _decoded_header(token: str) -> str:
    segment = token.split(".")[0]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()


# --- V20 EdDSA means Ed25519 only -----------------------------------------------------------


def _okp_jwk(crv: str, raw: bytes, kid: str, alg: str | None = "EdDSA") -> dict[str, Any]:
    jwk = {"kty": "OKP", "crv": crv, "x": b64url_encode(raw), "kid": kid}
    if alg is not None:
        jwk["alg"] = alg
    return jwk


def test_v20_ed448_keys_are_refused() -> None:
    raw = ed448.Ed448PrivateKey.generate().public_key().public_bytes_raw()
    for alg in ("EdDSA", "Ed448", None):
        parsed = parse_jwks({"keys": [_okp_jwk("Ed448", raw, "ed448", alg)]})
        assert not parsed.keys
        assert "Ed25519" in parsed.problems[0].reason


def test_v20_x25519_keys_are_refused() -> None:
    raw = x25519.X25519PrivateKey.generate().public_key().public_bytes_raw()
    parsed = parse_jwks({"keys": [_okp_jwk("X25519", raw, "x", None)]})
    assert not parsed.keys


async def test_v20_fully_specified_ed25519_alg_policy() -> None:
    """Policy (documented): RFC 9864's fully-specified ``Ed25519`` is not accepted yet.

    Better Auth signs with ``EdDSA``; PyJWT 2.15 implements only ``EdDSA``. A token whose
    header says ``Ed25519`` is refused (the name is not on the allow-list), and so is a JWK
    that states ``alg: Ed25519``. Accepting it later is a deliberate, tested change.
    """
    token = _signed_with_header({"alg": "Ed25519", "kid": ED.kid})
    await rejects(VERIFIER, token, AlgorithmNotAllowed)
    raw = ED.private.public_key().public_bytes_raw()
    parsed = parse_jwks({"keys": [_okp_jwk("Ed25519", raw, "fs", "Ed25519")]})
    assert not parsed.keys
    with pytest.raises(ConfigError):
        jwks_verifier(ED, algorithms=["Ed25519"])
