"""A benchmark run that is killed (``kill``, SIGTERM) stops the servers it started, the
multi-worker ones with their workers (bench/http_bench.py, ``running``). Before, SIGTERM ended
the driver without running its ``finally``, and every server, a worker supervisor respawning
its workers among them, kept running after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.processes import alive

BENCH = Path(__file__).resolve().parents[2] / "bench"

DRIVER = """
import pathlib, sys, time
sys.path.insert(0, sys.argv[1])
from http_bench import Server, _process_tree, base_env, running
from authbridge.testing import FakeIssuer

server = Server("bare-2w", "bare_app", base_env(FakeIssuer()), workers=2)
with running([server], pathlib.Path(sys.argv[2])):
    print(*_process_tree(server.process.pid), flush=True)
    time.sleep(600)
"""


def test_sigterm_to_a_benchmark_run_stops_its_servers(tmp_path: Path) -> None:
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(BENCH), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    pids: list[int] = []
    try:
        assert driver.stdout is not None
        line = driver.stdout.readline()  # once the server answers
        pids = [int(pid) for pid in line.split()]
        deadline = time.monotonic() + 30
        while len(pids) < 3 and time.monotonic() < deadline:  # the supervisor and 2 workers
            time.sleep(0.2)
            pids = _tree(pids[0])
        assert len(pids) >= 3, pids
        driver.send_signal(signal.SIGTERM)
        assert driver.wait(timeout=60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in pids if alive(pid)] == []
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        for pid in pids:  # whatever outlived a failed run
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def _tree(pid: int) -> list[int]:
    sys.path.insert(0, str(BENCH))
    try:
        from http_bench import _process_tree
    finally:
        sys.path.remove(str(BENCH))
    return _process_tree(pid)
