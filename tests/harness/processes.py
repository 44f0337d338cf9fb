"""The child processes the tests start: stopping them (SIGTERM, then SIGKILL if one lingers),
and making sure none outlives a test run that was itself killed.

``die_with_parent`` is the repository's one ``PR_SET_PDEATHSIG`` helper: ``scripts/run_system.py``
and ``bench/http_peers.py`` import it from here too (this module imports only the standard
library, so it works from any interpreter)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["alive", "die_with_parent", "terminate"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has Linux send the child SIGTERM when this process dies, so a
    pytest run (or a script) killed outright leaves no server behind on its port.

    None off Linux and off the main thread: the signal follows the *thread* that forked, and a
    helper thread's exit would stop a server the test still uses.
    """
    if (
        not sys.platform.startswith("linux")
        or threading.current_thread() is not threading.main_thread()
    ):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # the parent died before prctl: nothing would stop us
            os._exit(1)

    return arm


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


def alive(pid: int) -> bool:
    """Whether process ``pid`` is running. A zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))
