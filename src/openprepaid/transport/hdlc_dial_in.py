"""HDLC (IEC 62056-46) on a TCP connection the meter opened: both ends of a dial-in HDLC line.

Some cellular modems tunnel a meter's optical or RS-485 HDLC port transparently over TCP. Such a
meter dials the head-end, sends its announcement as one non-solicited **UI frame** (the secondary's
own frame: destination the client address ``ANNOUNCEMENT_CLIENT``, source the meter's server
address as in all its frames, LLC header E6 E7 00, P/F 0: nobody polled), and then is the HDLC
secondary on that connection. The head-end is the primary:

* ``HdlcDialInChannel`` (head-end) reads the UI frame (``read_announcement``); a frame that fails
  its HCS/FCS, length or flags, or that is not a single UI frame with the LLC header, refuses the
  connection (``TransportProtocolError``). Each association brings the link up itself: the first
  APDU of a session is the AARQ, whose mechanism names the IS 15959 client SAP (``client_sap_for``),
  so ``send`` connects the link (SNRM/UA) with that client address before the AARQ goes out.
  ``end_link`` (DISC, answered by UA or DM) takes it down again when the session ends; a link still
  up when the next AARQ comes is taken down first. The server address is the announcement's source.
* ``HdlcSessionServerChannel`` (meter) is the server channel of a listening HDLC meter, except that
  the link going down (DISC, a new SNRM, inactivity) does not end the connection: the next session
  connects again on it. ``link_generation`` counts the links, so that a server can start a fresh
  association for each (the association does not outlive the link it was made on).

``PrefixedReader`` gives a channel the bytes a listener read to tell the framings apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from openprepaid.cosem.hdlc_client import HdlcClientLink
from openprepaid.cosem.hdlc_frame import LLC_COMMAND, LLC_RESPONSE, FrameKind, HdlcAddress, HdlcFrame
from openprepaid.cosem.hdlc_link import ApduReceived, Connected, Disconnected, LinkFailed, LinkState
from openprepaid.cosem.hdlc_server import HdlcServerLink
from openprepaid.cosem.hdlc_stream import FrameDropped, HdlcFrameDecoder
from openprepaid.transport.channel import ByteSink
from openprepaid.transport.errors import TransportClosed, TransportProtocolError, TransportTimeout
from openprepaid.transport.hdlc_channel import HdlcChannel

ANNOUNCEMENT_CLIENT = 1  # the UI frame goes to client address 1, as the wrapper announcement to wPort 1
AARQ_TAG = 0x60
DEFAULT_LINK_TIMEOUT_S = 10.0


class PrefixedReader:
    """A stream reader that first returns bytes already read from it (at most ``n`` at a time)."""

    def __init__(self, reader: asyncio.StreamReader, prefix: bytes) -> None:
        self._reader = reader
        self._prefix = prefix

    async def read(self, n: int) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix[:n], self._prefix[n:]
            return data
        return await self._reader.read(n)

    def at_eof(self) -> bool:
        return not self._prefix and self._reader.at_eof()


def announcement_ui_frame(server_address: HdlcAddress, apdu: bytes) -> bytes:
    """The UI frame a dial-in HDLC meter opens its connection with (see the module docstring)."""
    return HdlcFrame(
        FrameKind.UI,
        destination=HdlcAddress.client(ANNOUNCEMENT_CLIENT),
        source=server_address,
        poll_final=False,
        info=LLC_RESPONSE + apdu,
    ).encode()


class HdlcDialInChannel(HdlcChannel):
    """The head-end's HDLC channel on a dial-in connection: one link per association (SNRM at its AARQ)."""

    def __init__(
        self,
        reader: PrefixedReader,
        writer: ByteSink,
        *,
        client_sap_for: Callable[[bytes], int | None],
        link_timeout_s: float = DEFAULT_LINK_TIMEOUT_S,
    ) -> None:
        # Until the announcement names the meter's address, a placeholder link that is never connected.
        super().__init__(reader, writer, HdlcClientLink(ANNOUNCEMENT_CLIENT, HdlcAddress.server(1)))
        self._stream = reader
        self._client_sap_for = client_sap_for
        self.link_timeout_s = link_timeout_s
        self.server_address: HdlcAddress | None = None
        self.links = 0

    @property
    def peer_gone(self) -> bool:
        """The meter closed the connection (seen without reading: nothing may read a lent channel)."""
        return self.closed or self._stream.at_eof()

    async def read_announcement(self, timeout_s: float) -> bytes:
        """The APDU of the meter's UI frame; ``TransportProtocolError`` for anything else."""
        decoder = HdlcFrameDecoder()
        try:
            async with asyncio.timeout(timeout_s):
                while (result := decoder.next_result()) is None:
                    decoder.feed(await self._read_some())
        except TimeoutError as exc:
            raise TransportTimeout(f"no announcement from {self.peer} within {timeout_s:g} s") from exc
        if isinstance(result, FrameDropped):
            raise TransportProtocolError(f"from {self.peer}: {result.reason}")
        frame = result.frame
        if frame.kind is not FrameKind.UI or frame.segmented:
            raise TransportProtocolError(f"{self.peer} opened with a {frame.kind.value} frame, not one UI frame")
        if frame.destination.size != 1:
            raise TransportProtocolError(f"{self.peer} sent its UI frame to {frame.destination}, not to a client")
        if frame.info[:3] not in (LLC_RESPONSE, LLC_COMMAND):
            raise TransportProtocolError(f"{self.peer} sent a UI frame without the LLC header")
        self.server_address = frame.source
        return frame.info[3:]

    async def send(self, apdu: bytes) -> None:
        if apdu[:1] == bytes((AARQ_TAG,)):
            await self._connect_for(apdu)
        elif self.link.state is LinkState.DISCONNECTED:
            raise TransportProtocolError(f"no HDLC link to {self.peer}: a session starts with its AARQ")
        await super().send(apdu)

    async def _connect_for(self, aarq: bytes) -> None:
        if self.server_address is None:
            raise TransportProtocolError(f"{self.peer} has not announced itself")
        client_sap = self._client_sap_for(aarq)
        if client_sap is None:
            raise TransportProtocolError("the AARQ asks for a mechanism no IS 15959 client SAP uses")
        await self.end_link()
        self.link = HdlcClientLink(client_sap, self.server_address)
        self.links += 1
        try:
            await self.open(self.link_timeout_s)
        except (TransportClosed, TransportProtocolError, TransportTimeout):
            await self._abort()  # a meter that will not connect its link: the line is of no further use
            raise

    async def end_link(self) -> None:
        """Take the link down (DISC; UA or DM confirms), keeping the connection; nothing if it is down."""
        if self.closed or self.link.state is LinkState.DISCONNECTED:
            return
        self._apdus.clear()
        if self.link.state is LinkState.ERROR:  # a broken link cannot send DISC: start over with SNRM
            return
        await self._write(self.link.disconnect(time.monotonic()))
        deadline = time.monotonic() + self.link_timeout_s
        try:
            while self._link_up():
                await self._step(deadline)
        except TransportClosed:
            if self.closed:
                raise
        except TransportProtocolError:
            await self._abort()  # the meter answered DISC with nonsense: the line is of no further use
            raise

    def _link_up(self) -> bool:
        return self.link.state is not LinkState.DISCONNECTED


class HdlcSessionServerChannel(HdlcChannel):
    """A meter's HDLC server channel that outlives its links (see the module docstring)."""

    def __init__(self, reader: asyncio.StreamReader, writer: ByteSink, link: HdlcServerLink) -> None:
        super().__init__(reader, writer, link)
        self.link_generation = 0

    def _drain_events(self) -> object:
        last: object = None
        while (event := self.link.next_event()) is not None:
            if isinstance(event, ApduReceived):
                if not event.unnumbered:
                    self._apdus.append(event.apdu)
            elif isinstance(event, Connected):
                self.link_generation += 1
                self._apdus.clear()
            elif isinstance(event, Disconnected):
                self._apdus.clear()  # what was not answered is lost with the link; the connection stays
            elif isinstance(event, LinkFailed):
                pass  # the server link answers with FRMR until SNRM or DISC; the client decides
            last = event
        return last
