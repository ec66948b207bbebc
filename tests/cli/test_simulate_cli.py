"""``openprepaid simulate``: the ready line, the fault subcommand, pushes, clean shutdown, errors.

The fleet runs as a real subprocess (``python -m openprepaid simulate ...``), as an operator starts
it; the ``fault`` subcommand and the option checks run in-process with Typer's CliRunner.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openprepaid.cli import app
from openprepaid.cli.simulate import load_credentials
from openprepaid.cosem.axdr import decode_data
from openprepaid.cosem.wrapper import WrapperDecoder
from openprepaid.cosem.xdlms import decode_xdlms_apdu
from openprepaid.cosem.xdlms_notification import DataNotification
from openprepaid.simulator.meter_security import TEST_KEYS

runner = CliRunner()
LAST_GASP = 85


@dataclass
class RunningFleet:
    process: subprocess.Popen[str]
    port: int
    control_port: int
    ready: str

    def stop(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=20)
        return self.process.returncode, out, err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_simulator(tmp_path: Path, *options: str, meters: int = 2) -> RunningFleet:
    """``openprepaid simulate`` in a subprocess, on a free port range; returns once it printed ready."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("OPENPREPAID_CONFIG", None)
    for _ in range(10):
        port, control_port = random.randrange(31_000, 32_000), free_port()
        command = [sys.executable, "-m", "openprepaid", "--data-dir", str(tmp_path)]
        command += ["simulate", "--meters", str(meters), "--port", str(port), "--control-port", str(control_port)]
        process = subprocess.Popen(
            [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
        )
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if line.startswith("ready:"):
            return RunningFleet(process, port, control_port, line)
        _, err = process.communicate(timeout=20)
        if "cannot listen" not in err:
            raise AssertionError(f"simulate did not start: {line!r} {err[-2000:]}")
    raise AssertionError("no free port range for the simulator")


@dataclass
class PushCatcher:
    """A head-end push listener in a thread: collects the DataNotifications it receives."""

    sock: socket.socket = field(default_factory=socket.socket)
    notifications: list[DataNotification] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            decoder = WrapperDecoder()
            with connection:
                connection.settimeout(5)
                while data := connection.recv(4096):
                    decoder.receive_data(data)
                    while (frame := decoder.next_event()) is not None:
                        notification = decode_xdlms_apdu(frame.apdu)
                        assert isinstance(notification, DataNotification)
                        self.notifications.append(notification)

    def wait(self, count: int, timeout_s: float = 10) -> list[DataNotification]:
        deadline = time.monotonic() + timeout_s
        while len(self.notifications) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.notifications)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def catcher() -> Iterator[PushCatcher]:
    receiver = PushCatcher()
    yield receiver
    receiver.close()


def fault(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["simulate", "fault", *args])
    assert result.exit_code == 0, result.output
    reply = json.loads(result.stdout)
    assert isinstance(reply, dict)
    return reply


def test_ready_line_faults_pushes_and_a_clean_shutdown(tmp_path: Path, catcher: PushCatcher) -> None:
    fleet = start_simulator(tmp_path, "--push-to", f"127.0.0.1:{catcher.port}", "--history-days", "1")
    try:
        assert fleet.ready == f"ready: 2 meters on 127.0.0.1:{fleet.port}-{fleet.port + 1}"
        control = ("--control-port", str(fleet.control_port))
        assert fault("outage", "--meters", "1", "--duration-s", "3600", *control) == {"ok": True, "meters": 1}
        [gasp] = catcher.wait(1)
        device_id, _push_setup, _clock, word = decode_data(gasp.body)
        assert device_id == "OPS00000002" and word[LAST_GASP] == "1"
        status = fault("status", "--meters", "0-1", *control)
        assert [meter["powered"] for meter in status["meters"]] == [True, False]  # type: ignore[index]
        assert fault("network", "--meters", "0", "--latency-ms", "300-3000", "--drop-rate", "0.1", *control)["ok"]
    finally:
        code, out, err = fleet.stop()
    assert code == 0, err[-2000:]
    assert out == ""  # nothing after the ready line (read above)


def test_dial_in_mode_prints_its_own_ready_line(tmp_path: Path) -> None:
    head_end = socket.socket()
    head_end.bind(("127.0.0.1", 0))
    head_end.listen()
    port = head_end.getsockname()[1]
    try:
        fleet = start_simulator(tmp_path, "--dial-in", f"127.0.0.1:{port}", meters=1)
        head_end.settimeout(10)
        connection, _ = head_end.accept()  # the meter dialled in
        with connection:
            connection.settimeout(5)
            decoder = WrapperDecoder()
            frame = None
            while frame is None:
                decoder.receive_data(connection.recv(4096))
                frame = decoder.next_event()
            announcement = decode_xdlms_apdu(frame.apdu)
            assert isinstance(announcement, DataNotification)
            assert decode_data(announcement.body)[1] == "OPS00000001"
        code, _out, err = fleet.stop()
    finally:
        head_end.close()
    assert fleet.ready == f"ready: 1 meters dialling 127.0.0.1:{port}"
    assert code == 0, err[-2000:]


def test_a_taken_port_is_an_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["--data-dir", str(tmp_path), "simulate", "--meters", "1", "--port", str(port)])
    assert result.exit_code == 1
    assert "cannot listen" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--latency-ms", "fast"], "LOW-HIGH"),
        (["--latency-ms", "300-100"], "LOW <= HIGH"),
        (["--dial-in", "hes"], "HOST:PORT"),
        (["--push-to", "hes:0"], "HOST:PORT"),
        (["--meters", "0"], "meters"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "simulate", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_a_bad_credentials_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "keys.json"
    bad.write_text('{"ek": "not hex"}')
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "simulate", "--security", str(bad)])
    assert result.exit_code == 2 and "keys.json" in result.output


def test_credentials_file_overrides_per_meter(tmp_path: Path) -> None:
    document = {
        "password": "abcdefgh",
        "meters": {"OPS00000002": {"ak": "00" * 16, "system_title": "4142430000000002"}},
    }
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(document))
    book = load_credentials(path)
    assert book.for_serial("OPS00000001").password == b"abcdefgh"
    assert book.for_serial("OPS00000001").keys == TEST_KEYS
    other = book.for_serial("OPS00000002")
    assert other.password == b"abcdefgh" and other.keys.authentication == bytes(16)
    assert other.keys.global_unicast == TEST_KEYS.global_unicast and other.system_title == b"ABC\x00\x00\x00\x00\x02"


def test_fault_needs_a_known_kind_and_a_running_fleet(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "fault", "explode", "--control-port", "1"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["simulate", "fault", "status", "--control-port", str(free_port())])
    assert result.exit_code == 1 and "no answer" in result.stderr
