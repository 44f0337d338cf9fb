"""``PostgresProxy``: a TCP proxy in front of the local PostgreSQL that can cut the line and
counts the round trips clients make."""

from __future__ import annotations

import asyncio
import contextlib
import struct

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


class PostgresProxy:
    """A TCP proxy in front of the local PostgreSQL, for tests that need to see or break the
    wire: ``sever()`` drops every connection and refuses new ones (an outage), and
    ``round_trips`` lists each round trip clients started, in order.

    A round trip ends with a simple ``Query`` (labelled with its first word: ``BEGIN``,
    ``COMMIT``...) or with a ``Sync`` closing an extended-protocol batch (labelled
    ``execute``, or ``prepare`` when the batch parsed a new statement). Clients must connect
    without TLS (``?ssl=disable``) so the messages can be read.
    """

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.cut = False
        self.round_trips: list[str] = []
        self.connections = 0  # connections clients opened through the proxy
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def url(self, port: int) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test?ssl=disable"

    def take(self) -> list[str]:
        trips = list(self.round_trips)
        self.round_trips.clear()  # in place: each connection's parser appends to this list
        return trips

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer, _FrontendMessages(self.round_trips)),
            self._pipe(up_reader, writer, None),
        )

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        messages: _FrontendMessages | None,
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                if messages is not None:
                    messages.feed(data)
                sink.write(data)
                await sink.drain()
        sink.close()
        self.writers.discard(sink)

    def sever(self) -> None:
        self.cut = True
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.sever()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class _FrontendMessages:
    """Splits a client's byte stream into PostgreSQL frontend messages (protocol 3.0)."""

    def __init__(self, round_trips: list[str]) -> None:
        self.round_trips = round_trips
        self.buffer = b""
        self.started = False  # past the untyped startup packets
        self.parsed = False  # this extended-protocol batch had a Parse

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return
                length, code = struct.unpack("!ii", self.buffer[:8])
                if len(self.buffer) < length:
                    return
                self.buffer = self.buffer[length:]
                self.started = code not in (_SSL_REQUEST, _GSSENC_REQUEST)
                continue
            if len(self.buffer) < 5:
                return
            kind, length = self.buffer[:1], int.from_bytes(self.buffer[1:5], "big")
            if len(self.buffer) < 1 + length:
                return
            body, self.buffer = self.buffer[5 : 1 + length], self.buffer[1 + length :]
            if kind == b"Q":
                words = body.rstrip(b"\0").decode().split(None, 1)
                first = words[0].rstrip(";").upper() if words else ""
                self.round_trips.append(first or ";")  # a bare ";" is labelled ";"
            elif kind == b"P":
                self.parsed = True
            elif kind == b"S":
                self.round_trips.append("prepare" if self.parsed else "execute")
                self.parsed = False
