"""Micro-benchmark: µs per verification, authbridge against its peers, in one process.

Absolute times on a shared 2-core machine are noisy, so every row is also given as a ratio
against PyJWT and against the raw primitive authbridge calls, measured in the same run: for
EdDSA that is libsodium (PyNaCl, the ``nacl`` extra), and a second EdDSA row forces OpenSSL
(``cryptography``), as authbridge verifies without PyNaCl.

    uv run python bench/verify.py [--quick] [--markdown bench/results/verify.md]

PyJWT and joserfc are handed the key here. The libraries a user would pick instead, configured
as users do (JWKS URL, their own caches), are measured by ``bench/verify_peers.py`` in the
benchmark's own environment (``make bench-peers``; they are not project dependencies).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import time
import timeit
import warnings
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import cryptography
import jwt as pyjwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet as JoseKeySet

from apps.raw_verify import raw_ed25519_check
from authbridge import SharedSecret, StaticJWKS, Verifier
from authbridge.cache import TokenCache
from authbridge.jose.algorithms import ed25519_backend, use_ed25519_backend
from authbridge.jose.b64 import b64url_decode, b64url_encode
from authbridge.jose.sign import sign_compact
from authbridge.verifier import TrustedIssuer

ISSUER = "http://127.0.0.1:3000"
ED25519_NAMES = {"libsodium": "libsodium", "openssl": "OpenSSL"}
SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


def better_auth_claims() -> dict[str, Any]:
    """The whole user object, as Better Auth's JWT plugin signs it by default."""
    now = int(time.time())
    return {
        "iat": now,
        "name": "Alice Example",
        "email": "alice@example.com",
        "emailVerified": True,
        "image": "https://avatars.example.com/u/4Q7E0WK3hahFb8V82Kc24DXzkfqD0LD7.png",
        "createdAt": "2026-11-27T09:15:25.300Z",
        "updatedAt": "2026-11-27T09:15:25.300Z",
        "id": "4Q7E0WK3hahFb8V82Kc24DXzkfqD0LD7",
        "sub": "4Q7E0WK3hahFb8V82Kc24DXzkfqD0LD7",
        "exp": now + 900,
        "iss": ISSUER,
        "aud": ISSUER,
    }


def public_jwk(alg: str, public: Any, kid: str) -> dict[str, Any]:
    if alg == "EdDSA":
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw), "alg": alg, "kid": kid}
    if alg == "ES256":
        nums = public.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(nums.x.to_bytes(32, "big")),
            "y": b64url_encode(nums.y.to_bytes(32, "big")),
            "alg": alg,
            "kid": kid,
        }
    nums = public.public_numbers()
    return {
        "kty": "RSA",
        "n": b64url_encode(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
        "e": b64url_encode(nums.e.to_bytes(3, "big")),
        "alg": alg,
        "kid": kid,
    }


def run_sync(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine that never suspends (keys are in memory) without an event loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("the verifier suspended: keys were not in memory")


def per_call_us(fns: dict[str, Callable[[], Any]], budget: float, rounds: int) -> dict[str, float]:
    """Best µs per call of each function, over ``rounds`` interleaved rounds.

    Short, interleaved rounds in a shuffled order give every function the same chance at the
    machine's quiet moments, so the ratios between them hold even when absolute times drift.
    """
    numbers = {}
    for name, fn in fns.items():
        fn()  # warm up, and fail loudly if the call is broken
        numbers[name] = max(10, int(budget / rounds / max(timeit.timeit(fn, number=5) / 5, 1e-7)))
    best = dict.fromkeys(fns, float("inf"))
    order = list(fns)
    shuffler = random.Random(0)
    for _ in range(rounds):
        shuffler.shuffle(order)  # so no function always follows a noisy one
        for name in order:
            elapsed = timeit.timeit(fns[name], number=numbers[name]) / numbers[name] * 1e6
            best[name] = min(best[name], elapsed)
    return best


# --- cold caches: each call after work that evicts what the call left in the CPU ------------

# A core's L2 on the machine measured (1 MiB): touching one byte per 64-byte line of it
# evicts most of what the previous call left in L1 and L2, about what a served request's
# other work (the kernel's socket calls, the event loop, the framework) does in between.
_EVICT_BYTES = 1 << 20
_evict_buffer = bytearray(_EVICT_BYTES)
_evict_zeros = bytes(len(_evict_buffer[::64]))
# Unrelated Python work, as a server does between two verifications (its event loop, HTTP
# parsing, routing, the response): other bytecode and other objects, so the interpreter's
# own code and data are not where the previous call left them either.
_evict_documents = [
    {"path": f"/r/{i}", "status": 200, "headers": ["x"] * (i % 7)} for i in range(10)
]


def evict_caches() -> None:
    _evict_buffer[::64] = _evict_zeros
    for document in _evict_documents:
        json.loads(json.dumps(document))


def cold_us(fns: dict[str, Callable[[], Any]], calls: int, rounds: int) -> dict[str, float]:
    """Median µs per call of each function when every call follows ``evict_caches``.

    A tight loop keeps the primitive's tables, the interpreter's code and branch history in
    the CPU's caches; a server verifying one fresh token per request does not (bench/http_bench's
    fresh-token rows). Only the call itself is timed, each separately (``perf_counter_ns``),
    and the median drops the calls another process interrupted.
    """
    samples: dict[str, list[int]] = {name: [] for name in fns}
    order = list(fns)
    shuffler = random.Random(1)
    for _ in range(rounds):
        shuffler.shuffle(order)
        for name in order:
            fn = fns[name]
            for _ in range(calls):
                evict_caches()
                started = time.perf_counter_ns()
                fn()
                samples[name].append(time.perf_counter_ns() - started)
    return {name: statistics.median(times) / 1000 for name, times in samples.items()}


def case(alg: str, budget: float, rounds: int, ed25519_impl: str | None = None) -> dict[str, float]:
    """One row. ``ed25519_impl`` forces authbridge's Ed25519 implementation (``libsodium`` or
    ``openssl``); the raw primitive is always the one authbridge then uses."""
    use_ed25519_backend(ed25519_impl)
    claims = better_auth_claims()
    kid = "KNg7F0P4m3Q41Mggh81MZUvWhtbHNKBD"
    if alg == "HS256":
        key: Any = SECRET.encode()
        token = sign_compact(claims, key, alg)
        source: Any = SharedSecret(SECRET)
        pyjwt_key: Any = SECRET
        jose_key: Any = joserfc_jwt_key_oct(SECRET)
        signing_input, _, sig = token.rpartition(".")
        signature = b64url_decode(sig)
        import hmac

        def raw() -> Any:
            return hmac.compare_digest(
                hmac.digest(key, signing_input.encode(), "sha256"), signature
            )
    else:
        if alg == "EdDSA":
            private: Any = ed25519.Ed25519PrivateKey.generate()
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = private.public_key()
        token = sign_compact(claims, private, alg, kid=kid)
        jwk = public_jwk(alg, public, kid)
        source = StaticJWKS({"keys": [jwk]})
        pyjwt_key = pyjwt.PyJWK(jwk).key
        jose_key = JoseKeySet.import_key_set({"keys": [jwk]})
        signing_input, _, sig = token.rpartition(".")
        message, signature = signing_input.encode(), b64url_decode(sig)
        raw = raw_primitive(alg, public, message, signature)

    miss = Verifier(
        TrustedIssuer.create(source, issuer=ISSUER, audience=ISSUER), cache=TokenCache(0)
    )
    hit = Verifier(TrustedIssuer.create(source, issuer=ISSUER, audience=ISSUER))
    run_sync(hit.verify(token))

    def with_pyjwt() -> Any:
        return pyjwt.decode(token, pyjwt_key, algorithms=[alg], audience=ISSUER, issuer=ISSUER)

    def with_joserfc() -> Any:
        tok = joserfc_jwt.decode(token, jose_key, algorithms=[alg])
        joserfc_jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": ISSUER}, aud={"essential": True, "value": ISSUER}
        ).validate(tok.claims)
        return tok

    measured = per_call_us(
        {
            "authbridge miss": lambda: run_sync(miss.verify(token)),
            "authbridge hit": lambda: run_sync(hit.verify(token)),
            "authbridge hit (sync)": lambda: hit.verify_cached(token),
            "PyJWT": with_pyjwt,
            "joserfc": with_joserfc,
            "raw primitive": raw,
        },
        budget,
        rounds,
    )
    cold = cold_us(
        {"authbridge miss": lambda: run_sync(miss.verify(token)), "raw primitive": raw},
        calls=max(20, int(budget * 200)),
        rounds=max(2, rounds // 4),
    )
    measured["authbridge miss (cold)"] = cold["authbridge miss"]
    measured["raw primitive (cold)"] = cold["raw primitive"]
    return measured


def _pynacl_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pynacl")
    except PackageNotFoundError:
        return "not installed"


def joserfc_jwt_key_oct(secret: str) -> Any:
    from joserfc.jwk import OctKey

    return OctKey.import_key(secret)


def raw_primitive(alg: str, public: Any, message: bytes, signature: bytes) -> Callable[[], Any]:
    if alg == "EdDSA":  # the implementation authbridge uses now
        check = raw_ed25519_check(public)
        return lambda: check(signature, message)
    if alg == "ES256":
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        return lambda: public.verify(der, message, ec.ECDSA(hashes.SHA256()))
    return lambda: public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (CI smoke)")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()
    budget, rounds = (0.25, 8) if args.quick else (2.0, 40)
    warnings.simplefilter("ignore")  # joserfc warns that EdDSA is deprecated by RFC 9864
    asyncio.set_event_loop_policy(None)

    rows = {"HS256": case("HS256", budget, rounds)}
    backend = ed25519_backend()
    rows[f"EdDSA ({ED25519_NAMES[backend]})"] = case("EdDSA", budget, rounds)
    if backend == "libsodium":  # and as authbridge checks it without PyNaCl (the nacl extra)
        rows["EdDSA (OpenSSL)"] = case("EdDSA", budget, rounds, ed25519_impl="openssl")
        use_ed25519_backend()
    rows |= {alg: case(alg, budget, rounds) for alg in ("ES256", "RS256")}
    lines = [
        "| alg | authbridge miss µs | hit µs | hit (sync) µs | PyJWT µs | joserfc µs | raw µs "
        "| PyJWT ÷ miss | miss − raw µs | cold miss µs | cold raw µs | cold miss − raw µs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for alg, r in rows.items():
        lines.append(
            f"| {alg} | {r['authbridge miss']:.1f} | {r['authbridge hit']:.2f} "
            f"| {r['authbridge hit (sync)']:.2f} | {r['PyJWT']:.1f} | {r['joserfc']:.1f} "
            f"| {r['raw primitive']:.1f} | {r['PyJWT'] / r['authbridge miss']:.1f}× "
            f"| {r['authbridge miss'] - r['raw primitive']:.1f} "
            f"| {r['authbridge miss (cold)']:.1f} | {r['raw primitive (cold)']:.1f} "
            f"| {r['authbridge miss (cold)'] - r['raw primitive (cold)']:.1f} |"
        )
    header = (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"PyNaCl {_pynacl_version()}, "
        f"PyJWT {pyjwt.__version__}; payload: Better Auth's default (the whole user object)."
    )
    note = (
        "*cold*: each call right after work that evicts the CPU's caches (1 MiB touched, "
        "unrelated Python run), timed alone, median, as in a server that verifies one fresh "
        "token per request between its other work; the tight-loop columns keep everything "
        "cached."
    )
    table = "\n".join([header, "", *lines, "", note])
    print(table)
    targets = {
        "HS256 miss ≥ 5× faster than PyJWT": rows["HS256"]["PyJWT"]
        / rows["HS256"]["authbridge miss"]
        >= 5,
        "asymmetric miss ≤ raw + 10 µs": all(
            rows[a]["authbridge miss"] - rows[a]["raw primitive"] <= 10
            for a in rows
            if a != "HS256"
        ),
        "cache hit ≤ 1 µs": all(r["authbridge hit"] <= 1 for r in rows.values()),
    }
    print()
    for name, ok in targets.items():
        print(f"{'met ' if ok else 'MISS'}  {name}")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(table + "\n\n")
            out.write("\n".join(f"- {'met' if ok else 'missed'}: {n}" for n, ok in targets.items()))
            out.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
