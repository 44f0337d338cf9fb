"""A test run killed outright (a CI timeout's SIGKILL) leaves no Better Auth server behind.

The harness starts each server in its own session so ``stop()`` can kill its whole group; a
killed pytest never calls ``stop()``, and before ``die_with_parent`` its servers kept their
ports (and their PostgreSQL schemas) until the machine restarted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.processes import alive

pytestmark = pytest.mark.interop

TESTS_DIR = Path(__file__).resolve().parent.parent

DRIVER = textwrap.dedent(
    """
    import sys, time
    from harness.better_auth import BetterAuthServer

    server = BetterAuthServer().start()
    print(server.process_id, flush=True)
    time.sleep(600)
    """
)


def test_a_killed_test_process_takes_its_server_with_it() -> None:
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
        cwd=TESTS_DIR,
        env={**os.environ, "PYTHONPATH": str(TESTS_DIR)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert driver.stdout is not None
    line = driver.stdout.readline().strip()
    assert line.isdigit(), f"the driver did not start a server: {line!r}"
    server_pid = int(line)
    assert alive(server_pid)

    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=10)

    deadline = time.monotonic() + 15
    while alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert not alive(server_pid), "the Better Auth server outlived the killed test process"
    finally:
        if alive(server_pid):
            os.kill(server_pid, signal.SIGKILL)
