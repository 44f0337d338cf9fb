"""How long FastAPI takes to find each Tasks API route, as the app serves its routes and as
``include_router`` would. In process, no request is handled: only the router's match loop.

* *own routes*: ``create_app()`` as shipped: the routers' routes placed at the app's level
  (``tasks_api.app.serve_routes``), personal tasks first;
* *included routers*: the same four routers passed to ``app.include_router``, in the order
  the app had before (health, account, tasks, team tasks).

The loop is ``APIRouter.app``'s: every route in order until one matches fully. Both apps
are timed alternately in one process; each figure is the fastest of ``--rounds`` rounds of
``--calls`` matches, so a busy machine slows both, and the comparison holds.

    uv run python bench/tasks_routing.py [--calls 20000] [--rounds 7]
"""

import argparse
import os
import secrets
import time
from collections.abc import Callable

from fastapi import FastAPI
from starlette.routing import Match

from apps.endpoints import include_routers_as_before
from authbridge.fastapi import AuthBridge
from authbridge.testing import FakeIssuer
from tasks_api.app import create_app

TASK = "/api/tasks/00000000-0000-4000-8000-000000000000"
REQUESTS = (
    ("GET", "/api/tasks"),
    ("POST", "/api/tasks"),
    ("GET", TASK),
    ("PATCH", TASK),
    ("GET", "/api/org/tasks"),
    ("GET", "/api/me"),
    ("GET", "/healthz"),
)


def included_app() -> FastAPI:
    app = FastAPI()
    include_routers_as_before(app, require_scopes=False)
    return app


def matcher(app: FastAPI, method: str, path: str) -> Callable[[], None]:
    routes = app.router.routes
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}

    def find() -> None:
        for route in routes:
            if route.matches(scope)[0] is Match.FULL:
                return
        raise AssertionError(f"no route for {method} {path}")

    return find


def fastest_us(find: Callable[[], None], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        find()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("TASKS_CURSOR_SECRET", secrets.token_urlsafe(32))
    apps = {
        "own routes": create_app(bridge=AuthBridge(FakeIssuer().verifier())),
        "included routers": included_app(),
    }
    print("| request | own routes, µs | included routers, µs |")
    print("|---|---:|---:|")
    for method, path in REQUESTS:
        finders = {name: matcher(app, method, path) for name, app in apps.items()}
        best = dict.fromkeys(apps, float("inf"))
        for _ in range(args.rounds):
            for name, find in finders.items():  # alternated: drift slows both
                best[name] = min(best[name], fastest_us(find, args.calls))
        shown = path.replace(TASK, "/api/tasks/{id}")
        print(f"| `{method} {shown}` | {best['own routes']:.1f} | {best['included routers']:.1f} |")


if __name__ == "__main__":
    main()
