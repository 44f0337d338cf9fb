"""What one API-key verification costs: remote mode (Better Auth's get-session) against database
mode (the plugin's rules on its apikey table), on SQLite and PostgreSQL, on this machine.

Starts a real Better Auth server with ``@better-auth/api-key`` (the test harness's), makes keys,
and times ``ApiKeyVerifier.verify`` sequentially, one request at a time (latency, not load):

* an unlimited key (no remaining, rate limit off): one read, one ``updatedAt`` write and a
  ``lastRequest`` write in database mode; cache off, so every request reaches the store;
* a counted key (``remaining``): a guarded decrement too;
* a rate-limited key (generous limit): a guarded counter increment too;
* the same unlimited key with the 5 s cache on (a hit is a dict lookup).

    uv run python bench/api_keys.py [--requests 200] [--markdown bench/results/api_keys.md]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from authbridge.apikeys.config import ApiKeyConfig
from authbridge.apikeys.verifier import ApiKeyVerifier
from authbridge.sessions.config import SessionTables
from harness.better_auth import BetterAuthServer

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


async def timed(verifier: ApiKeyVerifier, key: str, requests: int) -> list[float]:
    await verifier.verify(key)  # connections opened, columns detected
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        await verifier.verify(key)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def config(server: BetterAuthServer, mode: str, cache: float = 0.0) -> ApiKeyConfig:
    return ApiKeyConfig(
        mode=mode,  # type: ignore[arg-type]
        base_url=server.url,
        database_url=(server.env.get("DATABASE_URL") or server.env["DB_PATH"])
        if mode == "database"
        else None,
        user_tables=SessionTables(schema=server.env.get("DB_SCHEMA")),
        cache_ttl=cache,
    )


async def measure(database: str, requests: int) -> list[tuple[str, str, list[float]]]:
    env: dict[str, Any] = {"APIKEY": 1, "APIKEY_RATE_LIMIT_MAX": 10**9}
    if database == "postgres":
        env["DATABASE_URL"] = PG_URL
    server = BetterAuthServer().start(**env)
    rows: list[tuple[str, str, list[float]]] = []
    try:
        user = server.sign_up()
        big = requests * 10
        cases = {
            "unlimited": {"rateLimitEnabled": False},
            "remaining": {"remaining": big, "rateLimitEnabled": False},
            "rate-limited": {"rateLimitMax": big, "rateLimitTimeWindow": 3_600_000},
        }
        for mode in ("remote", "database"):
            for case, options in cases.items():
                key = server.create_api_key(user.id, **options)
                async with ApiKeyVerifier(config(server, mode)) as verifier:
                    rows.append((mode, case, await timed(verifier, key.key, requests)))
        key = server.create_api_key(user.id, rateLimitEnabled=False)
        async with ApiKeyVerifier(config(server, "database", cache=5.0)) as verifier:
            rows.append(
                ("database", "unlimited, cache hit", await timed(verifier, key.key, requests))
            )
    finally:
        server.stop()
    return rows


def table(results: dict[str, list[tuple[str, str, list[float]]]], requests: int) -> str:
    lines = [
        f"# API-key verification latency ({requests} sequential requests each)",
        "",
        f"Python {platform.python_version()}, {platform.machine()}, "
        f"{time.strftime('%Y-%m-%d')}; Better Auth 1.7.25 + @better-auth/api-key 1.7.5 on "
        "127.0.0.1 (Node), PostgreSQL on 127.0.0.1. `uv run python bench/api_keys.py`.",
        "",
        "| Better Auth database | mode | key | median ms | p95 ms |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for database, rows in results.items():
        for mode, case, samples in rows:
            p95 = statistics.quantiles(samples, n=20)[-1]
            median = statistics.median(samples)
            lines.append(f"| {database} | {mode} | {case} | {median:.3f} | {p95:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    results = {
        database: asyncio.run(measure(database, args.requests))
        for database in ("sqlite", "postgres")
    }
    text = table(results, args.requests)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
