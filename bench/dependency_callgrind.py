"""Instruction counts of a cached token through the dependency path and its peers (callgrind).

The apps are ``bench/http_bench.py``'s own (``bench/apps/endpoints.py``), driven in process
through ASGI calls as ``bench/fresh_callgrind.py`` drives its apps: every request carries the
same token (a cache hit after the warm-up), as the bench's micro endpoints do. ``os.getppid``
marks the stage boundaries and callgrind dumps the counts there::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --dump-before=os_getppid \\
        --callgrind-out-file=/tmp/dep.out .venv/bin/python bench/dependency_callgrind.py 200
    .venv/bin/python bench/dependency_callgrind.py --report /tmp/dep.out 200

Each stage's count is divided by N; "above bare" subtracts the bare endpoint (an app with no
authbridge at all, as in the HTTP bench). The garbage collector is off while measuring.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from authbridge.testing import FakeIssuer
from fresh_callgrind import _run, _scope, stage_counts

ISSUER = "http://127.0.0.1:3000"

# (label, factory in bench/apps/endpoints.py, organization claims in the token)
STAGES: tuple[tuple[str, str, bool], ...] = (
    ("bare endpoint", "bare_app", False),
    ("FastAPI floor: one empty dependency", "empty_dependency_app", False),
    ("CurrentUser, cached token", "authbridge_app", False),
    ("fast path (protect=), cached token", "fast_path_app", False),
    ("require_org_role, cached token", "org_role_app", True),
    ("typed user (current_user), cached token", "typed_user_app", False),
    ("require_org_role under protect=, cached token", "org_role_fast_path_app", True),
    # Not authbridge: what two choices in the app's own code cost on every request.
    ("bare endpoint, two routes tried before it", "bare_behind_two_routes_app", False),
    ("bare endpoint without a return annotation", "bare_unannotated_app", False),
)


def _caller(app: Any, token: str) -> Callable[[], None]:
    body = {"type": "http.request", "body": b"", "more_body": False}
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return body

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    def call() -> None:
        _run(app(_scope("/hello", token), receive, send))
        if status.pop() != 200:
            raise RuntimeError("/hello did not answer 200")

    return call


def measure(n: int) -> None:
    issuer = FakeIssuer(ISSUER)
    os.environ.update(
        {
            "AUTHBRIDGE_JWKS": json.dumps(issuer.jwks()),
            "AUTHBRIDGE_ISSUER": ISSUER,
            "AUTHBRIDGE_AUDIENCE": ISSUER,
            "AUTHBRIDGE_ENV": "production",
            "BENCH_SUB": issuer.user["id"],
        }
    )
    from apps import endpoints

    token = issuer.token()
    org_token = issuer.token(
        sid="bench-session", activeOrganizationId="bench-org", organizationRole="admin,member"
    )
    calls = []
    for _, factory, org in STAGES:
        call = _caller(getattr(endpoints, factory)(), org_token if org else token)
        for _ in range(5):  # the first requests build the middleware stack and fill the cache
            call()
        calls.append(call)
    gc.collect()
    gc.disable()
    os.getppid()
    for call in calls:
        for _ in range(n):
            call()
        os.getppid()


def report(prefix: str, n: int) -> None:
    stages = stage_counts(prefix, len(STAGES))
    bare = stages[0]
    print("| per request | instructions | above bare |")
    print("|---|---:|---:|")
    for (label, _, _), total in zip(STAGES, stages, strict=True):
        above = "" if total is bare else f"{(total - bare) / n / 1000:.1f} k"
        print(f"| {label} | {total / n / 1000:.1f} k | {above} |")


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        report(sys.argv[2], int(sys.argv[3]))
    else:
        measure(int(sys.argv[1]))
