"""Attack corpus, header and encoding: key references that would be fetched (``jwk``, ``jku``,
``x5u``, ``x5c``), ``crit``/``b64``, JWE and 5-segment tokens with ``zip``/``p2c``, duplicate
JSON keys, UTF-16/UTF-32/BOM, ``kid`` injections, oversized tokens and headers.

Tokens are signed with the issuer's *real* key wherever possible, so the only thing wrong with
each is the one property under test.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from security_support import KeyRing, refused, trap_listeners

from authbridge import Verifier
from authbridge.errors import (
    AlgorithmNotAllowed,
    AuthError,
    InvalidClaims,
    TokenMalformed,
    TokenTooLarge,
    UnknownKey,
)
from authbridge.jose.b64 import b64url_encode
from authbridge.keys.remote import RemoteJWKS
from authbridge.verifier import TrustedIssuer
from keys.jwks_server import running_jwks_server
from tokens import AUDIENCE, ISSUER, FixedClock, ba_claims, dumps, ed25519_key, jwks, sign_raw


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing()


def _signed(ring: KeyRing, header: dict[str, Any], claims: dict[str, Any] | None = None) -> str:
    return sign_raw(dumps(header), dumps(claims or ba_claims()), ring.ed.private, "EdDSA")


# --- key references: never fetched, never trusted (V14) --------------------------------------


def _self_signed_certificate(key: Any) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, None)
    )
    return cert.public_bytes(serialization.Encoding.DER)


async def test_embedded_and_remote_key_references_are_refused_and_never_contacted(
    ring: KeyRing,
) -> None:
    """The attacker signs with their own key and points at it every way JOSE allows; the
    listeners named in ``jku``/``x5u`` (a real JWKS server serving the attacker's key, and raw
    TCP traps) must see no connection at all."""
    attacker = ed25519_key(ring.ed.kid)  # even the real kid
    certificate = base64.b64encode(_self_signed_certificate(attacker.private)).decode()
    thumb = b64url_encode(hashes.Hash(hashes.SHA256()).finalize())
    with running_jwks_server([]) as served, trap_listeners(2) as traps:
        served.document = jwks(attacker)
        urls = [served.url, traps[0].url + "/jwks.json", traps[1].url + "/cert.pem"]
        variants: list[dict[str, Any]] = [{"jwk": attacker.jwk}]
        variants += [{"jku": url} for url in urls] + [{"x5u": url} for url in urls]
        variants += [
            {"x5c": [certificate]},
            {"x5c": [certificate], "x5u": urls[2]},
            {"x5t#S256": thumb, "x5u": urls[2]},
            {"jwk": attacker.jwk, "jku": urls[0], "x5u": urls[1], "x5c": [certificate]},
        ]
        for extra in variants:
            for kid in (ring.ed.kid, "attacker-kid"):
                header = {"alg": "EdDSA", "kid": kid, **extra}
                token = sign_raw(dumps(header), dumps(ba_claims()), attacker.private, "EdDSA")
                for verifier in (ring.jwks_only(), ring.two_paths()):
                    error = await refused(verifier, token)
                    assert isinstance(error, TokenMalformed), (sorted(extra), error)
        await asyncio.sleep(0.2)  # a background fetch, if any, would have connected by now
        assert served.requests == 0
        assert [trap.connections for trap in traps] == [0, 0]


# --- crit, b64, JWE, zip, p2c (V12, V13, V17, V19) --------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["b64"], "b64": False},
        {"b64": False},
        {"crit": ["b64"], "b64": True},
        {"crit": ["exp"]},
        {"crit": []},
        {"crit": "b64"},
        {"crit": ["alg"]},
        {"crit": ["x-unknown"], "x-unknown": 1},
        {"cty": "JWT"},
        {"zip": "DEF"},
        {"enc": "A256GCM"},
        {"p2c": 2**31 - 1, "p2s": "c2FsdA"},
        {"epk": {"kty": "EC"}},
    ],
    ids=lambda extra: ",".join(f"{k}={v}" for k, v in extra.items()),
)
async def test_processing_members_are_refused_even_when_genuinely_signed(
    ring: KeyRing, extra: dict[str, Any]
) -> None:
    header = {"alg": "EdDSA", "kid": ring.ed.kid, **extra}
    error = await refused(ring.two_paths(), _signed(ring, header))
    assert isinstance(error, TokenMalformed)


async def test_b64_false_with_an_unencoded_payload_is_refused(ring: KeyRing) -> None:
    """RFC 7797: signing input is ``header.<raw payload>``; the token carries a detached or
    raw payload. Neither spelling verifies."""
    header = b64url_encode(
        dumps({"alg": "EdDSA", "kid": ring.ed.kid, "crit": ["b64"], "b64": False})
    )
    payload = dumps(ba_claims())
    signature = b64url_encode(ring.ed.private.sign(header.encode() + b"." + payload))
    for token in (f"{header}..{signature}", f"{header}.{payload.decode()}.{signature}"):
        error = await refused(ring.two_paths(), token)
        assert isinstance(error, TokenMalformed)


def _jwe(header: dict[str, Any]) -> str:
    parts = [b64url_encode(dumps(header))] + [b64url_encode(bytes([i]) * 16) for i in range(4)]
    return ".".join(parts)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "dir", "enc": "A256GCM"},
        {"alg": "dir", "enc": "A256GCM", "zip": "DEF"},
        {"alg": "PBES2-HS256+A128KW", "enc": "A128GCM", "p2c": 2**31 - 1, "p2s": "c2FsdHNhbHQ"},
        {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "ed-1"},
        {"alg": "ECDH-ES", "enc": "A256GCM", "epk": {"kty": "OKP", "crv": "X25519", "x": "AA"}},
        {"alg": "EdDSA", "kid": "ed-1"},
    ],
    ids=lambda h: h["alg"] + ("+zip" if "zip" in h else ""),
)
async def test_jwe_and_five_segment_tokens_are_refused_without_work(
    ring: KeyRing, header: dict[str, Any]
) -> None:
    """A 2**31 PBES2 iteration count would take minutes to honour; refusal is immediate."""
    started = time.perf_counter()
    for token in (_jwe(header), _jwe(header) + ".AAAA", ".".join(_jwe(header).split(".")[:4])):
        error = await refused(ring.two_paths(), token)
        assert isinstance(error, TokenMalformed)
    assert time.perf_counter() - started < 0.5


# --- JSON: duplicates and encodings (V6, V7) -------------------------------------------------


async def test_duplicate_members_are_refused(ring: KeyRing) -> None:
    kid = ring.ed.kid
    good = dumps(ba_claims())[1:-1].decode()
    cases = [
        (f'{{"alg":"none","alg":"EdDSA","kid":"{kid}"}}', dumps(ba_claims()).decode()),
        (f'{{"alg":"EdDSA","kid":"nope","kid":"{kid}"}}', dumps(ba_claims()).decode()),
        (f'{{"alg":"EdDSA","kid":"{kid}"}}', '{"sub":"admin",' + good + "}"),
        (f'{{"alg":"EdDSA","kid":"{kid}"}}', "{" + good + ',"sub":"admin"}'),
        (f'{{"alg":"EdDSA","kid":"{kid}"}}', "{" + good + ',"exp":99999999999}'),
        (f'{{"alg":"EdDSA","kid":"{kid}"}}', "{" + good + ',"role":"user","role":"admin"}'),
        (f'{{"alg":"EdDSA","kid":"{kid}"}}', "{" + good + ',"x":{"a":1,"a":2}}'),
    ]
    for header, payload in cases:
        token = sign_raw(header.encode(), payload.encode(), ring.ed.private, "EdDSA")
        error = await refused(ring.two_paths(), token)
        assert isinstance(error, TokenMalformed)


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16"),
        lambda text: text.encode("utf-16-le"),
        lambda text: text.encode("utf-16-be"),
        lambda text: text.encode("utf-32"),
        lambda text: b"\xef\xbb\xbf" + text.encode(),
        lambda text: b"\xfe\xff" + text.encode("utf-16-be"),
        lambda text: text.encode("utf-8") + b"\x00",
        lambda text: text.encode("latin-1", "replace") + b"\xe9",
    ],
    ids=["utf16-bom", "utf16le", "utf16be", "utf32", "utf8-bom", "be-bom", "nul", "latin1"],
)
@pytest.mark.parametrize("where", ["header", "payload"])
async def test_non_utf8_and_bom_encodings_are_refused(
    ring: KeyRing, encode: Any, where: str
) -> None:
    header = dumps({"alg": "EdDSA", "kid": ring.ed.kid}).decode()
    payload = dumps(ba_claims()).decode()
    header_bytes = encode(header) if where == "header" else header.encode()
    payload_bytes = encode(payload) if where == "payload" else payload.encode()
    token = sign_raw(header_bytes, payload_bytes, ring.ed.private, "EdDSA")
    error = await refused(ring.two_paths(), token)
    assert isinstance(error, TokenMalformed)


# --- kid injections (V15) ---------------------------------------------------------------------

KID_INJECTIONS: list[Any] = [
    "../../../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "/dev/zero",
    "file:///etc/passwd",
    "http://127.0.0.1:1/key",
    "' OR '1'='1",
    "ed-1' UNION SELECT 'secret' --",
    "1; DROP TABLE jwks;--",
    "$(touch /tmp/pwned)",
    "`id`",
    "| cat /etc/passwd",
    "ed-1\r\nX-Injected: 1",
    "ed-1\nfake log line",
    "ed-1\x00",
    "\u202eed-1",
    "ed-1 ",
    "ED-1",
    "k" * 257,
    "k" * 5000,
    "",
    1,
    1.5,
    True,
    None,
    ["ed-1"],
    {"kid": "ed-1"},
]


@pytest.mark.parametrize("kid", KID_INJECTIONS, ids=lambda k: repr(k)[:40])
async def test_kid_injections_are_refused(ring: KeyRing, kid: Any) -> None:
    """Signed by the real key, so only the kid is wrong: it is an exact-match lookup, never a
    path, query or command; a near-miss of the real kid is as unknown as any other."""
    error = await refused(ring.two_paths(), _signed(ring, {"alg": "EdDSA", "kid": kid}))
    assert isinstance(error, TokenMalformed | UnknownKey | TokenTooLarge)


async def test_kid_injections_against_a_remote_jwks_never_reach_the_network(ring: KeyRing) -> None:
    with running_jwks_server() as server:
        server.document = jwks(ring.ed)
        verifier = Verifier(
            TrustedIssuer.create(
                RemoteJWKS(server.url, cooldown=3600), issuer=ISSUER, audience=AUDIENCE
            ),
            clock=FixedClock(),
        )
        try:
            assert await verifier.verify(ring.ed.sign(ba_claims()))
            for kid in KID_INJECTIONS:
                await refused(verifier, _signed(ring, {"alg": "EdDSA", "kid": kid}))
        finally:
            await verifier.aclose()
        # One startup fetch and at most one unknown-kid refetch; the URL never changed.
        assert server.requests <= 2
        assert set(server.paths) == {server.path}


# --- size (V3) ----------------------------------------------------------------------------


async def test_oversized_tokens_are_refused_quickly(ring: KeyRing) -> None:
    verifier = ring.two_paths()
    genuine = ring.ed.sign(ba_claims())
    huge_claims = ring.ed.sign(ba_claims(image="https://x.example/" + "a" * 9000))
    huge_header = _signed(ring, {"alg": "EdDSA", "kid": ring.ed.kid, "typ": "JWT" + " " * 9000})
    many_members = _signed(
        ring, {"alg": "EdDSA", "kid": ring.ed.kid, **{f"m{i}": i for i in range(900)}}
    )
    cases = {
        "8 KiB + 1": genuine + "A" * (8193 - len(genuine)),
        "bloated claims": huge_claims,
        "bloated header": huge_header,
        "900 header members": many_members,
        "1 MiB": "eyJ" + "A" * (1 << 20),
        "16 MiB of dots": "." * (16 << 20),
        "10 MiB token": genuine[:20] + "A" * (10 << 20) + "." + "A" * 10 + "." + "A" * 10,
    }
    for name, token in cases.items():
        started = time.perf_counter()
        error = await refused(verifier, token)
        assert isinstance(error, TokenTooLarge | TokenMalformed), name
        assert time.perf_counter() - started < 0.5, name


async def test_deeply_nested_json_under_the_cap_is_refused_not_a_crash(ring: KeyRing) -> None:
    for nested in ("[" * 3000 + "]" * 3000, '{"a":' * 1500 + "1" + "}" * 1500):
        payload = '{"sub":"x","n":' + nested + "}"
        token = sign_raw(
            dumps({"alg": "EdDSA", "kid": ring.ed.kid}), payload.encode(), ring.ed.private, "EdDSA"
        )
        error = await refused(ring.two_paths(), token)
        assert isinstance(error, AuthError)
        assert isinstance(
            error, TokenMalformed | TokenTooLarge | InvalidClaims | AlgorithmNotAllowed
        )
