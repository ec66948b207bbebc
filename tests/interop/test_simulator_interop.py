"""The meter simulator against an independent head-end: dlms-cosem 25.1.0, out of process.

dlms-cosem (tests/interop/peers/simulator_dlms_cosem.py, see LICENSE-NOTE.md) associates with a
simulated fleet over the TCP wrapper (and, for the reads, HDLC) as the public client (no security),
the meter reader (LLS) and utility settings (HLS-GMAC, suite 0, authenticated and encrypted; it ciphers with
general-glo-ciphering, so the meter must answer in kind). Everything it reads is decoded by
dlms-cosem and compared with the meter model: the clock, the energy register and its scaler, the
block load profile by range; then disconnect and reconnect with output_state and control_state read
back after each, consumption stopping while the relay is open, a limiter trip in the control event
log, and an injected outage as a last-gasp push (received by our stand-in head-end) and events
101 / 102 read by dlms-cosem.

Known dlms-cosem limitations, reported by the peer and not asserted on: it cannot parse an RLRE
without fields (``63 00``, which the ASN.1 allows and our meter sends), so its release raises; and it
has no bit-string decoder, so it cannot read the event status word (our own client does,
tests/simulator/test_network_pushes.py).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openprepaid.cosem.axdr import DoubleLongUnsigned, Integer, encode_data
from openprepaid.meters.profiles import CLOCK_COLUMN
from openprepaid.simulator.meter_security import system_title_for
from openprepaid.simulator.profile_buffer import RangeSelection
from openprepaid.simulator.runner import Simulation
from tests.interop.peer_env import run_peer
from tests.simulator.test_network import START, start_fleet
from tests.simulator.test_network_pushes import LAST_GASP, HeadEnd

PEER = "simulator_dlms_cosem.py"
EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
RELAY = "0.0.96.3.10.255"
DISCONNECT = {"action": [70, RELAY, 1], "data": encode_data(Integer(0)).hex()}
RECONNECT = {"action": [70, RELAY, 2], "data": encode_data(Integer(0)).hex()}
OUTPUT_STATE = {"get": [70, RELAY, 2]}
CONTROL_STATE = {"get": [70, RELAY, 3]}
ENERGY = {"get": [3, "1.0.1.8.0.255", 2]}
CONTROL_LOG = {"get": [7, "0.0.99.98.6.255", 2], "clock": True}
POWER_LOG = {"get": [7, "0.0.99.98.2.255", 2], "clock": True}


def limiter_threshold(watts: int) -> dict[str, Any]:
    return {"set": [71, "0.0.17.0.0.255", 4], "data": encode_data(DoubleLongUnsigned(watts)).hex()}


async def session(simulation: Simulation, index: int, client: int, steps: list[dict[str, Any]]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "op": "session",
        "host": "127.0.0.1",
        "port": simulation.config.port + index,
        "framing": simulation.config.framing,
        "client": client,
        "steps": steps,
    }
    if client == 32:
        request["password"] = "12345678"
    if client == 48:
        request.update(ek=EK, ak=AK, ic="read")
    [reply] = await asyncio.to_thread(run_peer, PEER, [request])
    assert reply["ok"], reply
    return reply


def values(reply: dict[str, Any]) -> list[Any]:
    failures = [result for result in reply["results"] if "error" in result]
    assert not failures, failures
    return [result["value"] for result in reply["results"]]


@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
async def test_three_associations_read_clock_register_and_profile(peers: Path, framing: str) -> None:
    simulation = await start_fleet(meters=2, history_days=2, framing=framing)
    try:
        public = await session(simulation, 0, 16, [{"get": [8, "0.0.1.0.0.255", 2], "clock": True}, ENERGY])
        clock = datetime.fromisoformat(public["results"][0]["value"])
        assert abs(clock - START) < timedelta(seconds=30) and clock.utcoffset() == timedelta(hours=5, minutes=30)
        assert "READ_WRITE_DENIED" in public["results"][1]["error"]  # the public client may not read energy
        profile = {
            "get": [7, "1.0.99.1.0.255", 2],
            "from": (START - timedelta(hours=3)).isoformat(),
            "to": START.isoformat(),
            "clock": True,
        }
        steps = [ENERGY, {"get": [3, "1.0.1.8.0.255", 3]}, profile]
        meter = simulation.fleet.meter(0)
        for client in (32, 48):
            energy, scaler, rows = values(await session(simulation, 0, client, steps))
            assert abs(energy - meter.registers()[0]) <= 2  # a few simulated seconds apart
            assert scaler == [0, 30]  # 10^0 Wh
            expected = meter.get(
                7, "1.0.99.1.0.255", 2, RangeSelection(CLOCK_COLUMN, START - timedelta(hours=3), START)
            )
            assert isinstance(expected, list) and len(rows) == len(expected) == 13
            assert [datetime.fromisoformat(row[0]) for row in rows] == [row[0] for row in expected]
            assert [row[1:] for row in rows] == [[int(v) for v in row[1:]] for row in expected]
        hls = await session(simulation, 1, 48, [ENERGY])
        assert hls["meter_system_title"] == system_title_for(simulation.fleet.meter(1).serial).hex()
    finally:
        await simulation.close()


async def test_disconnect_reconnect_and_consumption(peers: Path) -> None:
    simulation = await start_fleet(meters=1, speed=600.0)  # a real second is ten simulated minutes
    try:
        steps = [
            limiter_threshold(0),  # no limiter trip in the middle of the test
            DISCONNECT,
            OUTPUT_STATE,
            CONTROL_STATE,
            ENERGY,
            {"sleep": 1.0},
            ENERGY,
            RECONNECT,
            OUTPUT_STATE,
            CONTROL_STATE,
            {"sleep": 1.0},
            ENERGY,
            CONTROL_LOG,
        ]
        reply = await session(simulation, 0, 48, steps)
        got = values(reply)
        assert got[0] == "success"
        assert got[2:4] == [False, 0]  # output_state, control_state disconnected
        assert got[4] == got[6]  # relay open: no consumption
        assert got[8:10] == [True, 1]  # connected again
        assert got[11] > got[6]  # consuming again
        assert [row[1] for row in got[12]][-2:] == [301, 302]
    finally:
        await simulation.close()


async def test_a_limiter_trip_appears_in_the_control_event_log(peers: Path) -> None:
    simulation = await start_fleet(meters=1, speed=600.0)
    try:
        steps = [limiter_threshold(1), {"sleep": 1.0}, OUTPUT_STATE, CONTROL_STATE, CONTROL_LOG]
        got = values(await session(simulation, 0, 48, steps))
        assert got[0] == "success"
        assert got[2:4] == [False, 2]  # tripped: ready for manual reconnection
        assert 301 in [row[1] for row in got[4]]
    finally:
        await simulation.close()


async def test_an_outage_pushes_last_gasp_and_logs_101_102(peers: Path) -> None:
    head_end = HeadEnd()
    await head_end.start()
    simulation = await start_fleet(meters=1, speed=600.0, push_to=f"127.0.0.1:{head_end.port}")
    try:
        assert simulation.control.handle({"op": "outage", "meters": "0", "duration_s": 600})["ok"]
        assert LAST_GASP in (await head_end.push()).bits
        await asyncio.sleep(1.5)  # restored after ten simulated minutes
        [log] = values(await session(simulation, 0, 32, [POWER_LOG]))
        assert [row[1] for row in log][-2:] == [101, 102]
        assert datetime.fromisoformat(log[-1][0]) - datetime.fromisoformat(log[-2][0]) >= timedelta(minutes=9)
    finally:
        await simulation.close()
        await head_end.close()
