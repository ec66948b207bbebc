"""APDU channels: an asyncio pipe that carries whole APDUs over a framed byte stream.

A channel owns one TCP connection and one framing (IEC 62056-47 wrapper or IEC 62056-46 HDLC). It
knows nothing of associations: the sans-IO association in ``openprepaid.cosem`` decides what to
send; the channel moves bytes, enforces timeouts and bounds, and translates errors at the boundary.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

from openprepaid.transport.errors import TransportClosed, TransportNetworkError

READ_CHUNK = 65_536


class ByteSource(Protocol):
    """What a channel reads from: ``asyncio.StreamReader`` or a dialled ``tcp_stream.TcpStream``."""

    async def read(self, n: int) -> bytes: ...


class ByteSink(Protocol):
    """What a channel writes to: ``asyncio.StreamWriter`` or a dialled ``tcp_stream.TcpStream``."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


@dataclass(slots=True)
class ChannelStats:
    bytes_sent: int = 0
    bytes_received: int = 0
    apdus_sent: int = 0
    apdus_received: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class ApduChannel(ABC):
    """Send and receive whole APDUs; every receive has a deadline."""

    def __init__(self, reader: ByteSource, writer: ByteSink) -> None:
        self._reader = reader
        self._writer = writer
        self._closed = False
        self.stats = ChannelStats()
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    @abstractmethod
    def peer_sap(self) -> int:
        """On a server channel, the client SAP the last APDU came from."""

    @abstractmethod
    async def send(self, apdu: bytes) -> None: ...

    @abstractmethod
    async def receive(self, timeout_s: float) -> bytes: ...

    async def open(self, timeout_s: float) -> None:  # noqa: B027 - optional hook: HDLC connects its link here
        """Bring the link up (HDLC SNRM/UA); the wrapper needs nothing."""

    async def _write(self, data: bytes) -> None:
        if self._closed:
            raise TransportClosed(f"channel to {self.peer} is closed")
        try:
            self._writer.write(data)
            await self._writer.drain()  # back-pressure: wait for the kernel buffer, never queue unbounded
        except (ConnectionError, OSError) as exc:
            await self._abort()
            raise TransportNetworkError(f"send to {self.peer} failed: {exc}") from exc
        self.stats.bytes_sent += len(data)

    async def _read_some(self) -> bytes:
        if self._closed:
            raise TransportClosed(f"channel to {self.peer} is closed")
        try:
            data = await self._reader.read(READ_CHUNK)
        except (ConnectionError, OSError) as exc:
            await self._abort()
            raise TransportNetworkError(f"receive from {self.peer} failed: {exc}") from exc
        if not data:
            await self._abort()
            raise TransportClosed(f"{self.peer} closed the connection")
        self.stats.bytes_received += len(data)
        return data

    async def close(self) -> None:
        """Close the connection (idempotent); subclasses say goodbye on the link first."""
        await self._abort()

    async def _abort(self) -> None:
        """Close the connection without any protocol goodbye (the peer is gone or broke the stream)."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        # A cancellation arriving here is the caller's and goes on up (the socket is closed already);
        # swallowing it would leave a cancelled task running and make shutdowns cancel twice.
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
