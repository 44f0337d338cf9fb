"""Micro-benchmark of the peers: µs per verification of the same EdDSA token, in process.

Runs in the benchmark's own environment (the peers are not project dependencies):
``bench/http_peers.py`` calls it with ``.venv-bench-peers/bin/python``; by hand:

    .venv-bench-peers/bin/python bench/verify_peers.py [--quick] [--json out.json]

Every verifier fetches the same JWKS from ``FakeIssuer``'s loopback server once, then
verifies either one token over and over (*repeated*) or a new token on each call (*fresh*:
a pool of distinct tokens per round, each verified once by each verifier). The floor is the
raw Ed25519 verify of the same signature with ``cryptography`` (OpenSSL), which every peer
uses. authbridge uses libsodium (its ``nacl`` extra, installed here), so the raw libsodium
verify is beside it, and one more authbridge row forces OpenSSL. Rounds are interleaved in a
shuffled order and each figure is the best round. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cryptography
import fastapi_better_auth
import fastapi_betterauth
import jwt as pyjwt
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet

from apps.raw_verify import raw_ed25519_check
from authbridge import RemoteJWKS, Verifier
from authbridge.jose.algorithms import use_ed25519_backend
from authbridge.jose.b64 import b64url_decode
from authbridge.testing import FakeIssuer
from authbridge.verifier import TrustedIssuer

Check = Callable[[str], Awaitable[Any]]


OPENSSL_ROW = "authbridge, OpenSSL (without the nacl extra)"


def verifiers(issuer: FakeIssuer, jwks_url: str) -> dict[str, Check]:
    """Each library's verification of one token, configured as the HTTP benchmark's apps."""
    origin = issuer.issuer
    bridge = Verifier(TrustedIssuer.create(RemoteJWKS(jwks_url), issuer=origin, audience=origin))
    jwt_verifier = fastapi_better_auth.JwtVerifier(base_url=origin)
    betterauth = fastapi_betterauth.BetterAuth(origin)
    jwks_client = pyjwt.PyJWKClient(jwks_url)
    import httpx

    keys = KeySet.import_key_set(httpx.get(jwks_url, timeout=10).json())
    registry = joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": origin},
        aud={"essential": True, "value": origin},
        exp={"essential": True},
        sub={"essential": True},
    )
    floor_key = issuer.signing_key().private.public_key()
    openssl_check = raw_ed25519_check(floor_key, "openssl")
    libsodium_check = raw_ed25519_check(floor_key, "libsodium")
    # Its own token cache, so that the other row's verified tokens are not hits here.
    bridge_openssl = Verifier(
        TrustedIssuer.create(RemoteJWKS(jwks_url), issuer=origin, audience=origin)
    )

    async def authbridge(token: str) -> Any:
        return await bridge.verify(token)

    async def authbridge_openssl(token: str) -> Any:
        return await bridge_openssl.verify(token)

    async def better_auth_bridge(token: str) -> Any:
        return await jwt_verifier.verify(token, fastapi_better_auth.User)

    async def fastapi_betterauth_(token: str) -> Any:
        return betterauth.fetch_token(token)  # the HTTP path adds run_in_threadpool

    async def joserfc_(token: str) -> Any:
        decoded = joserfc_jwt.decode(token, keys, algorithms=["EdDSA"])
        registry.validate(decoded.claims)
        return decoded

    async def pyjwk_client(token: str) -> Any:
        key = jwks_client.get_signing_key_from_jwt(token)
        return pyjwt.decode(token, key.key, algorithms=["EdDSA"], audience=origin, issuer=origin)

    def raw(check: Callable[[bytes, bytes], object]) -> Check:
        """The bare signature call on ``token``: the floor."""

        async def verify(token: str) -> Any:
            signing_input, _, signature = token.rpartition(".")
            return check(b64url_decode(signature), signing_input.encode())

        return verify

    return {
        "authbridge (Verifier.verify, token cache)": authbridge,
        OPENSSL_ROW: authbridge_openssl,
        "fastapi-better-auth-bridge (JwtVerifier.verify)": better_auth_bridge,
        "fastapi-betterauth (BetterAuth.fetch_token)": fastapi_betterauth_,
        "joserfc + cached KeySet": joserfc_,
        "PyJWT PyJWKClient (tutorial)": pyjwk_client,
        "raw Ed25519 verify (floor)": raw(openssl_check),
        "raw Ed25519 verify, libsodium": raw(libsodium_check),
    }


async def timed(check: Check, tokens: list[str]) -> float:
    """µs per call over ``tokens``, in order."""
    started = time.perf_counter()
    for token in tokens:
        await check(token)
    return (time.perf_counter() - started) / len(tokens) * 1e6


async def measure(issuer: FakeIssuer, jwks_url: str, rounds: int, calls: int) -> dict[str, Any]:
    checks = verifiers(issuer, jwks_url)
    repeated = issuer.token(sid="micro-repeated")
    for check in checks.values():  # fetch the JWKS, fail loudly if a call is broken
        await check(repeated)
    best: dict[str, dict[str, float]] = {n: {"repeated": 1e9, "fresh": 1e9} for n in checks}
    order = list(checks)
    shuffler = random.Random(0)
    serial = 0
    for _ in range(rounds):
        pool = []
        for _ in range(calls):
            serial += 1
            pool.append(issuer.token(sid=f"micro-fresh-{serial}"))
        shuffler.shuffle(order)
        for name in order:
            # authbridge's Ed25519 implementation is process-wide: set before the timing.
            use_ed25519_backend("openssl" if name == OPENSSL_ROW else None)
            best[name]["fresh"] = min(best[name]["fresh"], await timed(checks[name], pool))
            same = [repeated] * calls
            best[name]["repeated"] = min(best[name]["repeated"], await timed(checks[name], same))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (smoke)")
    parser.add_argument("--json", help="also write the figures (µs per call) to this file")
    args = parser.parse_args()
    rounds, calls = (3, 200) if args.quick else (9, 1500)
    warnings.simplefilter("ignore")  # joserfc warns that EdDSA is deprecated by RFC 9864
    issuer = FakeIssuer(None)
    jwks_url = issuer.start_server()
    try:
        best = asyncio.run(measure(issuer, jwks_url, rounds, calls))
    finally:
        issuer.stop_server()
    floor = best["raw Ed25519 verify (floor)"]
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, Python "
        f"{platform.python_version()}, cryptography {cryptography.__version__}, PyJWT "
        f"{pyjwt.__version__}; EdDSA, Better Auth's default payload; best of {rounds} "
        f"interleaved rounds of {calls} calls. *fresh*: a new token on every call.",
        "",
        "| verifier | repeated µs | ÷ raw | fresh µs | ÷ raw |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in best.items():
        lines.append(
            f"| {name} | {row['repeated']:.2f} | {row['repeated'] / floor['repeated']:.3f} "
            f"| {row['fresh']:.1f} | {row['fresh'] / floor['fresh']:.2f} |"
        )
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(best, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
