"""A forged and a cached token through ``CurrentUser``, three ways. In-process ASGI, no network.

* *plain*: the dependency path alone (the app served with ``AuthStateMiddleware``, as before
  routes were authenticated ahead of their dependencies);
* *wrapped*: ``bridge.install(app)`` as shipped (``route_auth.py``);
* *fast path*: ``bridge.install(app, protect=...)``.

    uv run python bench/route_auth.py [--requests 1500] [--rounds 5]

Prints µs per request, min and median over rounds.
"""

import argparse
import asyncio
import logging
import statistics
import time
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from authbridge.fastapi import AuthBridge, CurrentUser
from authbridge.fastapi.middleware import AuthStateMiddleware
from authbridge.fastapi.route_auth import RouteAuthMiddleware
from authbridge.testing import FakeIssuer

KINDS = ("plain", "wrapped", "fast path")


def build(issuer: FakeIssuer, kind: str) -> FastAPI:
    bridge = AuthBridge(issuer.verifier())
    app = FastAPI()
    if kind == "fast path":
        bridge.install(app, protect=("/hello",))
    else:
        bridge.install(app)
    if kind == "plain":
        index = next(i for i, m in enumerate(app.user_middleware) if m.cls is RouteAuthMiddleware)
        app.user_middleware[index] = Middleware(AuthStateMiddleware, bridge=bridge)

    @app.get("/hello")
    async def hello(user: CurrentUser) -> dict[str, str]:
        return {"sub": user.sub}

    return app


def forged(token: str) -> str:
    """One signature character changed: the ``kid`` still names the key (a full check)."""
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


async def run(app: FastAPI, token: str, requests: int) -> tuple[float, int]:
    """µs per request, and the last status."""
    template: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/hello",
        "raw_path": b"/hello",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"t"), (b"authorization", b"Bearer " + token.encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    start = time.perf_counter_ns()
    for _ in range(requests):
        await app(dict(template), receive, send)
    return (time.perf_counter_ns() - start) / requests / 1000, statuses[-1]


async def main(requests: int, rounds: int) -> None:
    logging.getLogger("authbridge").setLevel(logging.ERROR)  # refusals log at WARNING
    issuer = FakeIssuer()
    good = issuer.token(issuer.make_user(id="bench"), expires_in=3600)
    tokens = {"cached": good, "forged": forged(good)}
    apps = {kind: build(issuer, kind) for kind in KINDS}
    for app in apps.values():  # warm up: routes wrapped, token cached
        for token in tokens.values():
            await run(app, token, 50)
    times: dict[tuple[str, str], list[float]] = {}
    status: dict[tuple[str, str], int] = {}
    for _ in range(rounds):
        for kind, app in apps.items():
            for name, token in tokens.items():
                took, status[kind, name] = await run(app, token, requests)
                times.setdefault((kind, name), []).append(took)
    print(f"{'request':8} {'path':10} {'min µs':>8} {'median µs':>10}  status")
    for name in tokens:
        for kind in KINDS:
            measured = times[kind, name]
            print(
                f"{name:8} {kind:10} {min(measured):8.1f} {statistics.median(measured):10.1f}"
                f"  {status[kind, name]}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    asyncio.run(main(options.requests, options.rounds))
