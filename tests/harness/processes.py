"""Stopping a child process the tests started: SIGTERM, then SIGKILL if it lingers."""

from __future__ import annotations

import subprocess
from typing import Any

__all__ = ["terminate"]


def terminate(process: subprocess.Popen[Any], timeout: float) -> None:
    """Ask ``process`` to stop; kill it if it has not exited after ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
