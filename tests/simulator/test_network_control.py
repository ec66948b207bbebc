"""The run-time control API of a simulated fleet (simulator/control_api.py): requests, refusals, socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from openprepaid.simulator.control_api import ControlError, select_meters, send_control
from openprepaid.simulator.runner import Simulation
from tests.simulator.test_network import start_fleet


@pytest.fixture
async def fleet() -> AsyncIterator[Simulation]:
    simulation = await start_fleet(meters=5, control_port=0)
    yield simulation
    await simulation.close()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, [0, 1, 2, 3, 4]),
        ("all", [0, 1, 2, 3, 4]),
        (3, [3]),
        ("1-3", [1, 2, 3]),
        ("0,2-3,2", [0, 2, 3]),
        ([4, "0-1"], [0, 1, 4]),
    ],
)
def test_meter_selection(spec: object, expected: list[int]) -> None:
    assert select_meters(spec, 5) == expected


@pytest.mark.parametrize("spec", ["5", "3-1", "x", "-1", "", [True], [1.5], 7, "1-9"])
def test_bad_meter_selections_are_refused(spec: object) -> None:
    with pytest.raises(ControlError):
        select_meters(spec, 5)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ([], "JSON object"),
        ({"meters": 1}, "JSON object"),
        ({"op": "explode"}, "unknown op"),
        ({"op": "outage", "meters": "9"}, "outside"),
        ({"op": "outage", "duration_s": -5}, "duration_s"),
        ({"op": "outage", "duration_s": "long"}, "duration_s"),
        ({"op": "network", "latency_ms": [300]}, "latency_ms"),
        ({"op": "network", "latency_ms": [300, 100]}, "latency"),
        ({"op": "network", "drop_rate": 2}, "drop_rate"),
        ({"op": "relay_stuck", "state": "melted"}, "state"),
        ({"op": "speed", "speed": 0}, "speed"),
    ],
)
def test_bad_requests_get_an_error_reply(fleet: Simulation, request_: object, message: str) -> None:
    reply = fleet.control.handle(request_)
    assert reply["ok"] is False and message in reply["error"]


def test_status_of_the_fleet_and_of_some_meters(fleet: Simulation) -> None:
    status = fleet.control.handle({"op": "status"})
    assert status["ok"] and status["fleet"] == 5 and status["first_port"] == fleet.config.port
    assert "meters" not in status and status["pushes"] == {"sent": 0, "failed": 0, "history": 0, "no_destination": 0}
    some = fleet.control.handle({"op": "status", "meters": "1-2"})
    assert [m["index"] for m in some["meters"]] == [1, 2]
    first = some["meters"][0]
    assert first["serial"] == fleet.fleet.meter(1).serial and first["powered"] and not first["offline"]


def test_relay_stuck_clock_and_speed(fleet: Simulation) -> None:
    meter = fleet.fleet.meter(0)
    assert fleet.control.handle({"op": "relay_stuck", "meters": "0", "state": "open"})["ok"]
    assert meter.output_state is False and meter.control_state == 1  # the switch, not the state machine
    assert fleet.control.handle({"op": "relay_stuck", "meters": "0", "state": "healthy"})["ok"]
    assert meter.output_state is True
    before = meter.clock_now_lt()
    assert fleet.control.handle({"op": "clock", "meters": "0", "offset_s": 120})["ok"]
    assert meter.clock_now_lt() - before >= 120
    assert fleet.control.handle({"op": "speed", "speed": 60}) == {"ok": True, "speed": 60.0}
    assert fleet.clock.speed == 60.0


def test_restore_ends_an_outage_early(fleet: Simulation) -> None:
    assert fleet.control.handle({"op": "outage", "meters": "2", "duration_s": 86_400})["ok"]
    assert not fleet.fleet.meter(2).powered
    assert fleet.control.handle({"op": "restore", "meters": "2"})["ok"]
    assert fleet.fleet.meter(2).powered


def test_network_faults_per_meter_and_fleet_wide(fleet: Simulation) -> None:
    faults = fleet.fleet.faults
    fleet.control.handle({"op": "network", "meters": "1", "drop_rate": 0.5, "latency_ms": [300, 3000]})
    assert faults.network(1).drop_rate == 0.5 and faults.network(1).latency_s == (0.3, 3.0)
    assert faults.network(0).drop_rate == 0
    fleet.control.handle({"op": "network", "garble_rate": 0.1})
    assert faults.network(0).garble_rate == 0.1 and faults.network(1).garble_rate == 0.1
    fleet.control.handle({"op": "clear"})
    assert faults.network(1) == faults.default and faults.default.garble_rate == 0


async def test_the_socket_speaks_json_lines(fleet: Simulation) -> None:
    port = fleet.control_port
    assert port is not None
    reply = await send_control("127.0.0.1", port, {"op": "offline", "meters": "3", "duration_s": 60})
    assert reply == {"ok": True, "meters": 1, "dropped_connections": 0}
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"not json\n" + json.dumps({"op": "status"}).encode() + b"\n")
    await writer.drain()
    first, second = json.loads(await reader.readline()), json.loads(await reader.readline())
    writer.close()
    assert first["ok"] is False and "not JSON" in first["error"]
    assert second["ok"] is True and second["fleet"] == 5
