"""APDU channel over HDLC (IEC 62056-46) on a TCP connection, driving the sans-IO HDLC link.

The link keeps no time: this adapter passes ``time.monotonic()`` as ``now``, re-arms one timer from
``link.next_deadline()`` (retransmission, inter-frame and inactivity timers) and writes whatever the
link produces by itself (UA, RR, next segments, retransmissions).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from openprepaid.cosem.errors import ProtocolError
from openprepaid.cosem.hdlc_client import HdlcClientLink
from openprepaid.cosem.hdlc_frame import HdlcAddress
from openprepaid.cosem.hdlc_link import ApduReceived, Connected, Disconnected, HdlcLink, LinkFailed
from openprepaid.cosem.hdlc_server import HdlcServerLink
from openprepaid.transport.channel import ApduChannel, ByteSink, ByteSource
from openprepaid.transport.errors import TransportClosed, TransportProtocolError, TransportTimeout


class HdlcChannel(ApduChannel):
    """Client (``HdlcClientLink``) or server (``HdlcServerLink``) side, chosen by the link given."""

    def __init__(self, reader: ByteSource, writer: ByteSink, link: HdlcLink) -> None:
        super().__init__(reader, writer)
        self.link = link
        self._apdus: list[bytes] = []
        self._pending_read: asyncio.Task[bytes] | None = None

    @property
    def peer_sap(self) -> int:
        """The client address on a server link (the client SAP the association is for)."""
        return int(self.link.peer_address.upper)

    async def open(self, timeout_s: float) -> None:
        if not isinstance(self.link, HdlcClientLink):
            return
        await self._write(self.link.connect(time.monotonic()))
        deadline = time.monotonic() + timeout_s
        while True:
            event = await self._step(deadline)
            if isinstance(event, Connected):
                return

    async def send(self, apdu: bytes) -> None:
        expect_reply = isinstance(self.link, HdlcClientLink)
        await self._write(self.link.send_apdu(apdu, time.monotonic(), expect_reply=expect_reply))
        self.stats.apdus_sent += 1

    async def receive(self, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        while not self._apdus:
            await self._step(deadline)
        self.stats.apdus_received += 1
        return self._apdus.pop(0)

    async def _step(self, deadline: float) -> object:
        """Wait for bytes or the link's own timer; apply them; return the last significant event."""
        now = time.monotonic()
        link_deadline = self.link.next_deadline()
        wake_at = min(deadline, link_deadline) if link_deadline is not None else deadline
        if wake_at <= now:
            if link_deadline is not None and link_deadline <= now:
                self.link.handle_timeout(now)
                await self._flush()
                return self._drain_events()
            raise TransportTimeout(f"no HDLC reply from {self.peer} in time")
        if self._pending_read is None:
            self._pending_read = asyncio.ensure_future(self._read_some())
        reading = self._pending_read  # a failed read closes the channel, which forgets _pending_read
        done, _ = await asyncio.wait({reading}, timeout=wake_at - now)
        if done:
            if self._pending_read is reading:
                self._pending_read = None
            data = reading.result()  # raises TransportClosed / TransportNetworkError from _read_some
            self.link.receive_data(data, time.monotonic())
        else:
            self.link.handle_timeout(time.monotonic())
        await self._flush()
        return self._drain_events()

    def _drain_events(self) -> object:
        last: object = None
        while (event := self.link.next_event()) is not None:
            if isinstance(event, ApduReceived):
                self._apdus.append(event.apdu)
            elif isinstance(event, LinkFailed):
                raise TransportProtocolError(f"HDLC link to {self.peer} failed: {event.reason}")
            elif isinstance(event, Disconnected):
                raise TransportClosed(f"HDLC link to {self.peer} disconnected: {event.cause.value}")
            last = event
        return last

    async def _flush(self) -> None:
        out = self.link.data_to_send()
        if out:
            await self._write(out)

    async def close(self) -> None:
        if self._pending_read is not None:
            self._pending_read.cancel()
            self._pending_read = None
        if not self.closed and isinstance(self.link, HdlcClientLink):
            # Best-effort goodbye on a link we are closing anyway.
            with contextlib.suppress(TransportClosed, TransportProtocolError, OSError, ProtocolError):
                await self._write(self.link.disconnect(time.monotonic()))
        await super().close()


def server_link(server_address: int, *, physical_address: int = 0x10) -> HdlcServerLink:
    """An IS 15959 meter's HDLC server link: logical device ``server_address``, physical address 0x10+."""
    return HdlcServerLink(HdlcAddress.server(server_address, physical_address))


def client_link(client_sap: int, server_address: int, *, physical_address: int = 0x10) -> HdlcClientLink:
    return HdlcClientLink(client_sap, HdlcAddress.server(server_address, physical_address))
