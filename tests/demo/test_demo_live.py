"""The live demo: a readable status while it runs, a clean stop on Ctrl-C, and a rerun that resumes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.demo.ports import free_port_block

pytestmark = pytest.mark.slow

LABELS = ("meters online", "intervals collected", "charged today", "on emergency credit", "relays open",
          "pending commands", "recent:", "look further")


def _run_live_until_status(data_dir: Path, port: int, *, statuses: int) -> str:
    """Start the live demo, wait for ``statuses`` status blocks, then Ctrl-C it; returns its stdout."""
    process = subprocess.Popen(
        [sys.executable, "-m", "openprepaid", "demo", "--data-dir", str(data_dir), "--meters", "6",
         "--port", str(port), "--speed", "20000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    seen, lines = 0, []
    deadline = time.monotonic() + 120
    try:
        while seen < statuses and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            seen += line.startswith("openprepaid demo — ")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert seen >= statuses, "".join(lines)[-2000:] + err[-2000:]
    assert process.returncode == 0, err[-3000:]
    return "".join(lines) + out


def _saved_now(data_dir: Path) -> datetime:
    return datetime.fromisoformat(json.loads((data_dir / "demo-state.json").read_text())["now"])


def test_live_status_is_readable_ctrl_c_stops_cleanly_and_a_rerun_resumes(tmp_path):
    port = free_port_block(6)
    data_dir = tmp_path / "data"
    first = _run_live_until_status(data_dir, port, statuses=3)
    for label in LABELS:
        assert label in first, f"{label!r} missing from the status:\n{first[-2000:]}"
    assert "stopped; run the same command again to resume." in first
    stopped_at = _saved_now(data_dir)

    second = _run_live_until_status(data_dir, port, statuses=1)
    assert "stopped;" in second
    assert _saved_now(data_dir) > stopped_at  # time went on from where the first run stopped
    starting = next(line for line in second.splitlines() if line.startswith("openprepaid demo — "))
    assert "Monday 02 November 2026, 00:" not in starting  # not from the township's start again


def test_the_commands_the_demo_suggests_work_on_its_database(tmp_path):
    port = free_port_block(6)
    data_dir = tmp_path / "data"
    out = _run_live_until_status(data_dir, port, statuses=2)
    lines = [line.strip() for line in out.splitlines()]
    suggested = [line.split("   ")[0] for line in lines if line.startswith("openprepaid --data-dir")]
    assert {command.split()[3] for command in suggested} >= {"accounts", "meters"}
    for command in dict.fromkeys(suggested):  # each once, in order
        words = command.replace("[--status disconnected|emergency|low]", "").split()
        done = subprocess.run([sys.executable, "-m", "openprepaid", *words[1:]], capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, (command, done.stderr[-2000:])
        assert done.stdout.strip(), command
