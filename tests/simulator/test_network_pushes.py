"""What the simulated meters send on their own: alert pushes and dial-in (simulator/push_sender.py,
notifications.py, dial_in.py).

A head-end stand-in listens for wrapper frames (IEC 62056-47) and decodes them with our codec: an
injected outage gives a last-gasp push and, once restored, a first-breath push and events 101/102
in the power log; tamper and relay changes push with their event status word bits; pushes may be
general-glo-ciphered; a dial-in meter announces itself and then serves our client on that line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from openprepaid.cosem.association_events import Authentication, ClientSettings
from openprepaid.cosem.axdr import Integer, decode_data, encode_data
from openprepaid.cosem.security_apdu import GENERAL_GLO_CIPHERING_TAG, unprotect
from openprepaid.cosem.wrapper import WrapperDecoder, WrapperFrame
from openprepaid.cosem.xdlms import decode_xdlms_apdu
from openprepaid.cosem.xdlms_notification import DataNotification
from openprepaid.simulator.meter_security import TEST_KEYS, system_title_for
from openprepaid.simulator.push_sender import parse_destination
from openprepaid.transport.dlms_client import DlmsClient
from openprepaid.transport.errors import TransportError
from openprepaid.transport.wrapper_channel import WrapperChannel
from tests.simulator.test_network import DISCONNECT, ENERGY, POWER_LOG, connect, stamp, start_fleet

LAST_GASP, FIRST_BREATH, RELAY_CHANGE, MAGNET, COVER_OPEN = 85, 86, 84, 80, 82


@dataclass(frozen=True)
class Push:
    frame: WrapperFrame
    notification: DataNotification
    device_id: str
    push_setup: bytes
    bits: frozenset[int]


def _bits(word: str) -> frozenset[int]:
    return frozenset(n for n, bit in enumerate(word) if bit == "1")


class HeadEnd:
    """Accepts connections and collects every wrapper frame the meters send (decoding pushes)."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[WrapperFrame] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = WrapperDecoder()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(4096):
                decoder.receive_data(data)
                while (frame := decoder.next_event()) is not None:
                    await self.frames.put(frame)
        writer.close()

    async def push(self, timeout_s: float = 5.0, *, ciphered: bool = False) -> Push:
        frame = await asyncio.wait_for(self.frames.get(), timeout_s)
        apdu = frame.apdu
        if ciphered:
            assert apdu[0] == GENERAL_GLO_CIPHERING_TAG
            apdu = unprotect(apdu, keys=TEST_KEYS, peer_system_title=None).apdu
        notification = decode_xdlms_apdu(apdu)
        assert isinstance(notification, DataNotification)
        device_id, push_setup, clock, word = decode_data(notification.body)
        stamp(clock)  # a valid date-time
        return Push(frame, notification, device_id, push_setup, _bits(word))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def head_end() -> AsyncIterator[HeadEnd]:
    receiver = HeadEnd()
    await receiver.start()
    yield receiver
    await receiver.close()


async def test_an_outage_pushes_last_gasp_then_first_breath_and_logs_101_102(head_end: HeadEnd) -> None:
    simulation = await start_fleet(speed=600.0, push_to=f"127.0.0.1:{head_end.port}")
    try:
        reply = simulation.control.handle({"op": "outage", "meters": "1", "duration_s": 600})
        assert reply == {"ok": True, "meters": 1}
        gasp = await head_end.push()
        assert gasp.device_id == simulation.fleet.meter(1).serial
        assert gasp.push_setup == bytes([0, 4, 25, 9, 0, 255])  # the alert push setup
        assert LAST_GASP in gasp.bits
        assert (gasp.frame.source_wport, gasp.frame.destination_wport) == (1, 1)
        with pytest.raises(TransportError):  # no supply: the modem is silent
            await connect(simulation, 1, timeout_s=0.5)
        breath = await head_end.push()
        assert FIRST_BREATH in breath.bits
        async with await connect(simulation, 1) as client:
            codes = [row[1] for row in await client.get_value(POWER_LOG)]
        assert codes[-2:] == [101, 102]
        assert simulation.pushes.stats.sent == 2
    finally:
        await simulation.close()


async def test_tamper_and_relay_changes_push_their_status_bits(head_end: HeadEnd) -> None:
    simulation = await start_fleet(push_to=f"127.0.0.1:{head_end.port}")
    try:
        assert simulation.control.handle({"op": "magnet", "meters": "0", "duration_s": 3600})["ok"]
        assert MAGNET in (await head_end.push()).bits
        assert simulation.control.handle({"op": "cover", "meters": "0"})["ok"]
        assert COVER_OPEN in (await head_end.push()).bits
        async with await connect(simulation, 0, 48) as client:
            await client.action(DISCONNECT, encode_data(Integer(0)))
        relay = await head_end.push()
        assert RELAY_CHANGE in relay.bits and MAGNET in relay.bits  # the word carries what is still active
    finally:
        await simulation.close()


async def test_pushes_may_be_general_glo_ciphered(head_end: HeadEnd) -> None:
    simulation = await start_fleet(push_to=f"127.0.0.1:{head_end.port}", push_ciphering=True)
    try:
        simulation.control.handle({"op": "outage", "meters": "0", "duration_s": 3600})
        frame = await asyncio.wait_for(head_end.frames.get(), 5)
        opened = unprotect(frame.apdu, keys=TEST_KEYS, peer_system_title=None)
        assert opened.system_title == system_title_for(simulation.fleet.meter(0).serial)
        assert isinstance(decode_xdlms_apdu(opened.apdu), DataNotification)
    finally:
        await simulation.close()


async def test_an_unreachable_destination_counts_failed_pushes() -> None:
    unused = HeadEnd()
    await unused.start()
    port = unused.port
    await unused.close()  # nobody listens there any more
    simulation = await start_fleet(push_to=f"127.0.0.1:{port}")
    simulation.pushes.retries, simulation.pushes.retry_delay_s = 1, 0.05
    try:
        simulation.control.handle({"op": "cover", "meters": "0"})
        simulation.pushes.flush()
        await simulation.pushes.wait_idle()
        assert simulation.pushes.stats.failed == 1 and simulation.pushes.stats.sent == 0
    finally:
        await simulation.close()


def test_push_destinations_parse() -> None:
    assert parse_destination("10.0.0.1:4061") == ("10.0.0.1", 4061)
    assert parse_destination("[::1]:4061") == ("::1", 4061)
    assert parse_destination("") is None
    assert parse_destination("host:99999") is None
    assert parse_destination("host") is None


async def test_pushes_without_a_destination_are_counted_not_sent() -> None:
    simulation = await start_fleet()
    try:
        simulation.control.handle({"op": "cover", "meters": "0"})
        simulation.pushes.flush()
        assert simulation.pushes.stats.no_destination == 1
    finally:
        await simulation.close()


class DialInHeadEnd:
    """A head-end listener for dial-in meters: hands over each connection and its first frame."""

    def __init__(self) -> None:
        self.lines: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> DialInHeadEnd:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.lines.put((reader, writer))

    async def next_line(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, WrapperFrame]:
        reader, writer = await asyncio.wait_for(self.lines.get(), 5)
        decoder = WrapperDecoder()
        frame = None
        while frame is None:
            decoder.receive_data(await reader.read(4096))
            frame = decoder.next_event()
        return reader, writer, frame


async def test_a_dial_in_meter_announces_itself_and_serves_the_head_end() -> None:
    async with DialInHeadEnd() as head_end:
        simulation = await start_fleet(meters=2, dial_in=("127.0.0.1", head_end.port))
        try:
            assert simulation.ready_line() == f"ready: 2 meters dialling 127.0.0.1:{head_end.port}"
            announced = {}
            for _ in range(2):
                reader, writer, frame = await head_end.next_line()
                notification = decode_xdlms_apdu(frame.apdu)
                assert isinstance(notification, DataNotification)
                name, serial, title = decode_data(notification.body)
                assert title == system_title_for(serial) and name.endswith(serial.encode())
                announced[serial] = (reader, writer)
            meter = simulation.fleet.meter(1)
            reader, writer = announced[meter.serial]
            channel = WrapperChannel(reader, writer, local_wport=32, remote_wport=1)
            settings = ClientSettings(authentication=Authentication.LOW, password=b"12345678")
            client = await DlmsClient.over(channel, settings, response_timeout_s=5)
            assert await client.get_value(ENERGY) == meter.registers()[0]
            await client.release()  # the head-end hangs up: the meter dials again after its back-off
            _reader, again, _frame = await head_end.next_line()
            assert simulation.dial_in is not None and simulation.dial_in.stats.sessions >= 1
            for other in (again, *(w for _r, w in announced.values())):
                other.close()
        finally:
            await simulation.close()


async def test_dial_in_keeps_trying_while_the_head_end_is_down() -> None:
    async with DialInHeadEnd() as gone:
        port = gone.port
    simulation = await start_fleet(meters=1, dial_in=("127.0.0.1", port))
    try:
        await asyncio.sleep(0.3)
        assert simulation.dial_in is not None
        assert simulation.dial_in.stats.failed >= 1 and simulation.dial_in.stats.sessions == 0
    finally:
        await simulation.close()


async def test_a_dial_in_announcement_may_be_ciphered() -> None:
    async with DialInHeadEnd() as head_end:
        simulation = await start_fleet(meters=1, dial_in=("127.0.0.1", head_end.port), push_ciphering=True)
        try:
            _reader, writer, frame = await head_end.next_line()
            opened = unprotect(frame.apdu, keys=TEST_KEYS, peer_system_title=None)
            notification = decode_xdlms_apdu(opened.apdu)
            assert isinstance(notification, DataNotification)
            assert decode_data(notification.body)[2] == opened.system_title
            writer.close()
        finally:
            await simulation.close()
