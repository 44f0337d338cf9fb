"""`make run` stops cleanly on SIGINT, SIGTERM and SIGHUP, whenever the signal comes.

Each test runs the real `make run` in a new session and signals its whole process group, as a
terminal, `timeout` or a supervisor does. Then both ports must be free within 10 s (the bound
the task sets; a stop takes about half a second here), no process of the tree may survive (the
test records every descendant of make from /proc, e.g. next-server, the API's workers) and
the output must hold no traceback and no failure from make.

What keeps a developer's setup out of it, and it out of the developer's:
* Free ports through WEB_PORT/API_PORT (the same code as :3000/:8000, other numbers), so a
  `make run` already running does not clash; a port found taken fails the test by name.
* BETTER_AUTH_SECRET in the environment, so web/.env.local and .env are not written; both
  databases in the test's temp dir.
* The web app is built by the browser test's helper (its stamps, its lock) and make is told
  not to rebuild it (`-o`): the Makefile's `npm ci` would wipe that helper's install.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from e2e.web_stack import REPO_ROOT, ensure_web_built, free_port
from scale.scale_helpers import clean_env

# The first `npm ci` + `next build` on a clean clone takes minutes; the browser test allows
# the same.
pytestmark = pytest.mark.timeout(1800)

STOP_BOUND = 10.0  # seconds from the signal until the ports are free and nothing survives
STARTUP_LIMIT = 240.0  # make deps + migrations + both servers, on a loaded machine
STUCK_STOP_LIMIT = 60.0  # the script's 5 s grace, then SIGKILL, with room for a slow machine
WEB_VARIABLES = ("AUTH_DB_PATH", "NEXT_PUBLIC_API_URL", "TRUSTED_ORIGINS")
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
STOP_SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
ENV_FILES = (REPO_ROOT / ".env", REPO_ROOT / "web" / ".env.local")
DEFAULT_DATABASES = (REPO_ROOT / "data" / "tasks.db", REPO_ROOT / "web" / "data" / "auth.db")


@dataclass(frozen=True, slots=True)
class Proc:
    """A process seen in /proc; its start time tells it apart from a later one with its pid."""

    pid: int
    start: str
    command: str


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on; None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def process_tree(root: int) -> set[Proc]:
    """``root`` and all its descendants, including those in sessions of their own."""
    found: set[Proc] = set()
    pending = [root]
    while pending:
        pid = pending.pop()
        fields = _stat_fields(pid)
        if fields is None:
            continue
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            found.add(Proc(pid, fields[19], command.strip()))
        with contextlib.suppress(OSError):  # it may end while this reads it
            for task in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{task}/children").read_text()
                pending.extend(int(child) for child in children.split())
    return found


def survivors(recorded: set[Proc]) -> list[Proc]:
    """The recorded processes still running (a zombie holds nothing and is not counted)."""
    alive = []
    for proc in recorded:
        fields = _stat_fields(proc.pid)
        if fields is not None and fields[19] == proc.start and fields[0] != "Z":
            alive.append(proc)
    return alive


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now, as the next `make run` will."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))  # also taken by next's [::] or uvicorn's 127.0.0.1
            sock.listen()
        except OSError:
            return False
        return True


def _uv_directory() -> str:
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(uv).exists():
        pytest.fail("`uv` is not installed; `make run` runs the system with it.")
    return str(Path(uv).parent)


class MakeRun:
    """`make run` in a session of its own, its output in a file, its process tree recorded."""

    def __init__(self, workdir: Path, **settings: str) -> None:
        if shutil.which("make") is None:
            pytest.fail("`make` is not installed; this test runs `make run`.")
        self.web_port, self.api_port = free_port(), free_port()
        for port in (self.web_port, self.api_port):
            if not port_is_free(port):
                pytest.fail(f"port {port} is taken by another process; `make run` needs it.")
        env = clean_env()
        for name in (*WEB_VARIABLES, *MAKE_VARIABLES):
            env.pop(name, None)
        env.update(
            PATH=f"{_uv_directory()}{os.pathsep}{env.get('PATH', '')}",
            WEB_PORT=str(self.web_port),
            API_PORT=str(self.api_port),
            BETTER_AUTH_SECRET=secrets.token_urlsafe(48),
            DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'tasks.db'}",
            AUTH_DB_PATH=str(workdir / "auth.db"),
            NEXT_TELEMETRY_DISABLED="1",
        )
        env.update(settings)
        self.log_path = workdir / "make-run.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            ["make", "-o", "web/node_modules/.installed", "-o", "web/.next/BUILD_ID", "run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, signalled as a whole like a terminal's
        )
        self.recorded: set[Proc] = set()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def record(self) -> None:
        self.recorded |= process_tree(self.process.pid)

    def ran(self, *names: str) -> bool:
        """Whether a recorded command line holds any of ``names``."""
        return any(name in proc.command for proc in self.recorded for name in names)

    def wait_until(self, done: Callable[[], bool], what: str, limit: float) -> None:
        """Record the tree until ``done()``; fail with the output if make ends first."""
        deadline = time.monotonic() + limit
        while not done():
            self.record()
            if self.process.poll() is not None and not done():
                pytest.fail(f"make run ended before {what}:\n{self.output()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {limit:.0f} s:\n{self.output()[-4000:]}")
            time.sleep(0.05)
        self.record()

    def wait_for_output(self, text: str, limit: float = STARTUP_LIMIT) -> None:
        self.wait_until(lambda: text in self.output(), repr(text), limit)

    def signal(self, signum: signal.Signals) -> None:
        # Not once make is reaped: its number may then lead someone else's process group.
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def wait_for_stop(self, deadline: float) -> tuple[list[int], list[Proc]]:
        """Until ``deadline`` at most, wait for both ports to be free and the tree to be gone;
        return the ports still taken and the processes still running."""
        while True:
            taken = [port for port in (self.web_port, self.api_port) if not port_is_free(port)]
            left = survivors(self.recorded)
            if not (taken or left) or time.monotonic() >= deadline:
                return taken, left
            time.sleep(0.1)

    def close(self) -> None:
        """Teardown: SIGKILL whatever the test left, the recorded tree too."""
        self.signal(signal.SIGKILL)
        for proc in survivors(self.recorded):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture(scope="module")
def web_built() -> None:
    ensure_web_built()


def developer_files() -> dict[Path, bytes | bool | None]:
    """What `make run` would write in the checkout: the env files' contents, whether the
    default databases exist."""
    return {
        **{path: path.read_bytes() if path.exists() else None for path in ENV_FILES},
        **{path: path.exists() for path in DEFAULT_DATABASES},
    }


@pytest.fixture
def start_make_run(web_built: None, tmp_path: Path) -> Iterator[Callable[..., MakeRun]]:
    """``start_make_run(**settings)`` starts `make run`; teardown kills what is left and
    checks that the developer's env files and databases were left alone."""
    runs: list[MakeRun] = []
    before = developer_files()

    def start(**settings: str) -> MakeRun:
        runs.append(MakeRun(tmp_path, **settings))
        return runs[-1]

    yield start
    for run in runs:
        run.close()
    assert developer_files() == before, "make run wrote to the checkout's env files or data/"


def assert_stopped_cleanly(
    run: MakeRun, signum: signal.Signals, signalled_at: float, limit: float = STOP_BOUND
) -> None:
    """Ports free and no survivor within ``limit`` seconds, make done, a clean output."""
    taken, left = run.wait_for_stop(signalled_at + limit)
    with contextlib.suppress(subprocess.TimeoutExpired):
        run.process.wait(timeout=30)
    output = run.output()
    assert not taken, f"ports {taken} still taken {limit:.0f} s after {signum.name}:\n{output}"
    assert not left, f"still running {limit:.0f} s after {signum.name}: {left}\n{output}"
    assert run.process.poll() is not None, f"make still running:\n{output}"
    assert "Traceback" not in output, output
    assert "KeyboardInterrupt" not in output, output
    # make reports a recipe that failed or died of a signal; a requested stop exits 0.
    assert "make: ***" not in output, output
    assert f"stopping ({signum.name})" in output, output


@pytest.mark.parametrize(
    ("signum", "workers"),
    [(signal.SIGINT, "1"), (signal.SIGTERM, "1"), (signal.SIGHUP, "2")],
    ids=["SIGINT", "SIGTERM", "SIGHUP-2-workers"],
)
def test_a_signal_to_the_group_stops_the_running_system(
    start_make_run: Callable[..., MakeRun], signum: signal.Signals, workers: str
) -> None:
    run = start_make_run(WEB_CONCURRENCY=workers)
    run.wait_for_output("Ctrl-C stops both")
    assert run.ran("next-server"), run.recorded
    assert run.ran("tasks-api serve"), run.recorded
    if workers != "1":  # uvicorn takes SIGHUP as "restart the workers": they must stop too
        assert run.ran("multiprocessing"), run.recorded

    signalled_at = time.monotonic()
    run.signal(signum)
    # Again and again until make is done: make and `uv run` forward a group's signal once
    # more anyway (a second one used to cut the stop short), and one that comes as Python
    # exits used to turn the exit status 0 into 130.
    run.wait_for_output("stopping", limit=STOP_BOUND)
    while run.process.poll() is None and time.monotonic() < signalled_at + STOP_BOUND:
        run.signal(signum)
        time.sleep(0.02)
    assert_stopped_cleanly(run, signum, signalled_at)


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=[s.name for s in STOP_SIGNALS])
def test_a_signal_during_the_migrations_stops_them(
    start_make_run: Callable[..., MakeRun], signum: signal.Signals
) -> None:
    # A database that takes the connection and never answers: the migrations hang on it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as database:
        database.bind(("127.0.0.1", 0))
        database.listen()
        database.setblocking(False)
        port = database.getsockname()[1]
        run = start_make_run(DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/t")
        connections: list[socket.socket] = []

        def migrations_connected() -> bool:
            with contextlib.suppress(BlockingIOError):
                connections.append(database.accept()[0])
            return bool(connections)

        run.wait_until(migrations_connected, "migrations connecting", STARTUP_LIMIT)
        assert run.ran("tasks-api migrate upgrade"), run.recorded
        signalled_at = time.monotonic()
        run.signal(signum)
        assert_stopped_cleanly(run, signum, signalled_at)
        for connection in connections:
            connection.close()
    assert "Ctrl-C stops both" not in run.output()
    assert not run.ran("tasks-api serve", "next start", "next-server"), run.recorded


def test_a_signal_while_the_servers_start_stops_them(
    start_make_run: Callable[..., MakeRun],
) -> None:
    run = start_make_run()
    # Signalled as soon as both are started: the API takes a second or more to import, so
    # the script is then waiting for the servers to answer. (Were it not, the test would
    # still demand a clean stop; it just would not have tested this phase.)
    run.wait_until(
        lambda: run.ran("tasks-api serve") and run.ran("next start", "next-server"),
        "both servers",
        STARTUP_LIMIT,
    )
    signalled_at = time.monotonic()
    run.signal(signal.SIGINT)
    assert_stopped_cleanly(run, signal.SIGINT, signalled_at)


def test_a_server_that_does_not_stop_is_killed_after_the_grace_period(
    start_make_run: Callable[..., MakeRun],
) -> None:
    run = start_make_run()
    run.wait_for_output("Ctrl-C stops both")
    # Half a request: next-server's shutdown waits for it (up to its 60 s header timeout).
    with socket.create_connection(("127.0.0.1", run.web_port)) as half_request:
        half_request.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        time.sleep(0.5)  # let next-server read it
        signalled_at = time.monotonic()
        run.signal(signal.SIGTERM)
        run.wait_for_output("stopping", limit=STOP_BOUND)
        for _ in range(2):  # more signals while it waits must not cut the stop short
            time.sleep(1)
            run.signal(signal.SIGTERM)
        assert_stopped_cleanly(run, signal.SIGTERM, signalled_at, limit=STUCK_STOP_LIMIT)
    assert "Still running 5 s after SIGTERM: the web app; sending SIGKILL." in run.output()


def test_sigkill_to_the_group_leaves_no_server_behind(
    start_make_run: Callable[..., MakeRun],
) -> None:
    """SIGKILL cannot be handled; the servers, in sessions of their own, must still go."""
    run = start_make_run()
    run.wait_for_output("Ctrl-C stops both")
    signalled_at = time.monotonic()
    run.signal(signal.SIGKILL)
    taken, left = run.wait_for_stop(signalled_at + STOP_BOUND)
    assert not taken, f"ports {taken} still taken after SIGKILL:\n{run.output()}"
    assert not left, f"still running after SIGKILL: {left}\n{run.output()}"
