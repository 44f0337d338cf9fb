"""``tasks-api serve --workers N`` spreads connections over its workers.

Each worker listens on its own SO_REUSEPORT socket, so the kernel assigns every new connection
to a worker by its address hash. (uvicorn's one shared socket let the first worker to wake
accept a whole burst: in 2 of 8 bursts of 32 connections measured, one worker of two got
them all.) Ownership is read from ``/proc``: which worker process holds the server side of
each connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from scale_helpers import Served, authbridge_serve, clean_env, free_port

from authbridge.testing import FakeIssuer

BURST = 32


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    issuer = FakeIssuer("http://127.0.0.1:3000")
    return clean_env(
        AUTHBRIDGE_JWKS=json.dumps(issuer.jwks()),
        AUTHBRIDGE_ISSUER=issuer.issuer,
        AUTHBRIDGE_AUDIENCE=issuer.issuer,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}",
        **{"LOG_LEVEL": "info", **extra},
    )


def workers_of(parent: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    workers = []
    for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        with contextlib.suppress(FileNotFoundError):
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                workers.append(int(pid))
    return workers


def _inodes(port: int, state: str) -> set[str]:
    """Socket inodes of TCP sockets on local ``port`` in ``state`` (01 established, 0A listen)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and fields[3] == state:
                    inodes.add(fields[9])
    return inodes


def wait_until_listening(port: int, sockets: int) -> None:
    """A worker listens once its app has started; the first ready one answers /healthz."""
    deadline = time.monotonic() + 60
    while len(_inodes(port, "0A")) < sockets:
        assert time.monotonic() < deadline, f"fewer than {sockets} listening sockets"
        time.sleep(0.2)


def connections_per_worker(parent: int, port: int) -> dict[int, int]:
    server_side = _inodes(port, "01")
    counts = {}
    for pid in workers_of(parent):
        held = 0
        with contextlib.suppress(FileNotFoundError, PermissionError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in server_side:
                        held += 1
        counts[pid] = held
    return counts


@contextlib.contextmanager
def burst(origin: str) -> Iterator[None]:
    """``BURST`` keep-alive connections opened at once, each answered once, held open."""
    host, port = origin.removeprefix("http://").rsplit(":", 1)
    clients = [socket.create_connection((host, int(port)), timeout=10) for _ in range(BURST)]
    try:
        request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        for client in clients:
            client.sendall(request)
        for client in clients:
            assert client.recv(65536).startswith(b"HTTP/1.1 200")
        yield
    finally:
        for client in clients:
            client.close()


def served_port(served: Served) -> int:
    return int(served.origin.rsplit(":", 1)[1])


def assert_spread(served: Served) -> None:
    wait_until_listening(served_port(served), 2)
    with burst(served.origin):
        counts = connections_per_worker(served.process.pid, served_port(served))
    assert sum(counts.values()) == BURST, counts
    assert len(counts) == 2, counts
    # A fair coin per connection: under 4 of 32 on one worker happens once in 10^6 bursts.
    assert min(counts.values()) >= 4, counts


def test_a_burst_of_connections_is_spread_over_the_workers(tmp_path: Path) -> None:
    with authbridge_serve(env_for(tmp_path), tmp_path, "--workers", "2", ready="/healthz") as s:
        assert "one SO_REUSEPORT socket each" in s.text()
        assert_spread(s)


def test_a_replaced_worker_listens_again(tmp_path: Path) -> None:
    """uvicorn's supervisor restarts a worker that died; the new one binds its own socket."""
    with authbridge_serve(env_for(tmp_path), tmp_path, "--workers", "2", ready="/healthz") as s:
        first, second = workers_of(s.process.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            workers = workers_of(s.process.pid)
            if first not in workers and len(workers) == 2:
                with contextlib.suppress(httpx.HTTPError, AssertionError):
                    assert_spread(s)
                    break
            assert time.monotonic() < deadline, s.tail()
            time.sleep(0.5)
        assert second in workers_of(s.process.pid)


def test_reuse_port_can_be_turned_off(tmp_path: Path) -> None:
    env = env_for(tmp_path, REUSE_PORT="false")
    with authbridge_serve(env, tmp_path, "--workers", "2", ready="/healthz") as served:
        assert httpx.get(served.origin + "/healthz").status_code == 200
        assert "SO_REUSEPORT" not in served.text()


def test_a_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "tasks-api"), "serve", "--workers", "2"],
            env={**env_for(tmp_path), "PORT": str(port)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr


def test_an_ipv6_address_works(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    with authbridge_serve(env, tmp_path, "--workers", "2", ready="/healthz", host="::1") as s:
        assert f"Uvicorn running on {s.origin} " in s.text()  # the address in brackets
