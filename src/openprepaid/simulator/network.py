"""A fleet of virtual meters on the network: meter i listens on TCP port P + i (or dials in).

Each connection is an IS 15959 meter's COSEM server (logical device 1) over the TCP wrapper
(IEC 62056-47, wPort 1) or HDLC (IEC 62056-46, server address 1, physical 0x10): a
``ServerAssociation`` (client SAPs 16 / 32 / 48, see ``meter_security``) answering with
``MeterApplication``. Around it the network faults of the model apply (``wire_faults``): latency,
lost requests, resets and garbled frames from the meter's ``NetworkFaults``; a meter without supply
or inside an offline window refuses new connections (accepted, then closed at once) and drops the
ones it has.

Memory: 10,000 meters are 10,000 listening sockets and one small ``Listener`` each; the COSEM
state of a meter (invocation counter, replay guards) exists only once a client has connected.
Time: meters live on ``FleetClock`` (simulated true time, ``speed`` times real time); each meter is
brought up to the present when it is served, and ``keep_time`` advances the whole fleet a little at a
time in the background so that timed events (limiter trips, outages) push without being asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal, cast

from openprepaid.cosem.association_events import (
    ActionRequested,
    GetListRequested,
    GetRequested,
    SetListRequested,
    SetRequested,
)
from openprepaid.cosem.errors import DecodeError, ProtocolError
from openprepaid.cosem.server_association import ServerAssociation
from openprepaid.simulator.clock import FleetClock
from openprepaid.simulator.cosem_server import MeterApplication, ServerStats
from openprepaid.simulator.errors import SimulatorError
from openprepaid.simulator.faults import NetworkFaults
from openprepaid.simulator.fleet import Fleet
from openprepaid.simulator.meter_association import new_association
from openprepaid.simulator.meter_security import (
    TEST_CREDENTIALS,
    MeterCredentials,
    MeterSecurity,
    system_title_for,
)
from openprepaid.simulator.wire_faults import WRAPPER_HEADER_LENGTH, GarblingWriter, WireFaults, reset
from openprepaid.transport.channel import ApduChannel
from openprepaid.transport.errors import TransportError
from openprepaid.transport.hdlc_channel import HdlcChannel, server_link
from openprepaid.transport.hdlc_dial_in import HdlcSessionServerChannel
from openprepaid.transport.tcp import Listener
from openprepaid.transport.wrapper_channel import WrapperChannel

log = logging.getLogger(__name__)

Framing = Literal["wrapper", "hdlc"]
SERVER_WPORT = 1  # the meter's management logical device (IS 15959)
SERVER_ADDRESS = 1
REQUESTS = (GetRequested, GetListRequested, SetRequested, SetListRequested, ActionRequested)


class SimulatorNetworkError(SimulatorError):
    """The fleet could not be put on the network (a port in use, too many open files ...)."""


@dataclass(slots=True)
class NetworkStats:
    connections: int = 0
    refused: int = 0  # accepted while the meter was unreachable, closed at once
    dropped: int = 0
    resets: int = 0
    garbled: int = 0
    cosem: ServerStats = field(default_factory=ServerStats)


@dataclass(frozen=True, slots=True)
class _Session:
    index: int
    channel: ApduChannel
    wire: GarblingWriter
    writer: asyncio.StreamWriter
    association: ServerAssociation
    application: MeterApplication


class CredentialBook:
    """The credentials of every meter: one default (the TEST values unless given) and per-serial overrides."""

    def __init__(
        self, default: MeterCredentials = TEST_CREDENTIALS, overrides: Mapping[str, MeterCredentials] | None = None
    ) -> None:
        self.default = default
        self.overrides = dict(overrides or {})

    def for_serial(self, serial: str) -> MeterCredentials:
        return self.overrides.get(serial, self.default)


class FleetServer:
    """Serves every meter of ``fleet``; ``listen`` puts them on ports, ``serve`` runs one connection."""

    def __init__(
        self,
        fleet: Fleet,
        clock: FleetClock,
        *,
        framing: Framing = "wrapper",
        credentials: CredentialBook | None = None,
        seed: int = 0,
        idle_timeout_s: float = 120.0,
        max_connections_per_meter: int = 2,
    ) -> None:
        self.fleet = fleet
        self.clock = clock
        self.framing: Framing = framing
        self.credentials = credentials or CredentialBook()
        self.idle_timeout_s = idle_timeout_s
        self.max_connections_per_meter = max_connections_per_meter
        self.stats = NetworkStats()
        self.listeners: list[Listener] = []
        self.first_port = 0
        self._rng = random.Random(seed)
        self._security: dict[int, MeterSecurity] = {}
        self._live: dict[int, set[asyncio.StreamWriter]] = {}

    # --- time and reachability ---------------------------------------------------------------------

    def now_s(self) -> int:
        return self.clock.now_epoch_s()

    def reachable(self, index: int) -> bool:
        return self.fleet.is_reachable(index, self.now_s())

    def system_title(self, index: int) -> bytes:
        serial = self.fleet.meter(index).serial
        return self.credentials.for_serial(serial).system_title or system_title_for(serial)

    def security_of(self, index: int) -> MeterSecurity:
        security = self._security.get(index)
        if security is None:
            security = self._security[index] = MeterSecurity()
        return security

    async def keep_time(self, *, tick_s: float = 0.25, budget_s: float = 0.03) -> None:
        """Advance the fleet round-robin, at most ``budget_s`` of work per ``tick_s`` (runs until cancelled)."""
        meters = self.fleet.meters
        position = 0
        while True:
            now = self.now_s()
            deadline = time.monotonic() + budget_s
            for _ in range(len(meters)):
                meters[position].advance(now)
                position = (position + 1) % len(meters)
                if time.monotonic() >= deadline:
                    break
            await asyncio.sleep(tick_s)

    # --- listening ----------------------------------------------------------------------------------

    async def listen(self, host: str, first_port: int, *, backlog: int = 8) -> None:
        """Meter i listens on ``first_port + i``; all or nothing (a failure closes what was opened)."""
        self.first_port = first_port
        try:
            for index in range(len(self.fleet)):
                listener = Listener(partial(self._accepted, index), max_connections=self.max_connections_per_meter)
                await listener.start(host, first_port + index, backlog=backlog)
                self.listeners.append(listener)
        except OSError as exc:
            await self.close()
            raise SimulatorNetworkError(f"cannot listen on {host}:{first_port + len(self.listeners)}: {exc}") from exc

    async def _accepted(self, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.serve(index, reader, writer)

    def disconnect(self, index: int) -> int:
        """Drop the meter's live connections (it lost supply or went offline); how many were dropped."""
        writers = self._live.pop(index, set())
        for writer in writers:
            writer.transport.abort()
        return len(writers)

    async def close(self) -> None:
        """Drop every connection, then stop listening."""
        for index in list(self._live):
            self.disconnect(index)
        for _ in range(3):  # let the aborted connections' tasks see the end before they are cancelled
            await asyncio.sleep(0)
        for listener in self.listeners:
            await listener.close()
        self.listeners.clear()

    # --- one connection ------------------------------------------------------------------------------

    def _channel(self, reader: asyncio.StreamReader, wire: GarblingWriter, *, dialled_out: bool) -> ApduChannel:
        writer = cast(asyncio.StreamWriter, wire)  # the channel only writes, drains and closes
        if self.framing == "hdlc" and dialled_out:
            # The meter's own connection outlives each HDLC link: the head-end connects one per session.
            return HdlcSessionServerChannel(reader, writer, server_link(SERVER_ADDRESS))
        if self.framing == "hdlc":
            return HdlcChannel(reader, writer, server_link(SERVER_ADDRESS))
        return WrapperChannel(reader, writer, local_wport=SERVER_WPORT, remote_wport=None)

    async def serve(
        self, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, dialled_out: bool = False
    ) -> None:
        """Serve one connection to meter ``index`` until it closes, idles out, breaks or the meter goes away.

        ``dialled_out``: the meter opened the connection (dial-in); over HDLC each new link on it
        (SNRM) starts a fresh association, as the association does not outlive its link.
        """
        if not self.reachable(index):
            self.stats.refused += 1
            writer.close()
            return
        self.stats.connections += 1
        meter = self.fleet.meter(index)
        security = self.security_of(index)
        protect_prefix = WRAPPER_HEADER_LENGTH if self.framing == "wrapper" else 1
        wire = GarblingWriter(writer, self._rng, protect_prefix=protect_prefix)
        channel = self._channel(reader, wire, dialled_out=dialled_out)
        session = _Session(
            index,
            channel,
            wire,
            writer,
            new_association(meter.serial, self.credentials.for_serial(meter.serial), security),
            MeterApplication(meter, self.now_s, security, self.stats.cosem),
        )
        self._live.setdefault(index, set()).add(writer)
        link_generation = 1
        try:
            while True:
                try:
                    apdu = await channel.receive(self.idle_timeout_s)
                except TransportError:
                    return
                if isinstance(channel, HdlcSessionServerChannel) and channel.link_generation != link_generation:
                    link_generation = channel.link_generation
                    credentials = self.credentials.for_serial(meter.serial)
                    session = replace(session, association=new_association(meter.serial, credentials, security))
                if not await self._step(session, apdu):
                    return
        finally:
            live = self._live.get(index)
            if live is not None:
                live.discard(writer)
                if not live:
                    del self._live[index]
            with contextlib.suppress(TransportError, OSError):
                await channel.close()

    async def _step(self, session: _Session, apdu: bytes) -> bool:
        """One request through the faults, the association and the meter; False ends the connection."""
        if not self.reachable(session.index):
            return False
        faults = self.fleet.faults.network(session.index)
        draw = WireFaults(self._rng)
        if draw.drops(faults):
            self.stats.dropped += 1
            return True
        if draw.resets(faults):
            self.stats.resets += 1
            reset(session.writer)
            return False
        association, application = session.association, session.application
        try:
            event = association.receive_apdu(apdu, client_sap=session.channel.peer_sap)
        except (ProtocolError, DecodeError, TransportError) as exc:
            log.info("meter %s closes the connection from %s: %s", application.meter.serial, session.channel.peer, exc)
            return False
        if isinstance(event, REQUESTS):
            await application.handle(event, association)
        elif event is not None:
            application.observe(event)
        return await self._reply(session.channel, session.wire, association.data_to_send(), draw, faults)

    async def _reply(
        self, channel: ApduChannel, wire: GarblingWriter, replies: list[bytes], draw: WireFaults, faults: NetworkFaults
    ) -> bool:
        """Send the association's replies after the link's latency; False if the connection broke."""
        if not replies:
            return True
        delay = draw.latency_s(faults)
        if delay:
            await asyncio.sleep(delay)
        try:
            for reply in replies:
                if draw.garbles(faults):
                    self.stats.garbled += 1
                    wire.garble_next = True
                await channel.send(reply)
        except TransportError:
            return False
        return True
