"""Dial-in: meters whose modem opens the TCP connection to the head-end (C7; wrapper or HDLC).

A dial-in meter connects to this listener and first sends its announcement, a ``DataNotification``
(IEC 62056-5-3 9.3.10) whose body is ``structure { logical device name (0.0.42.0.0.255), serial
number (0.0.96.1.0.255), system title octet-string(8) }`` (docs/simulator.md), plain or
general-glo-ciphered. The meter is identified in the registry by system title, else by serial; an
unknown meter, a serial announced with another meter's system title, or no announcement within
``announce_timeout_s`` closes the connection (logged and counted). After that the meter serves COSEM
requests on the same connection: the head-end is the client, as if it had dialled.

``DialInListener`` implements ``hes.dlms_session.DialInChannels``: it keeps one open connection per
meter (by the registry's system title), lends it to one session at a time (``take`` /
``give_back``) and drops it when the meter closes it or a newer connection of the same meter
replaces it. The wrapper's client wPort follows each association: IS 15959 fixes one
authentication mechanism per client SAP (none 16, LLS 32, HLS-GMAC 48), so the AARQ tells which.

The framing is told by the first octet: 0x00 (the wrapper's version 0x0001, IEC 62056-47) or the
HDLC flag 0x7E (IEC 62056-46, a modem tunnelling the meter's HDLC port: ``transport.hdlc_dial_in``);
anything else is refused. Over HDLC the announcement is a UI frame from the meter's server address,
and the lent ``HdlcDialInChannel`` is the primary: each association connects its own link with the
client SAP of its AARQ (SNRM/UA before the AARQ goes out), and ``give_back`` takes the link down
(DISC) before the line can be lent again, so every session starts from SNRM as a dialled HDLC session
does and the meter's inactivity timer never runs between sessions. The framing must be the one the
registry holds for the meter (``meter.framing``): a meter registered as HDLC that dials in with the
wrapper, or the reverse, is refused and counted ``invalid`` (the registry says how the meter is
configured; a mismatch is a misconfigured modem or another device claiming the meter's identity).

A meter that connects for the first time since the head-end started, or after being away longer
than ``back_after_s``, is *back*: ``on_meter_back`` (the push handler's dial-in path) collects it at
once (backfill); a routine reconnection (modems drop idle connections) only marks it seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from openprepaid.cosem.acse import AARQ, MechanismName, decode_acse
from openprepaid.cosem.axdr import decode_data
from openprepaid.cosem.errors import CosemError
from openprepaid.cosem.xdlms import decode_xdlms_apdu
from openprepaid.cosem.xdlms_notification import DataNotification
from openprepaid.hes.clock import Clock
from openprepaid.hes.database import Database
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.push_handler import DialIn, MeterIdentity
from openprepaid.hes.push_listener import InvalidPushError, NotificationOpener
from openprepaid.hes.retry import HesError
from openprepaid.hes.session import Association
from openprepaid.hes.targets import TargetDirectory
from openprepaid.store.model import Framing
from openprepaid.store.repository import hes as repo
from openprepaid.transport.channel import READ_CHUNK, ApduChannel
from openprepaid.transport.errors import TransportClosed, TransportError, TransportProtocolError, TransportTimeout
from openprepaid.transport.hdlc_dial_in import HdlcDialInChannel, PrefixedReader
from openprepaid.transport.tcp import Listener
from openprepaid.transport.wrapper_channel import WrapperChannel

log = logging.getLogger(__name__)

AARQ_TAG = 0x60
HDLC_FLAG = 0x7E
WRAPPER_FIRST_OCTET = 0x00  # the wrapper's version field is 0x0001
CLOSE_WAIT_ROUNDS = 100
ANNOUNCEMENT_WPORT = 1  # the announcement travels between the management logical devices
SAP_BY_MECHANISM: dict[int | None, int] = {
    None: int(Association.PUBLIC),
    MechanismName.LOWEST: int(Association.PUBLIC),
    MechanismName.LOW: int(Association.METER_READER),
    MechanismName.HIGH_GMAC: int(Association.UTILITY_SETTINGS),
}
DialInNotifier = Callable[[DialIn], Awaitable[int | None]]


class DialInChannel(WrapperChannel):
    """A wrapper channel on a connection the meter opened; the client wPort is set from each AARQ."""

    def __init__(self, reader: PrefixedReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer, local_wport=ANNOUNCEMENT_WPORT, remote_wport=None)
        self._stream = reader

    @property
    def peer_gone(self) -> bool:
        """The meter closed the connection (seen without reading: nothing may read a lent channel)."""
        return self.closed or self._stream.at_eof()

    async def read_announcement(self, timeout_s: float) -> bytes:
        apdu = await self.receive(timeout_s)
        self._learn_remote = False  # from now on only the meter's logical device may answer
        return apdu

    async def send(self, apdu: bytes) -> None:
        if apdu[:1] == bytes((AARQ_TAG,)):
            sap = client_sap_of(apdu)
            if sap is None:
                raise TransportProtocolError("the AARQ asks for a mechanism no IS 15959 client SAP uses")
            self.local_wport = sap
        await super().send(apdu)


def client_sap_of(aarq: bytes) -> int | None:
    """The IS 15959 client SAP whose authentication mechanism this AARQ asks for (None: none does)."""
    try:
        request = decode_acse(aarq)
    except CosemError:
        return None
    if not isinstance(request, AARQ):
        return None
    return SAP_BY_MECHANISM.get(request.mechanism_name)  # IntEnum keys match the plain numbers too


LineChannel = DialInChannel | HdlcDialInChannel


def framing_of(channel: LineChannel) -> Framing:
    return Framing.HDLC if isinstance(channel, HdlcDialInChannel) else Framing.WRAPPER


async def open_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout_s: float) -> LineChannel:
    """The channel for the framing the meter's first octet shows (wrapper or HDLC)."""
    try:
        first = await asyncio.wait_for(reader.read(READ_CHUNK), timeout_s)
    except TimeoutError as exc:
        raise TransportTimeout(f"nothing received within {timeout_s:g} s") from exc
    except (ConnectionError, OSError) as exc:
        raise TransportClosed(f"the connection failed before the announcement: {exc}") from exc
    if not first:
        raise TransportClosed("the peer closed the connection before announcing itself")
    prefixed = PrefixedReader(reader, first)
    if first[0] == HDLC_FLAG:
        return HdlcDialInChannel(prefixed, writer, client_sap_for=client_sap_of)
    if first[0] == WRAPPER_FIRST_OCTET:
        return DialInChannel(prefixed, writer)
    raise TransportProtocolError(f"the first octet 0x{first[0]:02x} opens neither a wrapper nor an HDLC frame")


@dataclass(frozen=True, slots=True)
class Announcement:
    logical_device_name: bytes | None
    serial: str | None
    system_title: bytes | None


def announcement_from_body(body: Any) -> Announcement:
    """The announcement structure -> its fields (``InvalidPushError`` if it is not one)."""
    if not isinstance(body, tuple) or len(body) < 3:
        raise InvalidPushError("the announcement is not a structure of three values")
    name, serial, title = body[:3]
    if isinstance(serial, bytes):
        serial = serial.decode("latin-1")
    serial = serial.strip("\x00 ") if isinstance(serial, str) else None
    if title is not None and not (isinstance(title, bytes) and len(title) in (0, 8)):
        raise InvalidPushError("the announced system title is not 8 octets")
    return Announcement(
        logical_device_name=name if isinstance(name, bytes) else None,
        serial=serial if serial and serial.isprintable() else None,
        system_title=title or None,
    )


@dataclass(eq=False)
class _Line:
    """One meter's open connection and whether a session holds it."""

    channel: LineChannel
    meter_id: int
    ended: asyncio.Event
    in_use: bool = False
    dropped: bool = False
    settling: asyncio.Task[None] | None = None  # HDLC: the DISC after the last session


@dataclass
class DialInStats:
    connections: int = 0
    announced: int = 0
    refused: int = 0
    replaced: int = 0
    back: int = 0


class DialInListener:
    def __init__(
        self,
        db: Database,
        targets: TargetDirectory,
        clock: Clock,
        *,
        on_meter_back: DialInNotifier,
        opener: NotificationOpener | None = None,
        metrics: HesMetrics | None = None,
        max_connections: int = 20_000,
        announce_timeout_s: float = 10.0,
        back_after_s: float = 900.0,
        sweep_s: float = 5.0,
    ) -> None:
        self._db = db
        self._targets = targets
        self._clock = clock
        self._on_meter_back = on_meter_back
        self._opener = opener or NotificationOpener(None)
        self.metrics = metrics
        self._announce_timeout_s = announce_timeout_s
        self._back_after_s = back_after_s
        self._sweep_s = sweep_s
        self._lines: dict[bytes, _Line] = {}
        self._lent: dict[ApduChannel, _Line] = {}
        self._left_at: dict[bytes, float] = {}  # monotonic time each meter's last line ended
        self._closing: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._listener = Listener(self._serve, max_connections=max_connections)
        self.stats = DialInStats()

    @property
    def port(self) -> int:
        return self._listener.port

    @property
    def connected(self) -> int:
        return len(self._lines)

    def is_connected(self, system_title: bytes) -> bool:
        line = self._lines.get(system_title)
        return line is not None and not line.channel.peer_gone

    async def start(self, host: str, port: int) -> None:
        await self._listener.start(host, port, backlog=1024)
        self._sweeper = asyncio.create_task(self._sweep(), name="dial-in-sweep")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for title in list(self._lines):
            self._drop(title)
        if self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)
        # Let the connections' tasks see their line ended before the listener cancels what is left.
        for _ in range(CLOSE_WAIT_ROUNDS):
            if not self._listener.active_connections:
                break
            await asyncio.sleep(0.01)
        await self._listener.close()

    # --- DialInChannels --------------------------------------------------------------------------------

    async def take(self, system_title: bytes) -> ApduChannel | None:
        """The meter's open connection, lent to one session; None if it has none (or it is lent)."""
        line = self._lines.get(system_title)
        if line is None or (line.in_use and not line.channel.closed):
            return None
        if line.channel.peer_gone:
            self._drop(system_title)
            return None
        if line.settling is not None:
            await asyncio.gather(line.settling, return_exceptions=True)
            line.settling = None
            if line.channel.closed or line.in_use:
                return None  # the link could not be taken down (the line is dropped), or raced
        line.in_use = True
        self._lent[line.channel] = line
        return line.channel

    def give_back(self, system_title: bytes, channel: ApduChannel) -> None:
        line = self._lent.pop(channel, None)
        if line is None:
            self._close_later(channel)  # not lent by this listener: nothing else may use it
            return
        line.in_use = False
        if line.dropped:
            self._end(line)  # replaced by a newer connection while it was lent
        elif line.channel.peer_gone:
            self._drop(system_title)
        elif isinstance(line.channel, HdlcDialInChannel):
            line.settling = asyncio.get_running_loop().create_task(self._end_link(line.channel))
            self._closing.add(line.settling)  # awaited by the next take(), or by close()
            line.settling.add_done_callback(self._closing.discard)

    async def _end_link(self, channel: HdlcDialInChannel) -> None:
        """DISC after a session; a meter that does not confirm it loses the line (the sweep drops it)."""
        try:
            await channel.end_link()
        except TransportError as exc:
            log.warning("dial-in line from %s: the HDLC link did not come down: %s", channel.peer, exc)
            await channel.close()

    # --- connections -----------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        started = self._clock.monotonic()
        try:
            channel = await open_line(reader, writer, self._announce_timeout_s)
        except TransportError as exc:
            self.stats.refused += 1
            self._count("invalid")
            peer = writer.get_extra_info("peername")
            log.warning("dial-in from %s refused: %s", peer, exc)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            return
        try:
            remaining_s = max(0.0, self._announce_timeout_s - (self._clock.monotonic() - started))
            announcement = await self._announcement(channel, remaining_s)
            found = await self._identify(announcement, channel.peer, framing_of(channel))
        except (TransportError, CosemError, HesError) as exc:  # InvalidPushError is a HesError
            self.stats.refused += 1
            self._count("invalid")
            log.warning("dial-in from %s refused: %s", channel.peer, exc)
            await channel.close()
            return
        if found is None:
            self.stats.refused += 1
            await channel.close()
            return
        meter_id, title = found
        line = _Line(channel, meter_id, asyncio.Event())
        back = self._register(title, line)
        try:
            await self._announce(meter_id, announcement, channel.peer, back=back)
        except HesError as exc:
            log.warning("meter %d: dial-in noted only in part: %s", meter_id, exc)
        await line.ended.wait()

    async def _announcement(self, channel: LineChannel, timeout_s: float) -> Announcement:
        apdu = await channel.read_announcement(timeout_s)
        plain, ciphered_by = await self._opener.open(apdu)
        notification = decode_xdlms_apdu(plain)
        if not isinstance(notification, DataNotification):
            raise InvalidPushError(f"the first APDU is a {type(notification).__name__}, not an announcement")
        announcement = announcement_from_body(decode_data(notification.body))
        if ciphered_by is not None and announcement.system_title not in (None, ciphered_by):
            raise InvalidPushError("the announced system title is not the one that ciphered it")
        if ciphered_by is not None:
            announcement = Announcement(announcement.logical_device_name, announcement.serial, ciphered_by)
        self.stats.announced += 1
        return announcement

    async def _identify(self, announcement: Announcement, peer: str, framing: Framing) -> tuple[int, bytes] | None:
        """(meter id, its registry system title), or None for an unknown meter (logged and counted)."""
        title, serial = announcement.system_title, announcement.serial
        meter_id = await self._db.run(lambda session: repo.meter_id_by_identity(session, title, serial))
        if meter_id is None:
            self._count("unknown_meter")
            log.warning(
                "dial-in from an unknown meter refused: peer=%s system_title=%s serial=%r",
                peer,
                title.hex() if title else None,
                serial,
            )
            return None
        target = await self._targets.get(meter_id)
        if title is not None and title != target.system_title:
            raise InvalidPushError(
                f"meter {target.serial} announced system title {title.hex()}, the registry has "
                f"{target.system_title.hex()}"
            )
        if framing is not target.framing:
            raise InvalidPushError(
                f"meter {target.serial} dialled in with {framing.value} framing, the registry has "
                f"{target.framing.value}"
            )
        return meter_id, target.system_title

    def _register(self, title: bytes, line: _Line) -> bool:
        """Keep the new line (a newer connection replaces an older one); whether the meter is back."""
        now = self._clock.monotonic()
        old = self._lines.get(title)
        if old is not None:
            self.stats.replaced += 1
            self._end(old)
        self._lines[title] = line
        left_at = self._left_at.pop(title, None)
        return old is None and (left_at is None or now - left_at >= self._back_after_s)

    async def _announce(self, meter_id: int, announcement: Announcement, peer: str, *, back: bool) -> None:
        identity = MeterIdentity(system_title=announcement.system_title, device_id=announcement.serial)
        received_at = self._clock.now()
        if back:
            self.stats.back += 1
            await self._on_meter_back(DialIn(identity=identity, peer=peer, received_at=received_at))
            return
        self._count("ok")
        await self._db.run(lambda session: repo.mark_seen(session, meter_id, received_at))

    def _drop(self, title: bytes) -> None:
        line = self._lines.pop(title, None)
        if line is not None:
            self._left_at[title] = self._clock.monotonic()
            self._end(line)

    def _end(self, line: _Line) -> None:
        """Close a line's connection and end its task; if a session holds it, when it is given back."""
        line.dropped = True
        if line.in_use and not line.channel.closed:
            return
        self._lent.pop(line.channel, None)
        self._close_later(line.channel)
        line.ended.set()

    def _close_later(self, channel: ApduChannel) -> None:
        task = asyncio.get_running_loop().create_task(channel.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _sweep(self) -> None:
        """Drop connections the meters closed while nobody was using them (bounded memory)."""
        while True:
            await self._clock.sleep(self._sweep_s)
            for title, line in list(self._lines.items()):
                # A closed channel is of no use, even if the session that closed it never gave it back.
                if line.channel.closed or (not line.in_use and line.channel.peer_gone):
                    self._drop(title)
            horizon = self._clock.monotonic() - self._back_after_s
            self._left_at = {title: at for title, at in self._left_at.items() if at > horizon}

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.pushes.labels(kind="dial_in", outcome=outcome).inc()
