"""A dialled TCP connection as one small object: the reading and the writing end an APDU channel needs.

``asyncio.open_connection`` builds a ``StreamReader``, a ``StreamReaderProtocol`` (with its deque of
drain waiters and two futures) and a ``StreamWriter`` per connection: about 1.5 KB before a byte moves.
A head-end holding 10,000 associations open pays that 10,000 times. ``TcpStream`` is the protocol
itself with ``__slots__``, its futures made only while someone waits, and its receive buffer dropped
once read. It offers exactly what ``ApduChannel`` uses of the two stream objects (``read``, ``write``,
``drain``, ``close``, ``wait_closed``, ``get_extra_info``, ``at_eof``), with the same semantics: an
error of the connection is raised by ``read``, ``drain`` and ``wait_closed``; reading pauses while
more than twice ``limit`` bytes wait unread; ``drain`` waits while the transport's buffer is full.
"""

from __future__ import annotations

import asyncio
from typing import Any

from openprepaid.transport.errors import TransportNetworkError, TransportTimeout

DEFAULT_LIMIT = 2**17


class TcpStream(asyncio.Protocol):
    __slots__ = (
        "_buffer",
        "_closed_waiter",
        "_drain_waiter",
        "_eof",
        "_error",
        "_limit",
        "_lost",
        "_read_waiter",
        "_reading_paused",
        "_transport",
        "_writing_paused",
    )

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        self._transport: asyncio.Transport | None = None
        self._buffer: bytearray | None = None
        self._eof = False
        self._lost = False
        self._error: BaseException | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._closed_waiter: asyncio.Future[None] | None = None

    # --- protocol callbacks (the event loop) -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._buffer is None:
            self._buffer = bytearray(data)
        else:
            self._buffer += data
        self._wake(self._read_waiter)
        if not self._reading_paused and len(self._buffer) > 2 * self._limit and self._transport is not None:
            self._transport.pause_reading()
            self._reading_paused = True

    def eof_received(self) -> bool:
        self._eof = True
        self._wake(self._read_waiter)
        return True  # half-close, as asyncio's streams do: writing may go on

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if exc is None:
            self._eof = True
        else:
            self._error = exc
        self._wake(self._read_waiter)
        self._wake(self._drain_waiter)
        if self._closed_waiter is not None and not self._closed_waiter.done():
            if exc is None:
                self._closed_waiter.set_result(None)
            else:
                self._closed_waiter.set_exception(exc)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake(self._drain_waiter)

    @staticmethod
    def _wake(waiter: asyncio.Future[None] | None) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- reading ---------------------------------------------------------------------------------------

    async def read(self, n: int) -> bytes:
        """Up to ``n`` (> 0) bytes, waiting for some; b"" at the end of the stream."""
        while True:
            if self._error is not None:
                raise self._error
            buffer = self._buffer
            if buffer:
                if n >= len(buffer):
                    self._buffer = None  # nothing kept between reads
                    data = bytes(buffer)
                else:
                    data = bytes(buffer[:n])
                    del buffer[:n]
                if self._reading_paused and self._transport is not None and len(self._buffer or b"") <= self._limit:
                    self._reading_paused = False
                    self._transport.resume_reading()
                return data
            if self._eof:
                return b""
            waiter = self._read_waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._read_waiter = None

    def at_eof(self) -> bool:
        return self._eof and not self._buffer

    # --- writing ---------------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)

    async def drain(self) -> None:
        if self._error is not None:
            raise self._error
        assert self._transport is not None
        if self._transport.is_closing():
            await asyncio.sleep(0)  # let connection_lost run, as StreamWriter.drain does
        if self._lost:
            raise ConnectionResetError("Connection lost")
        while self._writing_paused and not self._lost:
            waiter = self._drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._drain_waiter = None
        if self._lost:
            raise self._error if self._error is not None else ConnectionResetError("Connection lost")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def wait_closed(self) -> None:
        if self._lost:
            if self._error is not None:
                raise self._error
            return
        if self._closed_waiter is None:
            self._closed_waiter = asyncio.get_running_loop().create_future()
        await self._closed_waiter

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default if self._transport is None else self._transport.get_extra_info(name, default)


async def dial_stream(host: str, port: int, *, timeout_s: float, limit: int = DEFAULT_LIMIT) -> TcpStream:
    """Open TCP to ``host:port`` within ``timeout_s`` as a ``TcpStream``; errors as ``tcp.dial`` raises them."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            _transport, stream = await loop.create_connection(lambda: TcpStream(limit), host, port)
    except TimeoutError as exc:
        raise TransportTimeout(f"connect to {host}:{port} timed out after {timeout_s:g} s") from exc
    except OSError as exc:
        raise TransportNetworkError(f"connect to {host}:{port} failed: {exc}") from exc
    return stream
