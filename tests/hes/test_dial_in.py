"""Dial-in: simulated meters open the connection, announce themselves, and are read over it.

Against the simulator in dial-in mode (docs/simulator.md, "Dial-in announcement"): identification
by system title, the channel lent to one session at a time for each IS 15959 association (its
client wPort follows the AARQ), the meter "back" on its first connection only; and with raw sockets:
unknown meters, wrong system titles, garbage and silence are refused, closed connections dropped.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from openprepaid.cosem.axdr import encode_data
from openprepaid.cosem.wrapper import WrapperDecoder, encode_wrapper
from openprepaid.cosem.xdlms_notification import DataNotification
from openprepaid.hes.clock import SystemClock
from openprepaid.hes.credentials import CredentialStore
from openprepaid.hes.dial_in import DialInChannel, DialInListener, announcement_from_body, client_sap_of
from openprepaid.hes.dlms_session import DlmsSessionFactory, VaultCredentials
from openprepaid.hes.invocation_counters import InvocationCounterStore
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.push_handler import DialIn
from openprepaid.hes.push_listener import InvalidPushError, NotificationOpener, RegistryPushKeys
from openprepaid.hes.retry import MeterNotConnectedError
from openprepaid.hes.session import Association
from openprepaid.hes.targets import TargetDirectory
from openprepaid.keyvault import KeyVault
from openprepaid.simulator.meter_security import system_title_for
from openprepaid.simulator.runner import Simulation, SimulationConfig, start_simulation
from openprepaid.store.model import CommMode
from tests.hes.simulated_meters import HES_SYSTEM_TITLE, SimulatedMeter, fleet_meters, register_fleet, sqlite_engine

ZONE = ZoneInfo("Asia/Kolkata")
VAULT = KeyVault(bytes(range(32)))
# Dial-in does not depend on the database backend (its queries run on both backends
# in test_push_listener.py and test_hes_end_to_end.py): SQLite only, to keep the suite short.
migrated_engine = pytest.fixture(scope="module")(sqlite_engine)
AARQ_LLS = bytes.fromhex(
    "6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738BE10040E01000000065F1F0400001E1DFFFF"
)


class Harness:
    def __init__(self, db, hes_sessions) -> None:
        self.clock = SystemClock()
        self.metrics = HesMetrics(CollectorRegistry())
        self.back: list[DialIn] = []
        self.db = db
        self.sessions = hes_sessions
        credentials = CredentialStore(db, VAULT)
        self.listener = DialInListener(
            db,
            TargetDirectory(db),
            self.clock,
            on_meter_back=self._back,
            opener=NotificationOpener(RegistryPushKeys(db, credentials)),
            metrics=self.metrics,
            announce_timeout_s=1.0,
            sweep_s=0.05,
        )
        self.factory = DlmsSessionFactory(
            VaultCredentials(credentials, client_system_title=HES_SYSTEM_TITLE),
            InvocationCounterStore(db, self.clock),
            zone=ZONE,
            dial_in=self.listener,
            response_timeout_s=5,
        )
        self.targets = TargetDirectory(db)

    async def _back(self, announcement: DialIn) -> int | None:
        self.back.append(announcement)
        return None

    def count(self, outcome: str) -> float:
        labels = {"kind": "dial_in", "outcome": outcome}
        return self.metrics.registry.get_sample_value("openprepaid_hes_pushes_total", labels) or 0.0


@pytest.fixture
async def harness(db, hes_sessions):
    h = Harness(db, hes_sessions)
    await h.listener.start("127.0.0.1", 0)
    yield h
    await h.listener.close()


async def until(condition, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


async def dialling_fleet(harness: Harness, meters: int, **options) -> Simulation:
    return await start_simulation(
        SimulationConfig(
            meters=meters,
            start=datetime.now(UTC),
            port=random.randrange(20_000, 30_000),
            history_days=1,
            dial_in=("127.0.0.1", harness.listener.port),
            **options,
        )
    )


def announcement(serial: str, title: bytes | None) -> bytes:
    body = encode_data((b"OPS" + serial.encode(), serial, title if title is not None else b""))
    return encode_wrapper(1, 1, DataNotification(long_invoke_id_and_priority=1, body=body).encode())


async def raw_dial(harness: Harness, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", harness.listener.port)
    writer.write(data)
    await writer.drain()
    return reader, writer


@pytest.mark.parametrize("ciphered", [False, True], ids=["plain", "ciphered-announcement"])
async def test_simulated_meters_dial_in_and_are_read_in_each_association(harness, hes_sessions, ciphered):
    simulation_meters = 3
    simulation = None
    try:
        simulation = await dialling_fleet(harness, simulation_meters, push_ciphering=ciphered)
        ids = register_fleet(
            hes_sessions, VAULT, fleet_meters(simulation.fleet), first_port=None, comm_mode=CommMode.DIAL_IN
        )
        await until(lambda: harness.listener.connected == simulation_meters)
        assert len(harness.back) == simulation_meters  # first connection since start: back, collect it
        for meter_id in ids:
            target = await harness.targets.get(meter_id)
            assert harness.listener.is_connected(target.system_title)
            for association in (Association.METER_READER, Association.UTILITY_SETTINGS, Association.METER_READER):
                async with harness.factory.open(target, association) as session:
                    plate = await session.read_name_plate()
                    assert plate.serial == target.serial
                    # Lent to one session at a time: a second session finds no free connection.
                    with pytest.raises(MeterNotConnectedError):
                        async with harness.factory.open(target, association):
                            pass
        assert harness.listener.connected == simulation_meters  # the same connections, given back each time
        assert harness.listener.stats.connections == simulation_meters
    finally:
        if simulation is not None:
            await simulation.close()
    await until(lambda: harness.listener.connected == 0)  # the meters hung up: dropped by the sweep


async def test_a_routine_reconnection_is_not_a_meter_back(harness, hes_sessions):
    [meter_id] = register_fleet(
        hes_sessions, VAULT, [SimulatedMeter("OPS00000001", "1P-WC")], first_port=None, comm_mode=CommMode.DIAL_IN
    )
    title = system_title_for("OPS00000001")
    first = await raw_dial(harness, announcement("OPS00000001", title))
    await until(lambda: harness.listener.is_connected(title))
    first[1].close()
    await until(lambda: not harness.listener.is_connected(title))
    second = await raw_dial(harness, announcement("OPS00000001", title))
    await until(lambda: harness.listener.is_connected(title) and harness.count("ok") == 1)
    assert [a.identity.system_title for a in harness.back] == [title]  # only the first one
    # A third connection replaces the second, which the listener closes.
    third = await raw_dial(harness, announcement("OPS00000001", title))
    await until(lambda: harness.listener.stats.replaced == 1)
    assert await asyncio.wait_for(second[0].read(), 2) == b""
    channel = await harness.listener.take(title)
    assert isinstance(channel, DialInChannel) and await harness.listener.take(title) is None
    # Replaced while lent: the lent channel is closed when it is given back, not before.
    fourth = await raw_dial(harness, announcement("OPS00000001", title))
    await until(lambda: harness.listener.stats.replaced == 2)
    assert not channel.closed
    harness.listener.give_back(title, channel)
    await until(lambda: channel.closed)
    assert await asyncio.wait_for(third[0].read(), 2) == b""
    assert meter_id and harness.listener.is_connected(title)
    fourth[1].close()


async def test_the_client_wport_follows_the_association(harness, hes_sessions):
    register_fleet(
        hes_sessions, VAULT, [SimulatedMeter("OPS00000001", "1P-WC")], first_port=None, comm_mode=CommMode.DIAL_IN
    )
    title = system_title_for("OPS00000001")
    reader, writer = await raw_dial(harness, announcement("OPS00000001", title))
    await until(lambda: harness.listener.is_connected(title))
    channel = await harness.listener.take(title)
    assert channel is not None
    await channel.send(AARQ_LLS)  # Green Book example AARQ, LLS: the meter reader, client 32
    decoder = WrapperDecoder()
    decoder.receive_data(await asyncio.wait_for(reader.read(1024), 2))
    frame = decoder.next_event()
    assert frame is not None and (frame.source_wport, frame.destination_wport) == (32, 1)
    assert client_sap_of(AARQ_LLS) == 32 and client_sap_of(b"\x62\x00") is None
    harness.listener.give_back(title, channel)
    writer.close()


@pytest.mark.parametrize(
    ("data", "outcome"),
    [
        pytest.param(lambda: announcement("NOBODY01", None), "unknown_meter", id="unknown-serial"),
        pytest.param(lambda: announcement("NOBODY01", b"NOBODY01"), "unknown_meter", id="unknown-title"),
        pytest.param(lambda: announcement("OPS00000001", b"OPS\x00\x00\x00\x00\x07"), "invalid", id="other-title"),
        pytest.param(lambda: b"\x00\x01\x00\x01\x00\x01\x00\x02\xc0\x01", "invalid", id="not-a-notification"),
        pytest.param(lambda: b"GET / HTTP/1.0\r\n\r\n", "invalid", id="not-a-wrapper-frame"),
        pytest.param(lambda: b"", "invalid", id="silence"),
    ],
)
async def test_refused_dial_ins_are_closed_and_counted(harness, hes_sessions, data, outcome):
    register_fleet(
        hes_sessions, VAULT, [SimulatedMeter("OPS00000001", "1P-WC")], first_port=None, comm_mode=CommMode.DIAL_IN
    )
    reader, writer = await raw_dial(harness, data())
    assert await asyncio.wait_for(reader.read(), 3) == b""
    await until(lambda: harness.count(outcome) == 1)
    assert harness.listener.connected == 0 and harness.back == []
    writer.close()


def test_announcement_body_shapes():
    parsed = announcement_from_body((b"OPSOPS00000001", "OPS00000001", b"OPS\x00\x00\x00\x00\x01"))
    assert (parsed.serial, parsed.system_title) == ("OPS00000001", b"OPS\x00\x00\x00\x00\x01")
    assert announcement_from_body((b"x", b"OPS1\x00", b"")).system_title is None
    for bad in [(b"x", "OPS1"), "OPS1", (b"x", "OPS1", b"short")]:
        with pytest.raises(InvalidPushError):
            announcement_from_body(bad)


async def test_no_dial_in_connection_means_not_connected(harness, hes_sessions):
    [meter_id] = register_fleet(
        hes_sessions, VAULT, [SimulatedMeter("OPS00000001", "1P-WC")], first_port=None, comm_mode=CommMode.DIAL_IN
    )
    target = await harness.targets.get(meter_id)
    with pytest.raises(MeterNotConnectedError):
        async with harness.factory.open(target, Association.METER_READER):
            pass
