"""Dial-in over HDLC (IEC 62056-46 on the meter's own TCP connection).

Against the simulator dialling in with ``framing="hdlc"``: the announcement as a UI frame, one HDLC
link per session (SNRM at the AARQ with its client SAP, DISC when the session gives the line back),
sessions one after the other on the same connection. With a raw HDLC secondary driven by the sans-IO
server link: the SNRM's client address follows the AARQ, DISC at give-back, a meter that does not
confirm the DISC loses its line. With raw bytes: bad frames, bad check sequences, frames that are
not one UI frame and a framing other than the registry's are refused and counted.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from openprepaid.cosem.axdr import encode_data
from openprepaid.cosem.hdlc_frame import LLC_RESPONSE, FrameKind, HdlcAddress, HdlcFrame
from openprepaid.cosem.hdlc_link import ApduReceived, Connected, DisconnectCause, Disconnected, LinkState
from openprepaid.cosem.hdlc_server import HdlcServerLink
from openprepaid.cosem.xdlms_notification import DataNotification
from openprepaid.hes.retry import MeterNotConnectedError
from openprepaid.hes.session import Association
from openprepaid.simulator.meter_security import system_title_for
from openprepaid.store.model import CommMode, Framing
from openprepaid.transport.hdlc_dial_in import HdlcDialInChannel, announcement_ui_frame
from tests.hes.simulated_meters import SimulatedMeter, fleet_meters, register_fleet, sqlite_engine
from tests.hes.test_dial_in import AARQ_LLS, VAULT, Harness, announcement, dialling_fleet, raw_dial, until

SERIAL = "OPS00000001"
TITLE = system_title_for(SERIAL)
METER_ADDRESS = HdlcAddress.server(1, 0x10)
AARQ_PUBLIC = bytes.fromhex("601DA109060760857405080101BE10040E01000000065F1F0400001E1DFFFF")
# As for the wrapper's dial-in tests: the listener does not depend on the backend, SQLite only.
migrated_engine = pytest.fixture(scope="module")(sqlite_engine)


@pytest.fixture
async def harness(db, hes_sessions):
    h = Harness(db, hes_sessions)
    await h.listener.start("127.0.0.1", 0)
    yield h
    await h.listener.close()


def announcement_apdu(serial: str, title: bytes) -> bytes:
    body = encode_data((b"OPS" + serial.encode(), serial, title))
    return DataNotification(long_invoke_id_and_priority=1, body=body).encode()


def ui_announcement(serial: str = SERIAL, title: bytes = TITLE) -> bytes:
    return announcement_ui_frame(METER_ADDRESS, announcement_apdu(serial, title))


APDU = announcement_apdu(SERIAL, TITLE)


def register_one(hes_sessions, framing: Framing = Framing.HDLC) -> int:
    meters = [SimulatedMeter(SERIAL, "1P-WC")]
    [meter_id] = register_fleet(
        hes_sessions, VAULT, meters, first_port=None, comm_mode=CommMode.DIAL_IN, framing=framing
    )
    return meter_id


@pytest.mark.parametrize("ciphered", [False, True], ids=["plain", "ciphered-announcement"])
async def test_simulated_hdlc_meters_dial_in_and_are_read_session_after_session(harness, hes_sessions, ciphered):
    meters = 2
    simulation = await dialling_fleet(harness, meters, framing="hdlc", push_ciphering=ciphered)
    try:
        fleet = fleet_meters(simulation.fleet)
        ids = register_fleet(
            hes_sessions, VAULT, fleet, first_port=None, comm_mode=CommMode.DIAL_IN, framing=Framing.HDLC
        )
        await until(lambda: harness.listener.connected == meters)
        assert len(harness.back) == meters
        associations = (Association.METER_READER, Association.UTILITY_SETTINGS) * 2
        for meter_id in ids:
            target = await harness.targets.get(meter_id)
            for association in associations:
                async with harness.factory.open(target, association) as session:
                    assert (await session.read_name_plate()).serial == target.serial
                    with pytest.raises(MeterNotConnectedError):  # lent to one session at a time
                        async with harness.factory.open(target, association):
                            pass
            channel = await harness.listener.take(target.system_title)  # waits for the last DISC
            assert isinstance(channel, HdlcDialInChannel)
            assert channel.links == 4 and channel.link.state is LinkState.DISCONNECTED
            harness.listener.give_back(target.system_title, channel)
        # One connection per meter all along, and on the meter's side one TCP session each.
        assert harness.listener.stats.connections == meters
        assert simulation.server.stats.connections == meters
        assert harness.listener.connected == meters
    finally:
        await simulation.close()
    await until(lambda: harness.listener.connected == 0)


class RawHdlcMeter:
    """A dial-in HDLC secondary made of the sans-IO server link (``answering=False``: it goes mute)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.link = HdlcServerLink(METER_ADDRESS)
        self.events: list[object] = []
        self.answering = True
        self.task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        while data := await self.reader.read(4096):
            if not self.answering:
                continue
            self.link.receive_data(data, asyncio.get_running_loop().time())
            while (event := self.link.next_event()) is not None:
                self.events.append(event)
            self.writer.write(self.link.data_to_send())

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.writer.close()


async def test_each_session_connects_its_link_with_the_aarq_client_and_disconnects_it(harness, hes_sessions):
    register_one(hes_sessions)
    meter = RawHdlcMeter(*await raw_dial(harness, ui_announcement()))
    try:
        await until(lambda: harness.listener.is_connected(TITLE))
        for aarq, client in ((AARQ_LLS, 32), (AARQ_PUBLIC, 16)):
            channel = await harness.listener.take(TITLE)
            assert isinstance(channel, HdlcDialInChannel)
            await channel.send(aarq)  # SNRM/UA first, with the client address the AARQ's mechanism names
            await until(lambda: any(isinstance(e, ApduReceived) and e.apdu == aarq for e in meter.events))  # noqa: B023
            assert meter.link.peer_address.upper == client and channel.link.local_address.upper == client
            assert sum(isinstance(e, Connected) for e in meter.events) == 1  # one SNRM/UA per session
            meter.events.clear()
            harness.listener.give_back(TITLE, channel)
            await until(lambda: Disconnected(DisconnectCause.REMOTE) in meter.events)
        assert harness.listener.stats.connections == 1 and harness.listener.is_connected(TITLE)
    finally:
        await meter.close()


async def test_a_meter_that_does_not_confirm_the_disc_loses_its_line(harness, hes_sessions):
    register_one(hes_sessions)
    meter = RawHdlcMeter(*await raw_dial(harness, ui_announcement()))
    try:
        await until(lambda: harness.listener.is_connected(TITLE))
        channel = await harness.listener.take(TITLE)
        assert isinstance(channel, HdlcDialInChannel)
        await channel.send(AARQ_LLS)
        channel.link_timeout_s = 0.3
        meter.answering = False
        harness.listener.give_back(TITLE, channel)
        assert await harness.listener.take(TITLE) is None  # waited for the DISC, which nobody confirmed
        assert channel.closed
        await until(lambda: not harness.listener.is_connected(TITLE) and harness.listener.connected == 0)
        assert await asyncio.wait_for(meter.task, 2) is None  # the head-end closed the connection
    finally:
        await meter.close()


async def test_a_session_that_is_not_started_by_an_aarq_has_no_link(harness, hes_sessions):
    register_one(hes_sessions)
    meter = RawHdlcMeter(*await raw_dial(harness, ui_announcement()))
    try:
        await until(lambda: harness.listener.is_connected(TITLE))
        channel = await harness.listener.take(TITLE)
        assert channel is not None
        with pytest.raises(Exception, match="starts with its AARQ"):
            await channel.send(bytes.fromhex("C001C100010000600100FF0200"))
        with pytest.raises(Exception, match="no IS 15959 client SAP"):
            await channel.send(b"\x60\x03\x80\x01\x00")
        harness.listener.give_back(TITLE, channel)
    finally:
        await meter.close()


def frame(kind: FrameKind, info: bytes, **fields: object) -> bytes:
    return HdlcFrame(kind, HdlcAddress.client(1), METER_ADDRESS, info=info, **fields).encode()  # type: ignore[arg-type]


def corrupt(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("data", "registered"),
    [
        pytest.param(lambda: corrupt(ui_announcement(), -2), Framing.HDLC, id="bad-fcs"),
        pytest.param(lambda: corrupt(ui_announcement(), 8), Framing.HDLC, id="bad-hcs"),
        pytest.param(lambda: b"\x7e\xa0\x07GARBAGE" + b"\x7e" * 3, Framing.HDLC, id="garbage-after-a-flag"),
        pytest.param(lambda: b"\x7eGET / HTTP/1.0\r\n\r\n", Framing.HDLC, id="flag-then-text"),
        pytest.param(lambda: frame(FrameKind.I, LLC_RESPONSE + APDU), Framing.HDLC, id="i-frame"),
        pytest.param(lambda: frame(FrameKind.UI, APDU), Framing.HDLC, id="no-llc-header"),
        pytest.param(lambda: frame(FrameKind.UI, LLC_RESPONSE + b"\x62\x00"), Framing.HDLC, id="not-a-notification"),
        pytest.param(
            lambda: frame(FrameKind.UI, LLC_RESPONSE + APDU, segmented=True),
            Framing.HDLC,
            id="segmented-ui",
        ),
        pytest.param(ui_announcement, Framing.WRAPPER, id="hdlc-for-a-wrapper-meter"),
        pytest.param(lambda: announcement(SERIAL, TITLE), Framing.HDLC, id="wrapper-for-an-hdlc-meter"),
        pytest.param(lambda: b"\x05\x01", Framing.HDLC, id="neither-framing"),
    ],
)
async def test_refused_hdlc_dial_ins_are_closed_and_counted(harness, hes_sessions, data, registered):
    register_one(hes_sessions, registered)
    reader, writer = await raw_dial(harness, data())
    assert await asyncio.wait_for(reader.read(), 3) == b""
    await until(lambda: harness.count("invalid") == 1)
    assert harness.listener.connected == 0 and harness.back == [] and harness.listener.stats.refused == 1
    writer.close()
