"""``freeze_heap()``: take what an app built at startup out of the garbage collector's walks.

A started FastAPI app with authbridge holds about 65,000 objects the collector tracks (modules,
routes, OpenAPI and pydantic models, settings, keys). An oldest-generation collection walks
all of them: 25–60 ms on a busy 2-core machine, whenever the collector decides one is due.
``gc.freeze()`` moves every object alive now into the permanent generation, which no
collection walks, so a full collection afterwards only walks what requests made since
(under 1 ms with a full token cache, bench/results/http.md). The token cache itself adds no
tracked object per token (``cache.py``), so it needs no freezing.

Opt-in, called once the app has started (``AuthBridge.install(app, freeze_heap=True)`` does it
at the end of the lifespan's startup), because it is a decision for the whole process:

* a reference cycle among the frozen objects is never collected, even once it is garbage
  (objects without cycles are still freed as usual): what startup leaves behind stays;
* a process that builds many apps (a test suite) would pin every one of them;
* in a parent process that forks its workers, freeze right before the fork instead, so the
  children's collections never write to (and copy) the pages they share with the parent.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_heap"]


def freeze_heap() -> int:
    """Collect once, then freeze every object alive; return how many are frozen in all.

    The collection first, so no garbage is frozen (a frozen object is never collected).
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
