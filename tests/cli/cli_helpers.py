"""Helpers for the CLI tests: run the installed entry point, dev issuer, a static JSON server."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness.processes import terminate

ENTRY_POINT = Path(sys.executable).parent / "authbridge"


def clean_environment() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BETTER_AUTH", "AUTHBRIDGE_", "AUTH_SECRET"))
    }
    env["COLUMNS"] = "200"  # wide enough that Rich never wraps a line
    env["NO_COLOR"] = "1"
    env["TERM"] = "dumb"
    return env


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


class CLI:
    """``cli("verify", token, env={...})`` runs ``authbridge verify <token>``."""

    def __init__(self, cwd: Path) -> None:
        if not ENTRY_POINT.exists():
            raise RuntimeError(f"the authbridge entry point is not installed at {ENTRY_POINT}")
        self.cwd = cwd
        self.env: dict[str, str] = {}

    def __call__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
        unset: tuple[str, ...] = (),
    ) -> Result:
        """``unset`` removes variables, such as the ``COLUMNS`` every run gets by default."""
        environment = {**clean_environment(), **self.env, **(env or {})}
        for name in unset:
            environment.pop(name, None)
        completed = subprocess.run(
            [str(ENTRY_POINT), *args],
            cwd=cwd or self.cwd,
            env=environment,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_terminal(
    cwd: Path, *args: str, env: dict[str, str] | None = None, columns: int = 80
) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal ``columns`` wide, as a user's terminal is; return the
    exit code and what it showed (escape sequences removed, line ends as ``\\n``)."""
    environment = {**clean_environment(), **(env or {}), "TERM": "xterm-256color"}
    environment.pop("COLUMNS", None)  # the width comes from the terminal itself
    environment.pop("LINES", None)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen(
        [str(ENTRY_POINT), *args],
        cwd=cwd,
        env=environment,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    shown = bytearray()
    try:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the program exited and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        code = process.wait(timeout=60)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
    text = _ANSI_ESCAPE.sub("", shown.decode("utf-8", "replace"))
    return code, text.replace("\r\n", "\n")


NARROW_MODES = ["COLUMNS=80", "pipe", "terminal"]


def shown_at_80_columns(cli: CLI, mode: str, *args: str, env: dict[str, str]) -> str:
    """What a user sees at 80 columns: with COLUMNS=80, in a pipe (Rich then assumes 80
    columns), or on a real terminal 80 columns wide."""
    if mode == "terminal":
        _, shown = run_in_terminal(cli.cwd, *args, env={**cli.env, **env}, columns=80)
        return shown
    if mode == "pipe":
        return cli(*args, env=env, stdin="", unset=("COLUMNS",)).stdout
    return cli(*args, env={**env, "COLUMNS": "80"}, stdin="").stdout


@dataclass
class DevIssuer:
    process: subprocess.Popen[str]
    info: dict[str, Any]
    keys_file: Path

    @property
    def issuer(self) -> str:
        return str(self.info["issuer"])

    @property
    def jwks_url(self) -> str:
        return str(self.info["jwks_url"])


def start_dev_issuer(
    cwd: Path, keys_file: Path, *extra: str, env: dict[str, str] | None = None
) -> DevIssuer:
    process = subprocess.Popen(
        [
            str(ENTRY_POINT),
            *("dev-issuer", "--port", "0", "--json", "--keys-file", str(keys_file)),
            *extra,
        ],
        cwd=cwd,
        env={**clean_environment(), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.kill()
        _, err = process.communicate(timeout=10)
        raise RuntimeError(f"dev-issuer did not start: {err}")
    return DevIssuer(process, json.loads(line), keys_file)


def stop(process: subprocess.Popen[str]) -> None:
    terminate(process, timeout=10)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


class StaticServer:
    """Serves one JSON document on 127.0.0.1 (for JWK Sets the dev issuer cannot make)."""

    def __init__(self) -> None:
        self.document: Any = {"keys": []}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/auth/jwks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def check(result: Result, step: str) -> dict[str, Any]:
    """The doctor's JSON entry for ``step`` (the first one)."""
    for entry in result.json()["checks"]:
        if entry["step"] == step:
            return dict(entry)
    raise AssertionError(f"no {step!r} check in {result.stdout}")
