"""Bench-only: the garbage collector's work in a served app, at ``/bench/gc``.

With ``BENCH_GC_STATS=1`` an app records every collection through ``gc.callbacks`` (its
generation and pause) and answers ``GET /bench/gc`` (collections per generation, the longest
and total pause, tracked objects, and how long a full collection takes right then) and
``POST /bench/gc/reset``. With ``BENCH_CACHE_TOKENS`` naming a file of tokens, the reset
also verifies them all, so the token cache is full when the measurement starts (the "full
token cache" the targets speak of). The report also counts the tracked objects the token
cache holds (its own share of what a full collection walks), times that share in this one
process (``cache_share``: collections with the cache full, then emptied, then refilled,
paired) and counts the frozen objects (``BENCH_GC_FREEZE=1``: the app installed with
``freeze_heap=True``, ``endpoints.py``). Not in the library: an app that wants this records
it its own way.
"""

import gc
import os
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
from fastapi import FastAPI

from authbridge.fastapi import AuthBridge

__all__ = ["add_gc_stats"]


class GcRecorder:
    def __init__(self) -> None:
        self.started = 0.0
        self.started_cpu = 0.0
        self.reset()

    def reset(self) -> None:
        self.counts = [0, 0, 0]
        self.max_pause = [0.0, 0.0, 0.0]
        self.max_pause_cpu = 0.0
        self.total_pause = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            self.started_cpu = time.thread_time()
            return
        pause = time.perf_counter() - self.started
        # CPU time too: on a busy machine the wall-clock pause includes time spent waiting
        # for a core, which is not the collector's work.
        self.max_pause_cpu = max(self.max_pause_cpu, time.thread_time() - self.started_cpu)
        generation = info["generation"]
        self.counts[generation] += 1
        self.max_pause[generation] = max(self.max_pause[generation], pause)
        self.total_pause += pause

    def report(self) -> dict[str, Any]:
        tracked = gc.get_objects()
        return {
            "collections": list(self.counts),  # a copy: later collections add to it
            "max_pause_ms": [round(p * 1000, 3) for p in self.max_pause],
            "total_pause_ms": round(self.total_pause * 1000, 3),
            "max_pause_cpu_ms": round(self.max_pause_cpu * 1000, 3),
            "tracked_objects": len(tracked),
            # What the collector would walk, by type: the framework's heap or the cache's.
            "tracked_types": dict(Counter(type(o).__name__ for o in tracked).most_common(6)),
        }


def tracked_in(*roots: object) -> int:
    """How many objects the collector tracks among ``roots`` and what they hold (containers
    and msgspec Structs, walked by value; each object counted once)."""
    seen: set[int] = set()
    stack = list(roots)
    count = 0
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, str | bytes | int | float | bool | None):
            continue
        seen.add(id(item))
        count += gc.is_tracked(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, tuple | list | set | frozenset):
            stack.extend(item)
        elif isinstance(item, msgspec.Struct):
            stack.extend(getattr(item, name) for name in item.__struct_fields__)
    return count


def collect_cpu_ms() -> float:
    """One forced full collection's CPU time, in ms."""
    started = time.thread_time()
    gc.collect()
    return (time.thread_time() - started) * 1000


async def cache_share(bridge: AuthBridge, tokens: list[str], pairs: int = 3) -> float:
    """What the full token cache adds to a full collection, in CPU ms: per pair, the fastest
    of three collections with the cache full less the fastest of three right after emptying
    it, in this process and seconds apart, so the machine's drift (it moves a single
    collection by ±10 ms, and only ever slows one) cancels; the median over ``pairs``. The
    cache is refilled after each pair."""
    cache = bridge.verifier.cache
    shares = []
    for _ in range(pairs):
        full = min(collect_cpu_ms() for _ in range(3))
        cache.clear()
        empty = min(collect_cpu_ms() for _ in range(3))
        shares.append(full - empty)
        for token in tokens:
            await bridge.verifier.verify(token)
    return round(statistics.median(shares), 3)


def add_gc_stats(app: FastAPI, bridge: AuthBridge | None = None) -> None:
    """Install the recorder and its routes when ``BENCH_GC_STATS=1``.

    Call it after the measured route is added. Starlette tries routes in order, and each
    route tried before the one that matches costs about 11,700 instructions per request
    (``dependency_callgrind.py``, about 3 µs served): two of these ahead of ``/hello``
    would charge the servers that report garbage collections for routing that the bare
    endpoint and the fresh-token floor, whose ``/hello`` is their only route, never do."""
    if os.environ.get("BENCH_GC_STATS") != "1":
        return
    recorder = GcRecorder()
    gc.callbacks.append(recorder)
    tokens_file = os.environ.get("BENCH_CACHE_TOKENS")
    tokens = Path(tokens_file).read_text().split() if tokens_file else []

    @app.get("/bench/gc")
    async def gc_report() -> dict[str, Any]:
        report = recorder.report()
        if bridge is not None:  # the token cache's own share of the tracked objects
            cache = bridge.verifier.cache
            report["cached_tokens"] = len(cache)
            report["token_cache_tracked"] = tracked_in(cache._entries, cache._by_key)
        report["frozen_objects"] = gc.get_freeze_count()
        # An oldest-generation pass now, the cache full: what one would cost at any moment.
        started, started_cpu = time.perf_counter(), time.thread_time()
        gc.collect()
        report["full_collection_ms"] = round((time.perf_counter() - started) * 1000, 3)
        report["full_collection_cpu_ms"] = round((time.thread_time() - started_cpu) * 1000, 3)
        if bridge is not None and tokens:
            report["cache_share_cpu_ms"] = await cache_share(bridge, tokens)
        return report

    @app.post("/bench/gc/reset")
    async def gc_reset() -> dict[str, Any]:
        if bridge is not None:
            for token in tokens:  # refill the cache: hits for the tokens still in it
                await bridge.verifier.verify(token)
        gc.collect()
        recorder.reset()
        return {"cached": len(bridge.verifier.cache) if bridge is not None else 0}
