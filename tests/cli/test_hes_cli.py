"""``openprepaid hes``: run, command disconnect|reconnect|status, read — against a simulated fleet.

The fleet and the head-end each run as a real subprocess (``python -m openprepaid ...``), as an
operator starts them; the queueing commands run in-process with Typer's CliRunner on the same
SQLite file. A disconnect queued from the command line is sent by the running head-end and shown
``confirmed`` only with the read-back; the on-demand read sees the open relay, and ``meters show``
the relay as last read. A dial-in meter is read through the running head-end (a ``meter_read``
command the command line queues and waits for); with no head-end running it times out, exit 3,
and the same ``--key`` later finds the same command.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openprepaid.app import build_store
from openprepaid.cli import app
from openprepaid.keyvault import KeyVault, load_master_key
from openprepaid.settings import Settings
from openprepaid.simulator.fleet import Fleet, FleetConfig
from openprepaid.store.model import CommMode
from tests.cli.test_simulate_cli import RunningFleet, start_simulator
from tests.hes.simulated_meters import fleet_meters, register_fleet

runner = CliRunner()
SEED = 3  # meter 0 is a CT meter (no relay), meter 3 a one-phase whole-current meter
METERS = 4
pytestmark = pytest.mark.slow


@dataclass
class RunningHes:
    process: subprocess.Popen[str]
    ready: str

    def port(self, name: str) -> int:
        part = next(p for p in self.ready.removeprefix("ready: ").split(", ") if p.startswith(name))
        return int(part.rsplit(":", 1)[1].split("/")[0])

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=30)
        return self.process.returncode, err


def start_hes(data_dir: Path, *options: str) -> RunningHes:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("OPENPREPAID_CONFIG", None)
    command = [sys.executable, "-m", "openprepaid", "--data-dir", str(data_dir), "hes", "run"]
    command += ["--push-port", "0", "--dial-in-port", "0", "--metrics-port", "0", *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("ready:"):
        _, err = process.communicate(timeout=20)
        raise AssertionError(f"hes run did not start: {line!r} {err[-2000:]}")
    return RunningHes(process, line)


def invoke(data_dir: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--data-dir", str(data_dir), *args])


@pytest.fixture
def township(tmp_path: Path) -> Iterator[tuple[Path, RunningFleet]]:
    """A data directory whose database knows the fleet's meters, and the fleet running."""
    data_dir = tmp_path / "hes"
    settings = Settings(data_dir=data_dir)
    engine, sessions = build_store(settings)
    fleet = start_simulator(tmp_path, "--seed", str(SEED), "--history-days", "1", meters=METERS)
    try:
        model = Fleet(FleetConfig(size=METERS, seed=SEED, history_days=0, billing_history=False), 0)
        register_fleet(sessions, KeyVault(load_master_key(settings)), fleet_meters(model), first_port=fleet.port)
        engine.dispose()
        yield data_dir, fleet
    finally:
        fleet.stop()


def wait_for(check, timeout_s: float = 30.0, every_s: float = 0.5):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every_s)


def test_a_disconnect_from_the_command_line_is_confirmed_by_read_back(township):
    data_dir, _fleet = township
    hes = start_hes(data_dir, "--tick-s", "3600", "--command-poll-s", "0.3", "--response-timeout-s", "5")
    try:
        queued = invoke(data_dir, "hes", "command", "disconnect", "OPS00000004", "--reason", "test", "--key", "k1")
        assert queued.exit_code == 0, queued.output
        assert "relay_disconnect queued" in queued.output
        again = invoke(data_dir, "hes", "command", "disconnect", "OPS00000004", "--reason", "test", "--key", "k1")
        assert again.output.split()[0] == queued.output.split()[0]  # the same key never queues twice

        def confirmed() -> str | None:
            shown = invoke(data_dir, "hes", "command", "status", "OPS00000004")
            return shown.output if "confirmed" in shown.output else None

        status = wait_for(confirmed)
        assert status, invoke(data_dir, "hes", "command", "status", "OPS00000004").output
        assert '"output_state": false' in status and '"control_state": 0' in status

        read = invoke(data_dir, "hes", "read", "OPS00000004", "--timeout-s", "5")
        assert read.exit_code == 0, read.output
        result = json.loads(read.output)
        assert result["serial"] == "OPS00000004" and result["relay"]["control_state"] == "disconnected"
        assert result["instant"][0]["import_wh_total"] > 0 and abs(result["clock_drift_s"]) < 10

        shown = json.loads(invoke(data_dir, "meters", "show", "OPS00000004", "--json").output)
        assert (shown["relay_connected"], shown["relay_control_state"]) == (False, 0)
        assert shown["relay_read_at"] == result["relay"]["read_at"]  # the newest read is on record
        listed = invoke(data_dir, "meters", "list").output
        assert "open, read " in listed and " IST" in listed and "no relay" in listed  # meter 1 is a CT meter

        # Any meter can be read by the running head-end instead: the same JSON, from command.readback.
        through = invoke(data_dir, "hes", "read", "#4", "--via-head-end", "--timeout-s", "60")
        assert through.exit_code == 0, through.output
        via_head_end = json.loads(through.output)
        assert via_head_end.keys() == result.keys() and via_head_end["relay"].keys() == result["relay"].keys()
        assert via_head_end["relay"]["control_state"] == "disconnected"
        assert via_head_end["instant"][0].keys() == result["instant"][0].keys()
        status = invoke(data_dir, "hes", "command", "status", "#4").output
        assert "meter_read confirmed" in status and "by=operator:cli" in status

        metrics_url = f"http://127.0.0.1:{hes.port('metrics')}/metrics"
        with urllib.request.urlopen(metrics_url, timeout=5) as response:
            text = response.read().decode()
        assert 'openprepaid_hes_command_outcomes_total{kind="relay_disconnect",state="confirmed"} 1.0' in text

        reconnect = invoke(data_dir, "hes", "command", "reconnect", "#4")
        assert reconnect.exit_code == 0 and "relay_reconnect queued" in reconnect.output
    finally:
        code, err = hes.stop()
    assert code == 0, err[-2000:]
    assert "Traceback" not in err


def test_the_on_demand_read_of_a_meter_without_relay_and_refusals(township):
    data_dir, _fleet = township
    read = invoke(data_dir, "hes", "read", "OPS00000001", "--timeout-s", "5")
    assert read.exit_code == 0, read.output
    assert json.loads(read.output)["relay"] is None  # a CT meter
    refused = invoke(data_dir, "hes", "command", "disconnect", "OPS00000001")
    assert refused.exit_code == 1 and "relay" in refused.output
    unknown = invoke(data_dir, "hes", "command", "disconnect", "NOBODY")
    assert unknown.exit_code == 1 and "no single meter" in unknown.output
    assert (
        invoke(data_dir, "hes", "command", "status", "OPS00000001").output.strip().endswith("no relay or read commands")
    )
    shown = invoke(data_dir, "meters", "show", "OPS00000001")
    assert shown.exit_code == 0 and "relay:     no relay" in shown.output
    assert invoke(data_dir, "meters", "show", "NOBODY").exit_code == 1
    bad_title = invoke(data_dir, "hes", "run", "--system-title", "0102")
    assert bad_title.exit_code == 2 and "8 octets" in bad_title.output


def test_a_dial_in_meter_is_read_through_the_running_head_end(tmp_path):
    data_dir = tmp_path / "hes"
    settings = Settings(data_dir=data_dir)
    engine, sessions = build_store(settings)
    model = Fleet(FleetConfig(size=METERS, seed=SEED, history_days=0, billing_history=False), 0)
    register_fleet(
        sessions, KeyVault(load_master_key(settings)), fleet_meters(model), first_port=None, comm_mode=CommMode.DIAL_IN
    )
    engine.dispose()

    # No head-end runs: the read is queued, nobody runs it in time, exit 3 and the command stays queued.
    waited = invoke(data_dir, "hes", "read", "OPS00000004", "--timeout-s", "1", "--key", "read-4")
    assert waited.exit_code == 3, waited.output
    assert "no head-end ran meter_read #" in waited.output and "stays queued" in waited.output
    command_ref = waited.output.split("meter_read ", 1)[1].split()[0]
    status = invoke(data_dir, "hes", "command", "status", "OPS00000004").output
    assert f"{command_ref} meter_read queued" in status

    hes = start_hes(data_dir, "--tick-s", "3600", "--command-poll-s", "0.3", "--response-timeout-s", "5")
    fleet = start_simulator(
        tmp_path,
        "--seed",
        str(SEED),
        "--history-days",
        "1",
        "--dial-in",
        f"127.0.0.1:{hes.port('dial-in')}",
        meters=METERS,
    )
    try:
        # The same key finds the same command, which the head-end runs once the meter has dialled in.
        read = invoke(data_dir, "hes", "read", "OPS00000004", "--timeout-s", "120", "--key", "read-4")
        assert read.exit_code == 0, read.output
        result = json.loads(read.output)
        assert result["serial"] == "OPS00000004" and result["relay"]["control_state"] == "connected"
        assert result["instant"][0]["import_wh_total"] > 0 and abs(result["clock_drift_s"]) < 10
        assert f"{command_ref} meter_read confirmed" in invoke(data_dir, "hes", "command", "status", "#4").output

        no_relay = invoke(data_dir, "hes", "read", "OPS00000001", "--timeout-s", "120")
        assert no_relay.exit_code == 0, no_relay.output
        assert json.loads(no_relay.output)["relay"] is None  # a CT meter
    finally:
        fleet.stop()
        code, err = hes.stop()
    assert code == 0, err[-2000:]
    assert "Traceback" not in err
    shown = json.loads(invoke(data_dir, "meters", "show", "OPS00000004", "--json").output)
    assert shown["relay_connected"] is True and shown["relay_control_state"] == 1
    assert shown["relay_read_at"] == result["relay"]["read_at"] and shown["comm_mode"] == "dial_in"
    assert "relay:     closed, read " in invoke(data_dir, "meters", "show", "OPS00000004").output


def test_run_stops_cleanly_and_serves_metrics(tmp_path):
    data_dir = tmp_path / "empty"
    hes = start_hes(data_dir, "--tick-s", "1")
    try:
        url = f"http://127.0.0.1:{hes.port('metrics')}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert b"openprepaid_hes_dial_in_connections 0.0" in response.read()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url.replace("/metrics", "/other"), timeout=5)
        assert hes.process.poll() is None
    finally:
        code, err = hes.stop()
    assert code == 0 and "Traceback" not in err
