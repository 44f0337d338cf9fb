"""How much does authbridge add to a FastAPI request? In-process ASGI calls, no network.

Compares a bare endpoint with protected ones on a token-cache hit, and the shipped design (a
lazy dependency, plus a pure-ASGI middleware that only adds response headers) with the
alternatives that were considered: verifying eagerly in a middleware, and no middleware.

    uv run python bench/fastapi_overhead.py [--requests 20000] [--rounds 5]

With ``--http`` it also serves the shipped app with uvicorn (one worker) and drives it with
``wrk`` over real HTTP, which is what a deployment sees.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final

import msgspec
from fastapi import Depends, FastAPI, Request

from authbridge.errors import AuthError
from authbridge.fastapi import (
    AuthBridge,
    CurrentUser,
    current_user,
    principal_of,
    require_org_role,
    require_permission,
    require_scopes,
)
from authbridge.fastapi.credentials import bearer_from_headers
from authbridge.fastapi.middleware import SLOT_KEY, AuthSlot, AuthStateMiddleware
from authbridge.keys.static import StaticJWKS
from authbridge.principal import Principal
from authbridge.testing import FakeIssuer
from authbridge.verifier import TrustedIssuer, Verifier

ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def scope_for(path: str, token: str | None) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode()))
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
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def run(app: ASGI, template: dict[str, Any], requests: int) -> float:
    """Requests per second for ``requests`` sequential calls; checks each answered 200."""
    body = {"type": "http.request", "body": b"", "more_body": False}
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return body

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    start = time.process_time()  # CPU time: robust on a shared, busy machine
    for _ in range(requests):
        await app(dict(template), receive, send)
    elapsed = time.process_time() - start
    if set(status) != {200}:
        raise SystemExit(f"unexpected statuses {set(status)} for {template['path']}")
    return requests / elapsed


class BenchUser(msgspec.Struct):
    """A typed user, as ``current_user`` builds it from Better Auth's default payload."""

    id: str
    email: str
    name: str
    email_verified: bool


ORG_CLAIMS: Final = {"activeOrganizationId": "bench-org", "organizationRole": "admin,member"}


def build_apps(issuer: FakeIssuer) -> dict[str, tuple[ASGI, str, str | None]]:
    """name -> (app, path, token kind: None for no token, "plain", or "org" with the
    organization claims a definePayload adds)."""

    async def ok() -> dict[str, bool]:
        return {"ok": True}

    async def me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    async def scoped(
        user: Annotated[Principal, Depends(require_scopes("tasks:read"))],
    ) -> dict[str, str]:
        return {"sub": user.sub}

    bare = FastAPI()
    bare.get("/bare")(ok)

    # For scale: what FastAPI charges for any one dependency, with no authbridge at all.
    async def nothing() -> None:
        return None

    async def with_empty_dependency(_: Annotated[None, Depends(nothing)]) -> dict[str, bool]:
        return {"ok": True}

    bare.get("/empty-dependency")(with_empty_dependency)

    shipped = FastAPI()
    bridge = AuthBridge(issuer.verifier())
    bridge.install(shipped)
    shipped.get("/bare")(ok)
    shipped.get("/me")(me)
    shipped.get("/scoped")(scoped)

    # Organization guards and typed users (issue #18), on the same shipped app.
    async def org_admin(
        user: Annotated[Principal, Depends(require_org_role("owner", "admin"))],
    ) -> dict[str, str]:
        return {"sub": user.sub}

    async def can_invite(
        user: Annotated[Principal, Depends(require_permission("invitation", "create"))],
    ) -> dict[str, str]:
        return {"sub": user.sub}

    async def typed(user: Annotated[BenchUser, current_user(BenchUser)]) -> dict[str, str]:
        return {"sub": user.id}

    # Each in an app of its own, second route after /bare as /me is in ``shipped``: a route's
    # place in the table costs time too, and must not count against it.
    def alone(path: str, endpoint: Callable[..., Awaitable[dict[str, str]]]) -> FastAPI:
        app = FastAPI()
        AuthBridge(issuer.verifier()).install(app)
        app.get("/bare")(ok)
        app.get(path)(endpoint)
        return app

    org_admin_app = alone("/org-admin", org_admin)
    can_invite_app = alone("/can-invite", can_invite)
    typed_app = alone("/typed", typed)

    # The shipped fast path: install(protect=...) verifies in the middleware; no dependency.
    fast = FastAPI()
    AuthBridge(issuer.verifier()).install(fast, protect=("/api/",))

    async def fast_me(request: Request) -> dict[str, str]:
        return {"sub": principal_of(request).sub}

    fast.get("/api/me")(fast_me)
    fast.get("/api/current-user")(me)  # CurrentUser under protect: reuses the middleware's result
    fast.get("/api/org-admin")(org_admin)
    fast.get("/bare")(ok)

    # No middleware: lifespan only (no Cache-Control/Vary on success; measured for its cost).
    no_middleware = FastAPI()
    no_middleware.state.authbridge = AuthBridge(issuer.verifier())
    no_middleware.get("/me")(me)

    # Alternative: verify eagerly in a middleware; the dependency only reads the slot.
    eager = FastAPI()
    eager_bridge = AuthBridge(issuer.verifier())

    class EagerMiddleware:
        def __init__(self, app: ASGI) -> None:
            self.app = app

        async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                slot = scope[SLOT_KEY] = AuthSlot()
                try:
                    token = bearer_from_headers(scope["headers"], scope["query_string"])
                    verifier = eager_bridge.verifier
                    slot.result = verifier.verify_cached(token) or await verifier.verify(token)
                except AuthError as exc:
                    slot.result = exc
            await self.app(scope, receive, send)

    async def eager_user(request: Request) -> Principal:
        result = request.scope[SLOT_KEY].result
        if isinstance(result, Principal):
            return result
        raise eager_bridge.refuse(result, request.scope)

    async def eager_me(user: Annotated[Principal, Depends(eager_user)]) -> dict[str, str]:
        return {"sub": user.sub}

    eager.get("/me")(eager_me)
    eager.add_middleware(EagerMiddleware)
    eager.add_middleware(AuthStateMiddleware)

    return {
        "bare endpoint (no authbridge)": (bare, "/bare", None),
        "empty dependency (no authbridge)": (bare, "/empty-dependency", None),
        "bare endpoint, bridge installed": (shipped, "/bare", None),
        "CurrentUser (shipped)": (shipped, "/me", "plain"),
        "CurrentUser, organization claims": (shipped, "/me", "org"),
        "require_scopes (shipped)": (shipped, "/scoped", "plain"),
        "require_org_role (organization claims)": (org_admin_app, "/org-admin", "org"),
        "require_permission (organization claims)": (can_invite_app, "/can-invite", "org"),
        "current_user(BenchUser) (typed user)": (typed_app, "/typed", "plain"),
        "fast path: protect= + principal_of": (fast, "/api/me", "plain"),
        "fast path: protect= + CurrentUser": (fast, "/api/current-user", "plain"),
        "fast path: protect= + require_org_role": (fast, "/api/org-admin", "org"),
        "fast path app, unprotected path": (fast, "/bare", None),
        "CurrentUser, no middleware": (no_middleware, "/me", "plain"),
        "eager middleware + slot dependency": (eager, "/me", "plain"),
    }


def http_app() -> FastAPI:
    """uvicorn factory for ``--http``: keys and issuer come from the parent process."""
    config = json.loads(os.environ["AUTHBRIDGE_BENCH"])
    verifier = Verifier(
        TrustedIssuer.create(
            StaticJWKS(config["jwks"]), issuer=config["issuer"], audience=config["issuer"]
        )
    )
    app = FastAPI()
    AuthBridge(verifier).install(app)

    @app.get("/bare")
    async def bare() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    @app.get("/scoped")
    async def scoped(
        user: Annotated[Principal, Depends(require_scopes("tasks:read"))],
    ) -> dict[str, str]:
        return {"sub": user.sub}

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wrk(url: str, seconds: int, headers: dict[str, str]) -> float:
    args = ["wrk", "-t1", "-c16", f"-d{seconds}s", url]
    for name, value in headers.items():
        args[1:1] = ["-H", f"{name}: {value}"]
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None or "Non-2xx" in output:
        raise SystemExit(f"wrk failed for {url}:\n{output}")
    return float(match.group(1))


def http_main(rounds: int, seconds: int) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("--http needs wrk on PATH")
    issuer = FakeIssuer()
    token = issuer.token(scope="tasks:read")
    env = dict(os.environ)
    env["AUTHBRIDGE_BENCH"] = json.dumps({"jwks": issuer.jwks(), "issuer": issuer.base_url})
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "fastapi_overhead:http_app",
            "--app-dir",
            os.path.dirname(os.path.abspath(__file__)),
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {token}"}
        variants = {
            "bare endpoint": ("/bare", {}),
            "CurrentUser": ("/me", auth),
            "require_scopes": ("/scoped", auth),
        }
        results: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, (path, headers) in variants.items():
                results[name].append(_wrk(base + path, seconds, headers))
    finally:
        server.terminate()
        server.wait(timeout=10)
    baseline = statistics.median(results["bare endpoint"])
    print(f"\nHTTP (uvicorn, 1 worker; wrk -c16), median of {rounds} x {seconds}s")
    print(f"{'variant':40} {'req/s (median)':>15} {'vs bare':>8}")
    for name, values in results.items():
        rate = statistics.median(values)
        print(f"{name:40} {rate:15,.0f} {rate / baseline:8.2f}")


async def main(requests: int, rounds: int) -> None:
    issuer = FakeIssuer()
    tokens = {
        "plain": issuer.token(scope="tasks:read"),
        "org": issuer.token(scope="tasks:read", **ORG_CLAIMS),
    }
    apps = build_apps(issuer)
    results: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):  # interleave rounds so drift hits every variant alike
        for name, (app, path, kind) in apps.items():
            template = scope_for(path, tokens[kind] if kind else None)
            await run(app, template, requests // 10)  # warm up (and fill the token cache)
            results[name].append(await run(app, template, requests))
    baseline = statistics.median(results["bare endpoint (no authbridge)"])
    print(f"{'variant':40} {'req/s (median)':>15} {'vs bare':>8}")
    for name, values in results.items():
        rate = statistics.median(values)
        print(f"{name:40} {rate:15,.0f} {rate / baseline:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--http", action="store_true", help="also measure over real HTTP")
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per run")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
    if args.http:
        http_main(args.rounds, args.seconds)
