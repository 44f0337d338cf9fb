"""Build and run the whole stack for the browser test: the Tasks API and the Next.js web app.

* ``ensure_chromium()`` installs Debian's chromium with apt when ``/usr/bin/chromium`` is
  missing (never a downloaded browser).
* ``ensure_web_built()`` runs ``npm ci`` only when ``package-lock.json``, ``.npmrc`` (its
  legacy peer resolution, see web/README.md) or Node changed, and
  ``next build`` only when a source file changed (stamps under node_modules/ and .next/). The
  web app reads every URL at request time, so one build serves any ports.
* ``Service`` starts a process in its own process group on a free port, waits until it
  answers HTTP, and stops exactly that group.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = REPO_ROOT / "web"
CHROMIUM = Path("/usr/bin/chromium")
LOCK_PATH = Path.home() / ".cache" / "authbridge" / "web-e2e.lock"

_INSTALL_STAMP = WEB_DIR / "node_modules" / ".authbridge-install-stamp"
_BUILD_STAMP = WEB_DIR / ".next" / ".authbridge-build-stamp"
# Everything under web/ that a `next build` reads (not tests, e2e, data or outputs).
_BUILD_INPUTS = ("app", "components", "hooks", "lib", "types", "public")
_BUILD_FILES = (
    "package.json",
    "package-lock.json",
    "next.config.ts",
    "tsconfig.json",
    "instrumentation.ts",
)


class StackError(RuntimeError):
    """A prerequisite could not be installed or a service did not start."""


@contextlib.contextmanager
def exclusive_lock(path: Path = LOCK_PATH) -> Iterator[None]:
    """Serialise installs and builds between concurrent pytest processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: Sequence[str], *, cwd: Path, timeout: float, env: Mapping[str, str]) -> None:
    result = subprocess.run(
        list(command),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        raise StackError(f"`{' '.join(command)}` failed ({result.returncode}):\n{tail}")


def ensure_chromium() -> Path:
    """Debian's chromium, installed with apt if missing. Fails (never skips) if impossible."""
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None:
        raise StackError("/usr/bin/chromium is missing and apt-get is not available.")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run([apt, "update"], cwd=REPO_ROOT, timeout=600, env=env)
    _run([apt, "install", "-y", "chromium"], cwd=REPO_ROOT, timeout=1200, env=env)
    if not CHROMIUM.exists():
        raise StackError("apt-get installed chromium but /usr/bin/chromium is still missing.")
    return CHROMIUM


def _executable(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StackError(f"`{name}` is not on PATH; the browser test needs Node >= 20.19 and npm.")
    return path


def _npm_env() -> dict[str, str]:
    env = dict(os.environ)
    # node-gyp (better-sqlite3) would otherwise download Node headers; Debian ships them.
    if "npm_config_nodedir" not in env and Path("/usr/include/node/node.h").exists():
        env["npm_config_nodedir"] = "/usr"
    env.setdefault("npm_config_update_notifier", "false")
    env["NEXT_TELEMETRY_DISABLED"] = "1"
    return env


def _node_version() -> str:
    result = subprocess.run(
        [_executable("node"), "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


def _install_key() -> str:
    digest = hashlib.sha256((WEB_DIR / "package-lock.json").read_bytes())
    digest.update(b"\0" + (WEB_DIR / ".npmrc").read_bytes())
    digest.update(b"\0" + _node_version().encode())
    return digest.hexdigest()


def _build_key(install_key: str) -> str:
    digest = hashlib.sha256(install_key.encode())
    paths = [WEB_DIR / name for name in _BUILD_FILES]
    for folder in _BUILD_INPUTS:
        if (WEB_DIR / folder).is_dir():
            paths.extend(p for p in (WEB_DIR / folder).rglob("*") if p.is_file())
    for path in sorted(p for p in paths if p.exists()):
        digest.update(b"\0" + str(path.relative_to(WEB_DIR)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamp_matches(stamp: Path, key: str) -> bool:
    return stamp.exists() and stamp.read_text().strip() == key


def ensure_web_built() -> None:
    """``npm ci`` and ``npm run build`` in web/, each skipped when its inputs are unchanged."""
    npm = _executable("npm")
    env = _npm_env()
    with exclusive_lock():
        install_key = _install_key()
        if not _stamp_matches(_INSTALL_STAMP, install_key):
            _run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB_DIR, timeout=1200, env=env)
            _INSTALL_STAMP.write_text(install_key + "\n")
        build_key = _build_key(install_key)
        if not _stamp_matches(_BUILD_STAMP, build_key):
            _run([npm, "run", "build"], cwd=WEB_DIR, timeout=900, env=env)
            _BUILD_STAMP.write_text(build_key + "\n")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Service:
    """One background process, in its own process group, with its output in a log file."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        ready_url: str,
        log_dir: Path,
        start_timeout: float = 90.0,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.cwd = cwd
        self.env = dict(env)
        self.ready_url = ready_url
        self.log_path = log_dir / f"{name}.log"
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> Self:
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so stop() reaches its children too
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise StackError(
                    f"{self.name} exited with {self._process.returncode} before it was ready:\n"
                    f"{self.log_tail()}"
                )
            try:
                httpx.get(self.ready_url, timeout=2.0)
                return
            except httpx.TransportError:
                time.sleep(0.25)
        raise StackError(f"{self.name} did not answer {self.ready_url} in time:\n{self.log_tail()}")

    def log_tail(self, limit: int = 4000) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM the whole group (the server may have forked), then SIGKILL if it lingers."""
        process = self._process
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
