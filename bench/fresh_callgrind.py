"""Instruction counts of the fresh-token verify path, stage by stage (valgrind callgrind).

Counts do not depend on the machine's load, so this compares two versions of the library
on a busy machine. Every stage runs over N fresh EdDSA tokens (Better Auth's default claims)
against a full token cache; ``os.getppid`` marks the stage boundaries and callgrind dumps
the counts there::

    valgrind --tool=callgrind --dump-before=os_getppid --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python bench/fresh_callgrind.py 200
    .venv/bin/python bench/fresh_callgrind.py --report /tmp/cg.out 200

Each stage's count is divided by N. ``verify`` is the whole async ``verify`` on a new token;
``raw`` is the bare Ed25519 call on the same tokens, so ``verify - raw`` is the Python path
beyond the signature. Run with ``PYTHONHASHSEED=0``; the garbage collector is off while measuring.

The served stages run whole in-process ASGI requests. They serve the same fresh tokens
through the HTTP benchmark's floor (the bare route behind only the raw Ed25519 check,
``apps/raw_verify.py``), through that floor's frame around the whole ``Verifier.verify``,
through the fast path (``protect=``) and through a ``CurrentUser`` route; the report gives
what each adds to the floor per request. A last stage serves new tokens on the fast path with
``verify`` stubbed to answer at once: against the cached-token stage, what the framework does
differently for a new token, apart from the verifier. With ``--cache-sim=yes`` callgrind also
simulates the CPU caches, and the report gives the added instruction and data cache misses
too: a server meets each request with caches that other work (the kernel's loopback, the
load generator) has cooled, so a path's misses count beside its instructions.
"""

from __future__ import annotations

import gc
import glob
import os
import sys
import time
from typing import Any

from fastapi import FastAPI, Request

from apps.raw_verify import RawVerify, VerifyOnly, ed25519_key
from authbridge import Verifier
from authbridge.claims import build_principal
from authbridge.fastapi import AuthBridge, CurrentUser, principal_of
from authbridge.jose.parse import decode_payload
from authbridge.testing import FakeIssuer, better_auth_id

STAGES = (
    "cache miss",
    "parse",
    "route + key",
    "decode_payload",
    "ClaimRules.validate",
    "build_principal",
    "TokenCache.put",
    "verify (fresh)",
    "raw Ed25519",
    "verify_cached (hit)",
    "verify (hit)",
    "served: bare endpoint",
    "served: fast path, fresh token",
    "served: fast path, cached token",
    "served: raw-verify floor, fresh token",
    "served: CurrentUser, fresh token",
    "served: Verifier.verify in the floor's frame, fresh token",
    "served: CurrentUser, cached token",
    "served: fast path, new token, verify stubbed",
)


def _run(coro: Any) -> Any:
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("verify awaited")


def _tokens(issuer: FakeIssuer, n: int) -> list[str]:
    out = []
    for _ in range(n):
        uid = better_auth_id()
        user = issuer.make_user(id=uid, name="Alice Example", image="https://img.example/a.png")
        out.append(issuer.token(user))
    return out


def _scope(path: str, token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"bench"),
            (b"accept", b"*/*"),
            (b"authorization", b"Bearer " + token.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def _caller(app: FastAPI) -> Any:
    """``call(path, token)``: one in-process ASGI request to ``app``, which must answer 200."""
    body = {"type": "http.request", "body": b"", "more_body": False}
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return body

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    def call(path: str, token: str) -> None:
        _run(app(_scope(path, token), receive, send))
        if status.pop() != 200:
            raise RuntimeError(f"{path} did not answer 200")

    return call


def _bare_route(app: FastAPI) -> FastAPI:
    async def ok() -> dict[str, str]:
        return {"ok": "yes"}

    app.get("/bare")(ok)
    return app


def _served(verifier: Verifier) -> Any:
    """The shipped fast path (``install(protect=...)``) and a bare route, as in the bench."""
    app = FastAPI()
    AuthBridge(verifier).install(app, protect=("/api/",))

    async def me(request: Request) -> dict[str, str]:
        return {"sub": principal_of(request).sub}

    app.get("/api/me")(me)  # first, as the counts in docs/performance.md were taken
    return _caller(_bare_route(app))


def _served_current_user(verifier: Verifier) -> Any:
    """A ``CurrentUser`` route (``install()`` without ``protect=``), as the HTTP benchmark's
    ``authbridge, cache miss`` row serves it."""
    app = FastAPI()
    AuthBridge(verifier).install(app)

    async def me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    app.get("/api/me")(me)
    return _caller(app)


def _served_floor(issuer: FakeIssuer) -> Any:
    """The bare route behind only the raw Ed25519 check (``apps/raw_verify.py``), as the
    HTTP benchmark's fresh-token floor serves it."""
    app = _bare_route(FastAPI())
    app.add_middleware(RawVerify, key=ed25519_key(issuer.jwks()))
    return _caller(app)


def _served_verify_only(verifier: Verifier) -> Any:
    """The floor's frame around the whole ``Verifier.verify`` (``apps/raw_verify.py``), as
    the HTTP benchmark's middle fresh-token row serves it."""
    app = _bare_route(FastAPI())
    app.add_middleware(VerifyOnly, verifier=verifier)
    return _caller(app)


def measure(n: int) -> None:
    issuer = FakeIssuer()
    verifier: Verifier = issuer.verifier()
    stage_tokens = _tokens(issuer, n)
    fresh_tokens = _tokens(issuer, n)
    # A full cache: filled with one principal under many token strings.
    seed = _run(verifier.verify(issuer.token()))
    cache = verifier.cache
    for i in range(cache.max_entries):
        cache.put(f"filler-{i}", seed, time.time() + 3600, ("x", "y"))
    path = verifier.paths[0]
    jws_list = [verifier.parse(t) for t in stage_tokens]
    key = verifier.cached_key(path, jws_list[0])
    assert key is not None
    claims_list = [decode_payload(j) for j in jws_list]
    rules = path.rules
    names = verifier.policy.claim_names
    principals = [build_principal(c, names, issuer=rules.issuer) for c in claims_list]
    now = time.time()
    algorithm = key.algorithm
    served_verifier = issuer.verifier()
    for i in range(served_verifier.cache.max_entries):
        served_verifier.cache.put(f"filler-{i}", seed, time.time() + 3600, ("x", "y"))
    call = _served(served_verifier)
    dependency_verifier = issuer.verifier()
    for i in range(dependency_verifier.cache.max_entries):
        dependency_verifier.cache.put(f"filler-{i}", seed, time.time() + 3600, ("x", "y"))
    current_user = _served_current_user(dependency_verifier)
    frame_verifier = issuer.verifier()
    for i in range(frame_verifier.cache.max_entries):
        frame_verifier.cache.put(f"filler-{i}", seed, time.time() + 3600, ("x", "y"))
    verify_only = _served_verify_only(frame_verifier)
    # The fast path on new tokens with ``verify`` answering at once: the framework's share
    # of a new token's request, without the verifier's.
    stub_verifier = issuer.verifier()

    async def stub_verify(token: str) -> Any:
        return seed

    stub_verifier.verify = stub_verify  # type: ignore[method-assign]
    stub_verifier.verify_cached = lambda token: None  # type: ignore[method-assign]
    stubbed = _served(stub_verifier)
    floor = _served_floor(issuer)
    floor_tokens = [t[:-1] + t[-1:] for t in fresh_tokens]
    # The served rows and the raw Ed25519 row use the fresh tokens too: each signature costs a
    # slightly different count, so subtracting the raw row is exact only on the same ones.
    # New string objects: the served path must hash each token's text, as verify did.
    served_tokens = [t[:-1] + t[-1:] for t in fresh_tokens]
    dependency_tokens = [t[:-1] + t[-1:] for t in fresh_tokens]
    frame_tokens = [t[:-1] + t[-1:] for t in fresh_tokens]
    stub_tokens = [t[:-1] + t[-1:] for t in fresh_tokens]
    fresh_jws = [verifier.parse(t) for t in fresh_tokens]
    warm = _tokens(issuer, 5)
    for t in warm:  # the app's first requests build its middleware stack
        call("/api/me", t)
        call("/bare", t)
        floor("/bare", t)
        current_user("/api/me", t)
        verify_only("/bare", t)
        stubbed("/api/me", t)
    gc.collect()
    gc.disable()

    os.getppid()
    for t in stage_tokens:
        cache.get(t, now)
    os.getppid()
    for t in stage_tokens:
        verifier.parse(t)
    os.getppid()
    for j in jws_list:
        verifier.cached_key(verifier.route(j), j)
    os.getppid()
    for j in jws_list:
        decode_payload(j)
    os.getppid()
    for c in claims_list:
        rules.validate(c, now)
    os.getppid()
    for c in claims_list:
        build_principal(c, names, issuer=rules.issuer)
    os.getppid()
    ref = (path.name, key.kid)
    for t, p in zip(stage_tokens, principals, strict=True):
        cache.put(t, p, now + 600, ref)
    os.getppid()
    for t in fresh_tokens:
        _run(verifier.verify(t))
    os.getppid()
    for j in fresh_jws:
        algorithm.verify(key.key, j.signing_input, j.signature)
    os.getppid()
    for t in fresh_tokens:
        verifier.verify_cached(t)
    os.getppid()
    for t in fresh_tokens:
        _run(verifier.verify(t))
    os.getppid()
    served = (  # in STAGES order; a token's second request through an app is a cache hit
        (call, "/bare", served_tokens),
        (call, "/api/me", served_tokens),
        (call, "/api/me", served_tokens),
        (floor, "/bare", floor_tokens),
        (current_user, "/api/me", dependency_tokens),
        (verify_only, "/bare", frame_tokens),
        (current_user, "/api/me", dependency_tokens),
        (stubbed, "/api/me", stub_tokens),
    )
    for serve, route, tokens in served:
        for t in tokens:
            serve(route, t)
        os.getppid()


def stage_events(prefix: str, stages: int) -> list[dict[str, int]]:
    """Every event callgrind counted in each of ``stages`` stages (``Ir``, and with
    ``--cache-sim=yes`` the cache misses ``I1mr``, ``D1mr``, ``D1mw``...), from its dumps at
    the ``os.getppid`` markers (``prefix.1``, ``prefix.2``...). Dump 1 is everything before
    the first marker; the stages follow."""
    files = sorted(glob.glob(prefix + ".*"), key=lambda f: int(f.rsplit(".", 1)[1]))
    found = []
    for name in files:
        names: list[str] = []
        with open(name) as fh:
            for line in fh:
                if line.startswith("events:"):
                    names = line.split()[1:]
                elif line.startswith(("summary:", "totals:")):
                    # callgrind leaves out the trailing events that counted zero
                    values = [int(v) for v in line.split()[1:]]
                    values += [0] * (len(names) - len(values))
                    found.append(dict(zip(names, values, strict=True)))
                    break
    return found[1 : 1 + stages]


def stage_counts(prefix: str, stages: int) -> list[int]:
    """The instruction count of each stage (``stage_events``). Shared by the other
    ``*_callgrind.py`` scripts."""
    return [events["Ir"] for events in stage_events(prefix, stages)]


def report(prefix: str, n: int) -> None:
    stages = stage_counts(prefix, len(STAGES))
    for label, total in zip(STAGES, stages, strict=True):
        print(f"| {label} | {total / n / 1000:.1f} k |")
    fresh = stages[STAGES.index("verify (fresh)")] - stages[STAGES.index("raw Ed25519")]
    print(f"| verify (fresh) - raw | {fresh / n / 1000:.1f} k |")
    raw = stages[STAGES.index("raw Ed25519")]
    served = stages[STAGES.index("served: fast path, fresh token")] - raw
    bare = stages[STAGES.index("served: bare endpoint")]
    print(f"| served fresh - raw - bare | {(served - bare) / n / 1000:.1f} k |")
    stub = stages[STAGES.index("served: fast path, new token, verify stubbed")]
    cached = stages[STAGES.index("served: fast path, cached token")]
    print(f"| served stubbed - served cached | {(stub - cached) / n / 1000:.1f} k |")
    # Against the floor served the same way: what authbridge adds to a fresh token's request.
    events = stage_events(prefix, len(STAGES))
    floor = events[STAGES.index("served: raw-verify floor, fresh token")]
    for label, stage in (
        ("served fresh", "served: fast path, fresh token"),
        ("served CurrentUser fresh", "served: CurrentUser, fresh token"),
        ("served Verifier.verify", "served: Verifier.verify in the floor's frame, fresh token"),
    ):
        row = events[STAGES.index(stage)]
        for event in row:
            print(f"| {label} - served floor, {event} | {(row[event] - floor[event]) / n:,.0f} |")


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        report(sys.argv[2], int(sys.argv[3]))
    else:
        measure(int(sys.argv[1]))
