"""Instruction counts of Litestar requests, bare and behind authbridge (valgrind callgrind).

Where the Litestar layer's cost per request goes (issue #21), without wall clock: each stage
serves N requests to an app in process through ASGI calls (no server, no sockets) with one
cached token, and ``os.getppid`` marks the stage boundaries where callgrind dumps::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --dump-before=os_getppid \\
        --callgrind-out-file=/tmp/ls.out .venv/bin/python bench/litestar_callgrind.py 300
    .venv/bin/python bench/litestar_callgrind.py --report /tmp/ls.out 300

Every stage's count is divided by N (k instructions per request). Without valgrind the
script runs once and checks every stage answers 200 (a smoke test of the apps).
"""

from __future__ import annotations

import gc
import glob
import os
import sys
from collections.abc import Callable
from typing import Any

from litestar import Litestar, Request, get
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from authbridge.litestar import AuthBridgePlugin, required, requires
from authbridge.testing import FakeIssuer
from fresh_callgrind import _run, stage_counts

_ISSUER = FakeIssuer()
TOKEN = _ISSUER.token()
SUB = _ISSUER.user["id"]


@get("/hello")
async def hello(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"sub": "anonymous"}


@get("/hello-id")  # the protected endpoint's answer, same size, without request.user
async def hello_id(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"sub": SUB}


async def no_op(connection: Any, handler: Any) -> None:
    return None


@get("/hello-guard", guards=[no_op])
async def hello_guard(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"sub": "anonymous"}


@get("/me", guards=[requires()])
async def me(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"sub": request.user.sub}


@get("/me-opt", opt=required())
async def me_opt(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"sub": request.user.sub}


def pure_asgi(app: ASGIApp) -> ASGIApp:
    """The cheapest middleware Litestar takes: a function of the next app."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)

    return middleware


class Passthrough(ASGIMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        await next_app(scope, receive, send)


HANDLERS = [hello, hello_id, hello_guard, me, me_opt]


def apps() -> dict[str, Litestar]:
    verifier = _ISSUER.verifier()
    return {
        "bare": Litestar(route_handlers=HANDLERS),
        "pure ASGI middleware": Litestar(route_handlers=HANDLERS, middleware=[pure_asgi]),
        "ASGIMiddleware": Litestar(route_handlers=HANDLERS, middleware=[Passthrough()]),
        "plugin": Litestar(route_handlers=HANDLERS, plugins=[AuthBridgePlugin(verifier)]),
    }


# (label, app, path, with token)
STAGES: list[tuple[str, str, str, bool]] = [
    ("bare /hello, no token", "bare", "/hello", False),
    ("bare /hello, token", "bare", "/hello", True),
    ("bare /hello-id (protected's answer), token", "bare", "/hello-id", True),
    ("bare /hello-guard (no-op guard), token", "bare", "/hello-guard", True),
    ("pure ASGI mw /hello, token", "pure ASGI middleware", "/hello", True),
    ("ASGIMiddleware /hello, token", "ASGIMiddleware", "/hello", True),
    ("plugin /hello, no token", "plugin", "/hello", False),
    ("plugin /hello, token", "plugin", "/hello", True),
    ("plugin /me (requires()), token", "plugin", "/me", True),
    ("plugin /me-opt (required()), token", "plugin", "/me-opt", True),
]


def _scope(path: str, token: bool) -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    if token:
        headers.append((b"authorization", b"Bearer " + TOKEN.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
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
        "state": {},
    }


def caller(app: Litestar) -> Callable[[str, bool], None]:
    body = {"type": "http.request", "body": b"", "more_body": False}
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return body

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    def call(path: str, token: bool) -> None:
        _run(app(_scope(path, token), receive, send))  # type: ignore[arg-type]
        if status.pop() != 200:
            raise RuntimeError(f"{path} did not answer 200")

    return call


def measure(n: int) -> None:
    calls = {name: caller(app) for name, app in apps().items()}
    for _ in range(5):  # warm: the first requests fill caches (and the token cache)
        for _, name, path, token in STAGES:
            calls[name](path, token)
    gc.collect()
    gc.disable()
    os.getppid()
    for _, name, path, token in STAGES:
        call = calls[name]
        for _ in range(n):
            call(path, token)
        os.getppid()


def report(prefix: str, n: int) -> None:
    stages = stage_counts(prefix, len(STAGES))
    base = stages[1] / n
    print("| stage | k instructions/request | vs bare /hello with token |")
    print("|---|---|---|")
    for (label, *_), total in zip(STAGES, stages, strict=True):
        per = total / n
        print(f"| {label} | {per / 1000:.1f} | {per - base:+,.0f} |")


# --- the benchmark's servers, uvicorn included ---------------------------------------------

# (label, factory in bench/apps/frameworks.py, path, with token)
SERVED: list[tuple[str, str, str, bool]] = [
    ("bare /hello, no token", "litestar_bare", "/hello", False),
    ("bare /hello, token", "litestar_bare", "/hello", True),
    ("bare /hello-guard (no-op guard), token", "litestar_bare", "/hello-guard", True),
    ("protected /hello, token", "litestar_protected", "/hello", True),
    ("protected /me (requires()), token", "litestar_protected", "/me", True),
    ("protected /me-opt (required()), token", "litestar_protected", "/me-opt", True),
]


def _hit(sock: Any, path: str, token: str | None, count: int) -> None:
    """``count`` keep-alive GETs of ``path`` on ``sock``, one at a time; each must be a 200."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n".encode()
    for _ in range(count):
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            answer += sock.recv(65536)
        if not answer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{path}: {answer[:200]!r}")


def _last_total(pattern: str) -> int:
    files = sorted(glob.glob(pattern), key=lambda f: int(f.rsplit(".", 1)[1]))
    with open(files[-1]) as fh:
        return next(int(ln.split()[1]) for ln in fh if ln.startswith(("summary:", "totals:")))


def served(n: int, out: str) -> None:
    """Each benchmark server (uvicorn, uvloop, httptools) under callgrind, hit with ``n``
    keep-alive requests per stage from this process; ``callgrind_control`` zeroes the counts
    before a stage and dumps them after it."""
    import socket
    import subprocess
    import time

    sys.path.insert(0, os.path.dirname(__file__))
    from http_bench import ISSUER, base_env

    issuer = FakeIssuer(ISSUER)
    env = {**os.environ, **base_env(issuer), "PYTHONHASHSEED": "0"}
    token = issuer.token()
    results: list[tuple[str, float]] = []
    for factory in dict.fromkeys(f for _, f, _, _ in SERVED):
        port = 18700 + len(results)
        prefix = f"{out}.{factory}"
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={prefix}.%p",
            sys.executable, "-m", "uvicorn", "--factory", f"apps.frameworks:{factory}",
            "--app-dir", os.path.dirname(__file__), "--port", str(port), "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        pid = str(server.pid)
        try:
            for _ in range(600):
                try:
                    sock = socket.create_connection(("127.0.0.1", port))
                    break
                except OSError:
                    time.sleep(0.5)
            else:
                raise RuntimeError(f"{factory} did not start")
            stages = [s for s in SERVED if s[1] == factory]
            for _, _, path, with_token in stages:
                _hit(sock, path, token if with_token else None, 20)  # warm
            for label, _, path, with_token in stages:
                subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
                _hit(sock, path, token if with_token else None, n)
                subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
                results.append((label, _last_total(f"{prefix}.{pid}.*") / n))
            sock.close()
        finally:
            server.terminate()
            server.wait()
    base = results[1][1]
    print("| stage (uvicorn + Litestar) | k instructions/request | ratio to bare /hello, token |")
    print("|---|---|---|")
    for label, per in results:
        print(f"| {label} | {per / 1000:.1f} | {base / per:.3f} |")


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        report(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "--served":
        served(int(sys.argv[2]), sys.argv[3])
    else:
        measure(int(sys.argv[1]))
