"""``serve --workers N``: each worker listens on a socket of its own, in one SO_REUSEPORT group.

uvicorn's workers share one listening socket, and whichever worker wakes first accepts a whole
burst of new connections; with keep-alive they stay on it. Measured on 2 workers: in 2 of 8
bursts of 32 connections (wrk) one worker took all 32 and throughput fell to one worker's.
With a socket per worker in a SO_REUSEPORT group, the kernel spreads connections by their
address hash (8 of 8 bursts shared by both workers). uvicorn's supervisor still runs the workers
(restarts, signals, graceful shutdown); only the socket each worker gets changes.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import uvicorn

__all__ = ["CannotListen", "bind_reuse_port", "reuse_port_supported", "run_workers"]

logger = logging.getLogger("uvicorn.error")


class CannotListen(Exception):
    """The address cannot be bound (in use, or not this machine's); no worker was started."""


def reuse_port_supported() -> bool:
    """Linux spreads connections across a SO_REUSEPORT group; other systems may not."""
    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def bind_reuse_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with SO_REUSEPORT, not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _OwnSocket:
    """Handed to uvicorn's supervisor in place of a socket: it is pickled into each worker
    process as a call to ``bind_reuse_port``, so every worker (restarted ones too) binds its
    own member of the group."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return bind_reuse_port, (self.host, self.port)


def run_workers(config: uvicorn.Config) -> None:
    """Run ``config.workers`` uvicorn workers, each on its own SO_REUSEPORT socket.

    Raises ``CannotListen`` before any worker starts when the address cannot be bound.
    """
    from uvicorn.supervisors import Multiprocess

    # The parent binds first and never listens: the address is checked before any worker
    # starts and stays reserved, while connections go only to listening sockets.
    try:
        holder = bind_reuse_port(config.host, config.port)
    except OSError as exc:
        raise CannotListen(exc.strerror or str(exc)) from None
    with holder:
        host = f"[{config.host}]" if ":" in config.host else config.host
        logger.info(
            "Uvicorn running on http://%s:%d (Press CTRL+C to quit); "
            "%d workers, one SO_REUSEPORT socket each",
            host,
            config.port,
            config.workers,
        )
        sockets = cast("list[socket.socket]", [_OwnSocket(config.host, config.port)])
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=sockets).run()
