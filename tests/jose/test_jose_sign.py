"""sign_compact: Better Auth's header shape by default, and compact output."""

from __future__ import annotations

import json

from authbridge.jose.algorithms import get_algorithm
from authbridge.jose.b64 import b64url_decode
from authbridge.jose.parse import decode_payload, parse_compact
from authbridge.jose.sign import sign_compact
from tokens import ba_claims, ed25519_key

KEY = ed25519_key("k1")


def _header(token: str) -> bytes:
    return b64url_decode(token.split(".")[0])


def test_default_header_is_alg_and_kid_only() -> None:
    token = sign_compact(ba_claims(), KEY.private, "EdDSA", kid="k1")
    assert _header(token) == b'{"alg":"EdDSA","kid":"k1"}'
    assert _header(sign_compact({}, KEY.private, "EdDSA")) == b'{"alg":"EdDSA"}'


def test_extra_header_members_and_unicode_claims() -> None:
    token = sign_compact({"name": "Zoë"}, KEY.private, "EdDSA", kid="k1", header={"typ": "JWT"})
    assert json.loads(_header(token)) == {"alg": "EdDSA", "kid": "k1", "typ": "JWT"}
    jws = parse_compact(token, max_bytes=8192)
    assert decode_payload(jws) == {"name": "Zoë"}
    assert get_algorithm("EdDSA").verify(KEY.private.public_key(), jws.signing_input, jws.signature)
