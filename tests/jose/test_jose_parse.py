"""Compact JWS parsing: fields, header rules, the header cache, payload decoding (V3–V19, V33)."""

from __future__ import annotations

import pytest

from authbridge.errors import TokenMalformed, TokenTooLarge
from authbridge.jose.b64 import b64url_encode
from authbridge.jose.parse import (
    HEADER_CACHE_SIZE,
    HeaderCache,
    HeaderRules,
    check_header,
    decode_payload,
    parse_compact,
)
from authbridge.jose.sign import sign_compact
from tokens import ba_claims, ed25519_key

KEY = ed25519_key("k1")


def test_fields() -> None:
    token = KEY.sign(ba_claims())
    jws = parse_compact(token, max_bytes=8192)
    head, payload, signature = token.split(".")
    assert (jws.alg, jws.kid) == ("EdDSA", "k1")
    assert jws.header == {"alg": "EdDSA", "kid": "k1"}
    assert jws.signing_input == f"{head}.{payload}".encode()
    assert jws.payload_segment == payload.encode()
    assert b64url_encode(jws.signature) == signature
    assert decode_payload(jws) == ba_claims()


def test_payload_is_not_decoded_by_parse() -> None:
    head = b64url_encode(b'{"alg":"EdDSA","kid":"k1"}')
    jws = parse_compact(f"{head}.AAAA.AAAA", max_bytes=8192)  # payload: 3 zero bytes
    with pytest.raises(TokenMalformed):
        decode_payload(jws)


def test_size_cap() -> None:
    with pytest.raises(TokenTooLarge):
        parse_compact("a.b." + "c" * 100, max_bytes=50)


def test_check_header_rules() -> None:
    rules = HeaderRules()
    assert check_header({"alg": "EdDSA"}, rules) == ("EdDSA", None)
    assert check_header({"alg": "EdDSA", "kid": "k", "typ": "JWT"}, rules) == ("EdDSA", "k")
    for header in (
        {"alg": "EdDSA", "kid": None},
        {"alg": "EdDSA", "typ": None},
        {"alg": "EdDSA", "kid": "k" * 257},
        {"alg": "EdDSA", "x": 1},
        {"alg": ""},
        {},
    ):
        with pytest.raises(TokenMalformed):
            check_header(header, rules)
    assert check_header({"alg": "EdDSA", "kid": "k" * 8}, HeaderRules(max_kid_length=8))[1]
    with pytest.raises(TokenMalformed):
        check_header({"alg": "EdDSA", "kid": "k" * 9}, HeaderRules(max_kid_length=8))


def test_header_cache_remembers_only_headers_that_passed_and_stays_bounded() -> None:
    cache: HeaderCache = {}
    token = KEY.sign(ba_claims())
    parse_compact(token, max_bytes=8192, header_cache=cache)
    assert list(cache) == [token.split(".")[0].encode()]
    bad = sign_compact(ba_claims(), KEY.private, "EdDSA", kid="k1", header={"jku": "x"})
    for _ in range(2):
        with pytest.raises(TokenMalformed):
            parse_compact(bad, max_bytes=8192, header_cache=cache)
    assert len(cache) == 1
    for n in range(HEADER_CACHE_SIZE + 5):
        parse_compact(
            KEY.sign(ba_claims(), typ="JWT")
            if n == 0
            else sign_compact(ba_claims(), KEY.private, "EdDSA", kid=f"k{n}"),
            max_bytes=8192,
            header_cache=cache,
        )
    assert len(cache) <= HEADER_CACHE_SIZE


def test_a_cached_header_still_needs_a_canonical_signature() -> None:
    cache: HeaderCache = {}
    token = KEY.sign(ba_claims())
    parse_compact(token, max_bytes=8192, header_cache=cache)
    with pytest.raises(TokenMalformed):
        parse_compact(token + "==", max_bytes=8192, header_cache=cache)
