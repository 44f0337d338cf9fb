"""Bench-only: the garbage collector's work in a served app, at ``/bench/gc``.

With ``BENCH_GC_STATS=1`` an app records every collection through ``gc.callbacks`` (its
generation and pause) and answers ``GET /bench/gc`` (collections per generation, the longest
and total pause, tracked objects, and how long a full collection takes right then) and
``POST /bench/gc/reset``. With ``BENCH_CACHE_TOKENS``
naming a file of tokens, the reset also verifies them all, so the token cache is full when
the measurement starts (the "full token cache" the targets speak of). With
``BENCH_GC_FREEZE=1`` the first reset calls ``gc.freeze()`` before filling the cache, as an
app can once it has started. Not in the library: an
app that wants this records it its own way.
"""

import gc
import os
import time
from pathlib import Path
from typing import Any

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
        return {
            "collections": self.counts,
            "max_pause_ms": [round(p * 1000, 3) for p in self.max_pause],
            "total_pause_ms": round(self.total_pause * 1000, 3),
            "max_pause_cpu_ms": round(self.max_pause_cpu * 1000, 3),
            "tracked_objects": len(gc.get_objects()),
        }


def add_gc_stats(app: FastAPI, bridge: AuthBridge | None = None) -> None:
    """Install the recorder and its routes when ``BENCH_GC_STATS=1``."""
    if os.environ.get("BENCH_GC_STATS") != "1":
        return
    recorder = GcRecorder()
    gc.callbacks.append(recorder)
    tokens_file = os.environ.get("BENCH_CACHE_TOKENS")
    tokens = Path(tokens_file).read_text().split() if tokens_file else []

    @app.get("/bench/gc")
    async def gc_report() -> dict[str, Any]:
        report = recorder.report()
        # An oldest-generation pass now, the cache full: what one would cost at any moment.
        started, started_cpu = time.perf_counter(), time.thread_time()
        gc.collect()
        report["full_collection_ms"] = round((time.perf_counter() - started) * 1000, 3)
        report["full_collection_cpu_ms"] = round((time.thread_time() - started_cpu) * 1000, 3)
        return report

    freeze = os.environ.get("BENCH_GC_FREEZE") == "1"

    @app.post("/bench/gc/reset")
    async def gc_reset() -> dict[str, Any]:
        if freeze and not gc.get_freeze_count():
            # What an app can do once it has started (imports, routes, first requests): move
            # those objects out of the collector's reach. The token cache fills after this.
            gc.collect()
            gc.freeze()
        if bridge is not None:
            for token in tokens:  # refill the cache: hits for the tokens still in it
                await bridge.verifier.verify(token)
        gc.collect()
        recorder.reset()
        return {"cached": len(bridge.verifier.cache) if bridge is not None else 0}
