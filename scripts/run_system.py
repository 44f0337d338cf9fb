"""`make run`: start the whole system — the Next.js web app on :3000 and the Tasks API on :8000.

Generates secrets on first run (`authbridge secret --write`), wires the URLs between the two,
runs the API's migrations, prints both URLs and runs until it is told to stop.

Stopping: SIGINT (Ctrl-C), SIGTERM or SIGHUP, whenever it arrives (during the migrations,
while the servers start, or later), sends SIGTERM to every child's process group, waits
GRACE_SECONDS, SIGKILLs whatever is left and exits 0. More signals during the stop change
nothing. A service that fails to start or exits on its own stops the rest and exits 1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from harness.processes import die_with_parent  # the one PR_SET_PDEATHSIG helper

ROOT = Path(__file__).resolve().parents[1]
WEB_PORT = int(os.environ.get("WEB_PORT", "3000"))
API_PORT = int(os.environ.get("API_PORT", "8000"))
WEB_URL = f"http://localhost:{WEB_PORT}"
API_URL = f"http://localhost:{API_PORT}"

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_SECONDS = 5.0  # from SIGTERM to SIGKILL
KILL_WAIT_SECONDS = 5.0  # after SIGKILL, before giving up
POLL_SECONDS = 0.2  # how late a stop signal may be noticed


class StopRequested(Exception):
    """A stop signal arrived. Raised at a polling point, never from the signal handler."""


class StartupFailed(Exception):
    """The system could not start; the message says why and what to do."""


class StopSignals:
    """Records the first SIGINT, SIGTERM or SIGHUP; the handler never raises.

    One signal to the process group reaches this script two or three times (the group's
    own, then again from `uv run` and make forwarding theirs). A handler that raised
    KeyboardInterrupt could land anywhere: between starting a child and recording it, or
    halfway through stopping the children, which left next-server running on its port.
    Installed for all three whatever they were before: `make run &` in a script starts
    with SIGINT ignored, and Ctrl-C must still work.
    """

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._record)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum)

    def check(self) -> None:
        if self.received is not None:
            raise StopRequested(self.received.name)

    def ignore(self) -> None:
        """Once everything is stopped. Python puts back the default handlers while it exits,
        so a late copy of the signal (`uv run` forwards a second SIGINT 200 ms later) would
        otherwise kill the script there and turn exit status 0 into 130."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)


@dataclass(frozen=True, slots=True)
class Child:
    name: str
    process: subprocess.Popen[bytes]


def say(message: str, stream: TextIO | None = None) -> None:
    """Print, ignoring a terminal that has gone away (SIGHUP) or a closed pipe."""
    with contextlib.suppress(OSError):
        print(message, file=stream or sys.stdout, flush=True)


def entry_point(name: str) -> str:
    """An installed command (``authbridge``, ``tasks-api``): on PATH, else in the root .venv."""
    return shutil.which(name) or str(ROOT / ".venv" / "bin" / name)


def has_value(path: Path, name: str) -> bool:
    if not path.exists():
        return False
    return any(line.startswith(f"{name}=") for line in path.read_text().splitlines())


def ensure_secrets() -> None:
    # Both servers prefer the environment to their env files, so a secret set there is used
    # as is and the files are left alone.
    if os.environ.get("BETTER_AUTH_SECRET"):
        return
    frontend, backend = ROOT / "web" / ".env.local", ROOT / ".env"
    if has_value(frontend, "BETTER_AUTH_SECRET") and has_value(backend, "BETTER_AUTH_SECRET"):
        return
    if has_value(frontend, "BETTER_AUTH_SECRET") != has_value(backend, "BETTER_AUTH_SECRET"):
        raise StartupFailed(
            "BETTER_AUTH_SECRET is set in only one of web/.env.local and .env: "
            "run `authbridge secret --write --force` to set both."
        )
    # Its own session: a Ctrl-C does not cut the write in half; the stop comes after it.
    written = subprocess.run(
        [entry_point("authbridge"), "secret", "--write"],
        cwd=ROOT,
        check=False,
        start_new_session=True,
    )
    if written.returncode != 0:
        raise StartupFailed("`authbridge secret --write` failed; see its message above.")


def spawn(
    children: list[Child], name: str, cmd: list[str], cwd: Path, env: dict[str, str]
) -> Child:
    """Start `cmd` in its own session and record it in `children`, to be stopped later.

    Its own session, so signals meant for `make run` reach the child only through stop():
    always SIGTERM, which both servers treat as "shut down" (uvicorn's multi-worker
    supervisor takes SIGHUP as "restart the workers"), then SIGKILL for the whole group
    (uvicorn's workers too) if it has not stopped in time.
    """
    process = subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**os.environ, **env},
        start_new_session=True,
        # The children run in their own sessions: without this, a SIGKILL to `make run`'s group
        # (the one signal this script cannot handle) would leave both servers running.
        # preexec_fn is unsafe only with threads, and this script starts none.
        preexec_fn=die_with_parent(),
    )
    children.append(Child(name, process))
    return children[-1]


def group_alive(process: subprocess.Popen[bytes]) -> bool:
    """Whether any process of the child's group is left (the child may have forked)."""
    process.poll()  # reap the child itself, so it does not count as a zombie
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def wait_for_groups(children: list[Child], seconds: float) -> list[Child]:
    """Wait until every child's group is empty or `seconds` have passed; return the rest."""
    deadline = time.monotonic() + seconds
    while True:
        left = [child for child in children if group_alive(child.process)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_SECONDS)


def stop(children: list[Child]) -> bool:
    """SIGTERM every child's group, SIGKILL what is left after GRACE_SECONDS.

    Returns whether everything is gone. Signals arriving meanwhile are only recorded, so
    nothing interrupts this.
    """
    for child in children:
        signal_group(child.process, signal.SIGTERM)
    left = wait_for_groups(children, GRACE_SECONDS)
    if not left:
        return True
    names = " and ".join(child.name for child in left)
    say(f"Still running {GRACE_SECONDS:.0f} s after SIGTERM: {names}; sending SIGKILL.")
    for child in left:
        signal_group(child.process, signal.SIGKILL)
    left = wait_for_groups(left, KILL_WAIT_SECONDS)
    for child in left:
        say(f"Could not stop {child.name} (process group {child.process.pid}).", sys.stderr)
    return not left


def wait_for_exit(child: Child, signals: StopSignals) -> int:
    while child.process.poll() is None:
        signals.check()
        time.sleep(POLL_SECONDS)
    return child.process.returncode


def wait_until_up(url: str, child: Child, limit: float, signals: StopSignals) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        signals.check()
        if child.process.poll() is not None:
            raise StartupFailed(
                f"Could not start {child.name}: it exited with status "
                f"{child.process.returncode}; see its output above."
            )
        try:
            # A short timeout: a stop signal waits for this call to return.
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback URL we built
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(POLL_SECONDS)
    raise StartupFailed(f"Could not start {child.name}: no answer at {url} in {limit:.0f} s.")


def run(children: list[Child], signals: StopSignals) -> None:
    """Start everything and wait; returns when a service exits on its own."""
    ensure_secrets()
    signals.check()
    # The web app's Better Auth database (web/lib/auth.ts: AUTH_DB_PATH, relative to web/).
    auth_db = (ROOT / "web" / os.environ.get("AUTH_DB_PATH", "data/auth.db")).resolve()
    api_env = {
        "BETTER_AUTH_URL": WEB_URL,
        "AUTHBRIDGE_JWKS_URL": f"{WEB_URL}/api/auth/jwks",
        # API keys made on the web app's keys section: its Better Auth validates them, and
        # their permissions (which get-session does not answer) are read from its database.
        "AUTHBRIDGE_API_KEYS": "remote",
        "AUTHBRIDGE_API_KEY_HEADER": "x-api-key",
        "AUTHBRIDGE_SESSION_DATABASE_URL": f"sqlite+aiosqlite:///{auth_db}",
        "CORS_ORIGINS": WEB_URL,
    }
    web_env = {
        "AUTH_DB_PATH": str(auth_db),
        "BETTER_AUTH_URL": WEB_URL,
        "NEXT_PUBLIC_API_URL": API_URL,
        "PORT": str(WEB_PORT),
    }
    migrate = [entry_point("tasks-api"), "migrate", "upgrade"]
    status = wait_for_exit(spawn(children, "the migrations", migrate, ROOT, api_env), signals)
    children.clear()  # it has exited: nothing left to stop
    if status != 0:
        raise StartupFailed(f"The migrations failed (status {status}); see their output above.")

    api_cmd = [entry_point("tasks-api"), "serve", "--port", str(API_PORT)]
    api = spawn(children, "the API", api_cmd, ROOT, api_env)
    web_cmd = [str(ROOT / "web/node_modules/.bin/next"), "start", "-p", str(WEB_PORT)]
    web = spawn(children, "the web app", web_cmd, ROOT / "web", web_env)
    wait_until_up(f"http://127.0.0.1:{API_PORT}/healthz", api, 60, signals)
    wait_until_up(f"http://127.0.0.1:{WEB_PORT}/", web, 120, signals)
    say(
        f"\n  web  {WEB_URL}   (sign up, then manage your tasks)\n"
        f"  api  {API_URL}   (OpenAPI docs at {API_URL}/docs)\n\n"
        "  Ctrl-C stops both.\n"
    )
    while True:
        signals.check()
        for child in children:
            if child.process.poll() is not None:
                say(f"Stopping: {child.name} exited with status {child.process.returncode}.")
                return
        time.sleep(POLL_SECONDS)


def run_until_stopped(children: list[Child], signals: StopSignals) -> int:
    try:
        run(children, signals)
    except StopRequested as request:
        say(f"\nstopping ({request})…")
        return 0
    except StartupFailed as failure:
        say(str(failure), sys.stderr)
        return 1
    return 1  # a service exited on its own


def main() -> int:
    signals = StopSignals()  # first: from here on a signal is recorded, never raised
    children: list[Child] = []
    try:
        status = run_until_stopped(children, signals)
    finally:
        stopped = stop(children)  # also after an unexpected error: leave no server behind
        signals.ignore()
    return status if stopped else 1


if __name__ == "__main__":
    raise SystemExit(main())
