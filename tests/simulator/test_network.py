"""A simulated fleet on loopback TCP, read by our own DLMS client (simulator/network.py, runner.py).

Meter i listens on port P + i; the three IS 15959 associations work over the wrapper and HDLC; the
relay acts and consumption stops while it is open; the limiter trips into the control event log;
network faults (offline, drops, latency, resets, garbling) disturb the link as documented.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from openprepaid.cosem.association_events import Authentication, ClientSettings
from openprepaid.cosem.axdr import DoubleLongUnsigned, Integer, encode_data
from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.obis import OBIS
from openprepaid.cosem.security import AUTHENTICATED_ENCRYPTED
from openprepaid.cosem.xdlms_common import (
    ActionResult,
    CosemAttributeDescriptor,
    CosemMethodDescriptor,
    DataAccessResult,
)
from openprepaid.cosem.xdlms_selective import RangeDescriptor
from openprepaid.simulator.meter_security import TEST_KEYS
from openprepaid.simulator.network import SimulatorNetworkError
from openprepaid.simulator.runner import Simulation, SimulationConfig, start_simulation
from openprepaid.simulator.wire_faults import garble
from openprepaid.transport.dlms_client import DlmsClient, Endpoint
from openprepaid.transport.errors import TransportError, TransportTimeout
from tests.simulator.conftest import IST

START = datetime(2025, 3, 9, 12, 0, tzinfo=IST)
CLOCK = CosemAttributeDescriptor(8, OBIS.parse("0.0.1.0.0.255"), 2)
ENERGY = CosemAttributeDescriptor(3, OBIS.parse("1.0.1.8.0.255"), 2)
ENERGY_SCALER = CosemAttributeDescriptor(3, OBIS.parse("1.0.1.8.0.255"), 3)
BLOCK_LOAD = CosemAttributeDescriptor(7, OBIS.parse("1.0.99.1.0.255"), 2)
OUTPUT_STATE = CosemAttributeDescriptor(70, OBIS.parse("0.0.96.3.10.255"), 2)
CONTROL_STATE = CosemAttributeDescriptor(70, OBIS.parse("0.0.96.3.10.255"), 3)
THRESHOLD = CosemAttributeDescriptor(71, OBIS.parse("0.0.17.0.0.255"), 4)
CONTROL_LOG = CosemAttributeDescriptor(7, OBIS.parse("0.0.99.98.6.255"), 2)
POWER_LOG = CosemAttributeDescriptor(7, OBIS.parse("0.0.99.98.2.255"), 2)
DISCONNECT = CosemMethodDescriptor(70, OBIS.parse("0.0.96.3.10.255"), 1)
RECONNECT = CosemMethodDescriptor(70, OBIS.parse("0.0.96.3.10.255"), 2)
SETTINGS = {
    16: ClientSettings(),
    32: ClientSettings(authentication=Authentication.LOW, password=b"12345678"),
    48: ClientSettings(
        authentication=Authentication.HLS_GMAC,
        system_title=b"OPHES001",
        keys=TEST_KEYS,
        protection=AUTHENTICATED_ENCRYPTED,
    ),
}


async def start_fleet(meters: int = 2, **options: Any) -> Simulation:
    """A fleet on a free range of ports (P is drawn at random and retried if taken)."""
    options.setdefault("history_days", 1)
    rng = random.Random()
    for _ in range(30):
        try:
            return await start_simulation(
                SimulationConfig(meters=meters, start=START, port=rng.randrange(20_000, 31_000), **options)
            )
        except SimulatorNetworkError:
            continue
    raise RuntimeError("no free port range")


@pytest.fixture
async def fleet() -> AsyncIterator[Simulation]:
    simulation = await start_fleet(control_port=0)
    yield simulation
    await simulation.close()


def endpoint(simulation: Simulation, index: int = 0, sap: int = 32) -> Endpoint:
    return Endpoint("127.0.0.1", simulation.config.port + index, client_sap=sap, framing=simulation.config.framing)


async def connect(simulation: Simulation, index: int = 0, sap: int = 32, timeout_s: float = 5.0) -> DlmsClient:
    return await DlmsClient.connect(
        endpoint(simulation, index, sap), SETTINGS[sap], connect_timeout_s=timeout_s, response_timeout_s=timeout_s
    )


def stamp(octets: object) -> datetime:
    assert isinstance(octets, bytes)
    return CosemDateTime.from_bytes(octets).to_datetime()


@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
@pytest.mark.parametrize("sap", [16, 32, 48])
async def test_each_association_over_each_framing(framing: str, sap: int) -> None:
    simulation = await start_fleet(framing=framing)
    try:
        async with await connect(simulation, 1, sap) as client:
            assert abs(stamp(await client.get_value(CLOCK)) - START) < timedelta(seconds=30)
            if sap == 16:  # the public client reads the clock and name plate, not the energy
                assert await client.get(ENERGY) is DataAccessResult.READ_WRITE_DENIED
            else:
                meter = simulation.fleet.meter(1)
                assert await client.get_value(ENERGY) == meter.registers()[0]
                assert await client.get_value(ENERGY_SCALER) == (0, 30)
        assert simulation.ready_line() == (
            f"ready: 2 meters on 127.0.0.1:{simulation.config.port}-{simulation.config.port + 1}"
        )
    finally:
        await simulation.close()


async def test_block_load_profile_by_range(fleet: Simulation) -> None:
    access = RangeDescriptor(
        CosemDateTime.from_datetime(START - timedelta(hours=3)), CosemDateTime.from_datetime(START)
    ).to_access()
    async with await connect(fleet) as client:
        rows = await client.get_value(BLOCK_LOAD, access)
    assert [stamp(row[0]) for row in rows] == [START - timedelta(minutes=15 * k) for k in range(12, -1, -1)]
    assert all(len(row) == 6 and row[2] > 0 for row in rows)  # clock, voltage, kWh, kVAh, export, current


async def test_disconnect_stops_consumption_and_reconnect_restores_it() -> None:
    simulation = await start_fleet(speed=3600.0)  # one real second is a simulated hour
    try:
        async with await connect(simulation, 0, 48) as client:
            assert await client.set(THRESHOLD, encode_data(DoubleLongUnsigned(0))) is DataAccessResult.SUCCESS
            outcome = await client.action(DISCONNECT, encode_data(Integer(0)))
            assert outcome.result is ActionResult.SUCCESS
            assert await client.get_value(OUTPUT_STATE) is False
            assert await client.get_value(CONTROL_STATE) == 0
            before = await client.get_value(ENERGY)
            await asyncio.sleep(0.6)
            assert await client.get_value(ENERGY) == before  # relay open: nothing measured
            outcome = await client.action(RECONNECT, encode_data(Integer(0)))
            assert outcome.result is ActionResult.SUCCESS
            assert await client.get_value(OUTPUT_STATE) is True
            assert await client.get_value(CONTROL_STATE) == 1
            await asyncio.sleep(0.6)
            assert await client.get_value(ENERGY) > before
            codes = [row[1] for row in await client.get_value(CONTROL_LOG)]
            assert codes[-2:] == [301, 302]
    finally:
        await simulation.close()


async def test_a_limiter_trip_lands_in_the_control_event_log() -> None:
    simulation = await start_fleet(speed=600.0)
    try:
        async with await connect(simulation, 0, 48) as client:
            assert await client.set(THRESHOLD, encode_data(DoubleLongUnsigned(1))) is DataAccessResult.SUCCESS
            deadline = time.monotonic() + 5
            while await client.get_value(OUTPUT_STATE) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)  # 60 s over the threshold trips it: 0.1 real s here
            assert await client.get_value(OUTPUT_STATE) is False
            assert await client.get_value(CONTROL_STATE) == 2  # ready for (manual) reconnection
            assert 301 in [row[1] for row in await client.get_value(CONTROL_LOG)]
    finally:
        await simulation.close()


async def test_an_offline_meter_refuses_connections_until_its_window_ends(fleet: Simulation) -> None:
    client = await connect(fleet, 1)
    reply = fleet.control.handle({"op": "offline", "meters": "1", "duration_s": 1})
    assert reply == {"ok": True, "meters": 1, "dropped_connections": 1}
    with pytest.raises(TransportError):
        await client.get_value(ENERGY)
    await client.close()
    with pytest.raises(TransportError):
        await connect(fleet, 1, timeout_s=1)
    async with await connect(fleet, 0):  # the others are unaffected
        pass
    await asyncio.sleep(1.2)
    async with await connect(fleet, 1) as again:
        assert await again.get_value(ENERGY) > 0
    assert fleet.server.stats.refused >= 1


async def test_dropped_requests_time_out(fleet: Simulation) -> None:
    client = await connect(fleet, 0, timeout_s=0.5)
    assert fleet.control.handle({"op": "network", "meters": "0", "drop_rate": 1.0})["ok"]
    with pytest.raises(TransportTimeout):
        await client.get_value(ENERGY)
    await client.close()
    assert fleet.server.stats.dropped == 1
    assert fleet.control.handle({"op": "clear", "meters": "0"})["ok"]
    async with await connect(fleet, 0) as client:
        assert await client.get_value(ENERGY) > 0


async def test_latency_delays_every_reply(fleet: Simulation) -> None:
    assert fleet.control.handle({"op": "network", "latency_ms": [200, 250]})["ok"]  # fleet-wide
    started = time.monotonic()
    async with await connect(fleet, 1) as client:
        await client.get_value(ENERGY)
    assert time.monotonic() - started >= 0.4  # the AARE and the GET response each waited
    assert fleet.fleet.faults.default.latency_s == (0.2, 0.25)


@pytest.mark.parametrize("fault", ["reset_rate", "garble_rate"])
async def test_resets_and_garbled_replies_break_the_request(fleet: Simulation, fault: str) -> None:
    client = await connect(fleet, 0, timeout_s=1)
    assert fleet.control.handle({"op": "network", "meters": [0], fault: 1.0})["ok"]
    with pytest.raises(TransportError):
        await client.get_value(ENERGY)
    await client.close()
    stats = fleet.server.stats
    assert (stats.resets, stats.garbled) == ((1, 0) if fault == "reset_rate" else (0, 1))


def test_garbling_changes_one_octet_of_the_frame_on_the_wire() -> None:
    frame = bytes(range(40))
    damaged = garble(frame, random.Random(3), keep_prefix=8)
    differences = [i for i, (a, b) in enumerate(zip(frame, damaged, strict=True)) if a != b]
    assert len(differences) == 1 and 8 <= differences[0] <= len(frame) - 2
    assert garble(b"\x7e\x7e", random.Random(1), keep_prefix=1) == b"\x7e\x7e"  # nothing safe to damage


async def test_ports_in_use_are_reported_and_nothing_stays_open() -> None:
    first = await start_fleet(meters=2)
    try:
        with pytest.raises(SimulatorNetworkError, match="cannot listen"):
            await start_simulation(SimulationConfig(meters=3, start=START, port=first.config.port - 1))
    finally:
        await first.close()


async def test_a_reused_invocation_counter_is_refused_until_the_meter_forgets_it(fleet: Simulation) -> None:
    async with await connect(fleet, 0, 48) as client:
        await client.get_value(ENERGY)
    with pytest.raises(TransportError, match="authentication_failure"):
        await connect(fleet, 0, 48)  # a fresh client starts its counter at 0 again: a replay for the meter
    assert fleet.control.handle({"op": "forget_counters", "meters": "0"}) == {"ok": True, "meters": 1}
    async with await connect(fleet, 0, 48) as client:
        assert await client.get_value(ENERGY) > 0
