"""``openprepaid dlms get|set|action`` against a running simulated fleet (``openprepaid simulate``).

The simulator runs as a subprocess (Typer's CliRunner calls ``asyncio.run`` itself); each meter
plays one scenario of the simulator issue: registers and scalers, the clock, the block load
profile by range, disconnect / reconnect with output_state and control_state read back and
consumption stopping while the relay is open, a limiter trip in the control event log, an
injected outage as events 101 / 102.

Before a utility-settings (client 48) run, ``openprepaid dlms`` reads the meter's invocation
counter object (0.0.43.1.0.255) over the public association and continues above it, so runs
follow each other on one meter; ``--invocation-counter`` overrides it, and a reused one is refused.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from openprepaid.cli import app
from tests.cli.test_simulate_cli import RunningFleet, start_simulator

runner = CliRunner()
EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
READER = ["--client", "32", "--password", "12345678"]
UTILITY = ["--client", "48", "--ek", EK, "--ak", AK]
SPEED = 600  # one real second is ten simulated minutes


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFleet]:
    running = start_simulator(
        tmp_path_factory.mktemp("simulate"), "--speed", str(SPEED), "--history-days", "2", meters=4
    )
    yield running
    code, _out, err = running.stop()
    assert code == 0, err[-2000:]


def target(fleet: RunningFleet, index: int) -> str:
    return f"127.0.0.1:{fleet.port + index}"


def dlms(*args: str, timeout_s: float = 10) -> Result:
    return runner.invoke(app, ["dlms", *args, "--timeout", str(timeout_s)])


def value(*args: str) -> Any:
    result = dlms(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def act(meter: str, obis: str, method: str) -> str:
    # plain output: ``action --json`` prints its dict through repr() (dlms_values.to_json has no dict case)
    result = dlms("action", meter, obis, "--method", method, *UTILITY)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def control(fleet: RunningFleet, *args: str) -> None:
    result = runner.invoke(app, ["simulate", "fault", *args, "--control-port", str(fleet.control_port)])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"], result.output


def test_read_a_register_its_scaler_and_the_clock(fleet: RunningFleet) -> None:
    meter = target(fleet, 0)
    energy = value("get", meter, "1.0.1.8.0.255", *READER)
    assert isinstance(energy, int) and energy > 0
    assert value("get", meter, "1.0.1.8.0.255", "--attr", "3", *READER) == [0, 30]  # Wh, scaler 0
    clock = datetime.fromisoformat(value("get", meter, "0.0.1.0.0.255"))  # the public client reads the clock
    assert clock.utcoffset() == timedelta(hours=5, minutes=30)
    assert clock >= datetime.now(UTC) - timedelta(minutes=1)  # the simulated clock runs ahead
    refused = dlms("get", meter, "1.0.1.8.0.255")
    assert refused.exit_code == 1 and "read_write_denied" in refused.stderr


def test_read_the_block_load_profile_by_range(fleet: RunningFleet) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = (now - timedelta(hours=3)).isoformat(), (now - timedelta(hours=1)).isoformat()
    rows = value("get", target(fleet, 0), "1.0.99.1.0.255", "--class", "7", "--from", start, "--to", end, *READER)
    assert len(rows) in (8, 9)  # every 15 minutes within two hours
    stamps = [datetime.fromisoformat(row[0]) for row in rows]
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(stamps))
    assert stamps[0] >= now - timedelta(hours=3) and stamps[-1] <= now - timedelta(hours=1)
    assert all(len(row) == 6 for row in rows)


def test_disconnect_then_reconnect(fleet: RunningFleet) -> None:
    meter = target(fleet, 1)
    relay = "0.0.96.3.10.255"
    assert value("set", meter, "0.0.17.0.0.255", "--attr", "4", "--value", "double-long-unsigned:0", *UTILITY) == (
        "success"
    )  # no limiter trips during the test
    assert act(meter, relay, "1") == "success"
    assert value("get", meter, relay, "--attr", "2", *READER) is False
    assert value("get", meter, relay, "--attr", "3", *READER) == 0  # disconnected
    before = value("get", meter, "1.0.1.8.0.255", *READER)
    time.sleep(1.0)  # ten simulated minutes
    assert value("get", meter, "1.0.1.8.0.255", *READER) == before  # nothing measured while open
    assert act(meter, relay, "2") == "success"
    assert value("get", meter, relay, "--attr", "2", *READER) is True
    assert value("get", meter, relay, "--attr", "3", *READER) == 1  # connected
    time.sleep(1.0)
    assert value("get", meter, "1.0.1.8.0.255", *READER) > before
    codes = [row[1] for row in value("get", meter, "0.0.99.98.6.255", "--class", "7", *READER)]
    assert codes[-2:] == [301, 302]


def test_a_limiter_trip_appears_in_the_control_event_log(fleet: RunningFleet) -> None:
    meter = target(fleet, 2)
    assert value("set", meter, "0.0.17.0.0.255", "--attr", "4", "--value", "double-long-unsigned:1", *UTILITY) == (
        "success"
    )
    deadline = time.monotonic() + 10
    codes: list[int] = []
    while 301 not in codes and time.monotonic() < deadline:
        time.sleep(0.2)
        codes = [row[1] for row in value("get", meter, "0.0.99.98.6.255", "--class", "7", *READER)]
    assert 301 in codes
    assert value("get", meter, "0.0.96.3.10.255", "--attr", "3", *READER) == 2  # ready for reconnection


def test_an_injected_outage_logs_power_fail_and_restore(fleet: RunningFleet) -> None:
    control(fleet, "outage", "--meters", "3", "--duration-s", "600")
    failed = dlms("get", target(fleet, 3), "0.0.99.98.2.255", "--class", "7", *READER, timeout_s=1)
    assert failed.exit_code == 1  # no supply: nobody answers
    deadline = time.monotonic() + 10
    codes: list[int] = []
    while codes[-2:] != [101, 102] and time.monotonic() < deadline:
        time.sleep(0.3)
        result = dlms("get", target(fleet, 3), "0.0.99.98.2.255", "--class", "7", *READER, "--json")
        if result.exit_code == 0:
            codes = [row[1] for row in json.loads(result.stdout)]
    assert codes[-2:] == [101, 102]


def test_a_wrong_key_is_refused(fleet: RunningFleet) -> None:
    result = dlms("get", target(fleet, 0), "1.0.1.8.0.255", "--client", "48", "--ek", "00" * 16, "--ak", AK)
    assert result.exit_code == 1 and "error" in result.stderr


def test_a_reused_invocation_counter_is_refused_by_the_meter(fleet: RunningFleet) -> None:
    meter = target(fleet, 1)
    relay = "0.0.96.3.10.255"
    result = runner.invoke(app, ["dlms", "get", meter, relay, "--attr", "3", *UTILITY, "--invocation-counter", "0"])
    assert result.exit_code == 1
    assert "error:" in result.output
