"""A bounded HTTP/1.1 load generator: the fallback when ``wrk`` is not available.

Runs in its own process (``bench/http_bench.py`` starts it), keeps ``--connections`` keep-alive
connections to one loopback URL busy for ``--duration`` seconds or ``--max-requests``
requests, whichever comes first, and prints one JSON line:
``{"requests", "seconds", "rps", "p50_ms", "p99_ms", "errors", "non_2xx", "wrapped"}``.

    uv run python bench/loadgen.py http://127.0.0.1:8001/hello --duration 5 \
        [--header "Authorization: Bearer ..."] [--tokens tokens.txt] [--method POST --body '{}']

``--tokens`` sends each request with the next token of the file (one per line), for cache
misses; ``wrapped`` says whether the file ran out and tokens were reused.

It is slower than wrk (Python parses every response), so only compare numbers measured
with the same generator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from itertools import count
from urllib.parse import urlsplit

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
    uvloop = None


def build_request(
    method: str, host: str, path: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def worker(
    host: str,
    port: int,
    requests: list[bytes] | None,
    fixed: bytes,
    next_index: count[int],
    stop_at: float,
    budget: list[int],
    latencies: list[float],
    stats: dict[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at and budget[0] > 0:
            budget[0] -= 1
            if requests is None:
                payload = fixed
            else:
                index = next(next_index)
                if index >= len(requests):
                    stats["wrapped"] = 1
                payload = requests[index % len(requests)]
            started = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not 200 <= status < 400:
                stats["non_2xx"] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        stats["errors"] += 1
    finally:
        writer.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


async def run(args: argparse.Namespace, tokens: list[str] | None) -> dict[str, float | int]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loadgen only targets loopback")
    path = url.path + (f"?{url.query}" if url.query else "")
    headers = [tuple(part.strip() for part in h.split(":", 1)) for h in args.header]
    headers = [(name, value) for name, value in headers]
    body = args.body.encode() if args.body else b""
    fixed = build_request(args.method, url.netloc, path, headers, body)
    requests = None
    if tokens is not None:
        requests = [
            build_request(
                args.method, url.netloc, path, [*headers, ("Authorization", f"Bearer {t}")], body
            )
            for t in tokens
        ]
    latencies: list[float] = []
    stats = {"errors": 0, "non_2xx": 0, "wrapped": 0}
    budget = [args.max_requests]
    started = time.perf_counter()
    stop_at = started + args.duration
    shared_index = count()  # one sequence for all connections: each token is sent once
    await asyncio.gather(
        *(
            worker(host, port, requests, fixed, shared_index, stop_at, budget, latencies, stats)
            for _ in range(args.connections)
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        **stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--body", default="")
    parser.add_argument("--tokens", help="file of tokens, one per line, one per request")
    args = parser.parse_args()
    if not 0 < args.duration <= 120 or not 0 < args.connections <= 512:
        raise SystemExit("duration must be in (0, 120] s and connections in (0, 512]")
    tokens = None
    if args.tokens:
        with open(args.tokens, encoding="ascii") as lines:
            tokens = [line.strip() for line in lines if line.strip()]
    runner = uvloop.run if uvloop is not None else asyncio.run
    print(json.dumps(runner(run(args, tokens))))


if __name__ == "__main__":
    main()
