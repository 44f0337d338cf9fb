"""Bench-only: the garbage collector's work in a served app, at ``/bench/gc``.

With ``BENCH_GC_STATS=1`` an app records every collection through ``gc.callbacks`` (its
generation and pause) and answers ``GET /bench/gc`` (collections per generation, the longest
and total pause, tracked objects, and how long a full collection takes right then) and
``POST /bench/gc/reset``. With ``BENCH_CACHE_TOKENS``
naming a file of tokens, the reset also verifies them all, so the token cache is full when
the measurement starts (the "full token cache" the targets speak of). Not in the library: an
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
        self.reset()

    def reset(self) -> None:
        self.counts = [0, 0, 0]
        self.max_pause = [0.0, 0.0, 0.0]
        self.total_pause = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        pause = time.perf_counter() - self.started
        generation = info["generation"]
        self.counts[generation] += 1
        self.max_pause[generation] = max(self.max_pause[generation], pause)
        self.total_pause += pause

    def report(self) -> dict[str, Any]:
        return {
            "collections": self.counts,
            "max_pause_ms": [round(p * 1000, 3) for p in self.max_pause],
            "total_pause_ms": round(self.total_pause * 1000, 3),
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
        started = time.perf_counter()
        gc.collect()
        report["full_collection_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return report

    @app.post("/bench/gc/reset")
    async def gc_reset() -> dict[str, Any]:
        if bridge is not None:
            for token in tokens:  # refill the cache: hits for the tokens still in it
                await bridge.verifier.verify(token)
        gc.collect()
        recorder.reset()
        return {"cached": len(bridge.verifier.cache) if bridge is not None else 0}
