"""Serve a benchmark app with N workers as ``tasks-api serve --workers N`` does: uvicorn's
supervisor, one SO_REUSEPORT listening socket per worker.

    python bench/apps/workers.py FACTORY PORT WORKERS
"""

import sys
from pathlib import Path

import uvicorn

from tasks_api.reuse_port import run_workers


def main() -> None:
    factory, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # ``apps``, for the workers too
    config = uvicorn.Config(
        f"apps.endpoints:{factory}",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
    run_workers(config)


if __name__ == "__main__":
    main()
