"""APDU channel over the TCP wrapper (IEC 62056-47)."""

from __future__ import annotations

import asyncio

from openprepaid.cosem.errors import FramingError
from openprepaid.cosem.wrapper import WrapperDecoder, WrapperFrame
from openprepaid.transport.channel import ApduChannel, ByteSink, ByteSource
from openprepaid.transport.errors import TransportProtocolError, TransportTimeout


class WrapperChannel(ApduChannel):
    """Frames APDUs with wPorts ``local_wport`` -> ``remote_wport``; refuses frames for other ports.

    A client names the server's wPort (``remote_wport``) and accepts replies only from it. A server
    passes ``remote_wport=None``: it answers whichever client wPort (16, 32, 48 ...) spoke last, as a
    meter does when a new association on the same connection uses another client SAP.
    """

    def __init__(
        self,
        reader: ByteSource,
        writer: ByteSink,
        *,
        local_wport: int,
        remote_wport: int | None,
        max_apdu_length: int = 0xFFFF,
    ) -> None:
        super().__init__(reader, writer)
        self.local_wport = local_wport
        self.remote_wport = remote_wport
        self._learn_remote = remote_wport is None
        self._decoder = WrapperDecoder(max_apdu_length)

    @property
    def peer_sap(self) -> int:
        """The client SAP (wPort) of the last frame received: whom a server association serves."""
        if self.remote_wport is None:
            raise TransportProtocolError("nothing was received yet")
        return self.remote_wport

    async def send(self, apdu: bytes) -> None:
        if self.remote_wport is None:
            raise TransportProtocolError("the peer's wPort is unknown: nothing was received from it yet")
        try:
            data = WrapperFrame(self.local_wport, self.remote_wport, apdu).encode()
        except FramingError as exc:
            raise TransportProtocolError(str(exc)) from exc
        await self._write(data)
        self.stats.apdus_sent += 1

    async def receive(self, timeout_s: float) -> bytes:
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    frame = self._next_frame()
                    if frame is not None:
                        return frame.apdu
                    self._feed(await self._read_some())
        except TimeoutError as exc:
            raise TransportTimeout(f"no APDU from {self.peer} within {timeout_s:g} s") from exc

    def _feed(self, data: bytes) -> None:
        try:
            self._decoder.receive_data(data)
        except FramingError as exc:
            raise TransportProtocolError(f"from {self.peer}: {exc}") from exc

    def _next_frame(self) -> WrapperFrame | None:
        try:
            frame = self._decoder.next_event()
        except FramingError as exc:
            raise TransportProtocolError(f"from {self.peer}: {exc}") from exc
        if frame is None:
            return None
        if frame.destination_wport != self.local_wport:
            raise TransportProtocolError(
                f"{self.peer} sent a frame for wPort {frame.destination_wport}, this end is {self.local_wport}"
            )
        if self._learn_remote:
            self.remote_wport = frame.source_wport
        elif frame.source_wport != self.remote_wport:
            raise TransportProtocolError(
                f"{self.peer} sent from wPort {frame.source_wport}, expected {self.remote_wport}"
            )
        self.stats.apdus_received += 1
        return frame
