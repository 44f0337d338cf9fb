"""Coverage-guided fuzzing of the token path with Atheris (libFuzzer), outside pytest.

    uv run --with atheris python tests/security/fuzz_parser.py -max_total_time=60

Atheris is not a project dependency (``uv run --with`` fetches it for the run). Each input is
used three ways: as raw bytes for the strict JSON and base64url decoders, as a token string
for the full verifier, and as edits applied to a genuine token. Invariants: only
``AuthError`` (or ``ValueError`` from the decoders) is ever raised, and nothing but the
genuine token verifies. A crash is written by libFuzzer as ``crash-<sha1>`` in the working
directory; replay it with ``python tests/security/fuzz_parser.py crash-<sha1>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import atheris

from authbridge.verifier import TrustedIssuer

with atheris.instrument_imports():
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from authbridge import StaticJWKS, Verifier
    from authbridge.errors import AuthError
    from authbridge.jose.b64 import b64url_decode, b64url_encode
    from authbridge.jose.parse import parse_compact
    from authbridge.jose.sign import sign_compact
    from authbridge.jose.strict_json import loads_object

ISSUER = "https://auth.example.com"
NOW = 1_800_000_000.0
_KEY = ed25519.Ed25519PrivateKey.generate()
_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "alg": "EdDSA",
    "kid": "k1",
    "x": b64url_encode(_KEY.public_key().public_bytes_raw()),
}
_CLAIMS = {"sub": "u1", "iat": int(NOW), "exp": int(NOW) + 900, "iss": ISSUER, "aud": ISSUER}
GENUINE = sign_compact(_CLAIMS, _KEY, "EdDSA", kid="k1")
_LOOP = asyncio.new_event_loop()


def _verifier() -> Verifier:
    # A fresh verifier per input: its token cache must not carry state between inputs.
    return Verifier(
        TrustedIssuer.create(StaticJWKS({"keys": [_JWK]}), issuer=ISSUER, audience=ISSUER),
        clock=lambda: NOW,
    )


def _check_token(token: str) -> None:
    with contextlib.suppress(AuthError):
        parse_compact(token, max_bytes=8192)
    try:
        principal = _LOOP.run_until_complete(_verifier().verify(token))
    except AuthError:
        return
    if token != GENUINE:
        raise AssertionError(f"accepted a token that is not the genuine one: {principal.sub!r}")


def _mutate(provider: atheris.FuzzedDataProvider) -> str:
    chars = list(GENUINE)
    for _ in range(provider.ConsumeIntInRange(1, 8)):
        if not chars:
            break
        index = provider.ConsumeIntInRange(0, len(chars) - 1)
        op = provider.ConsumeIntInRange(0, 2)
        char = chr(provider.ConsumeIntInRange(0x20, 0x7E))
        if op == 0:
            chars[index] = char
        elif op == 1:
            chars.insert(index, char)
        else:
            del chars[index]
    return "".join(chars)


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        loads_object(data)
    try:
        decoded = b64url_decode(data)
    except ValueError:
        pass
    else:
        if b64url_encode(decoded).encode() != data:
            raise AssertionError("a non-canonical base64url spelling was accepted")
    provider = atheris.FuzzedDataProvider(data)
    _check_token(data.decode("latin-1"))
    _check_token(_mutate(provider))


def main() -> None:
    started = time.monotonic()
    assert _LOOP.run_until_complete(_verifier().verify(GENUINE)).sub == "u1"
    atheris.Setup(sys.argv, test_one_input)
    try:
        atheris.Fuzz()
    finally:
        print(f"fuzzed for {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
