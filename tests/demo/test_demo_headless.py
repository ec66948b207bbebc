"""The demo's acceptance in small: a short headless run over the whole loop, checked from the report.

The full figure (7 days, 200 meters, under 3 minutes) is `openprepaid demo --headless --days 7
--meters 200`; this runs the same code on 5.5 simulated days and 16 meters: long enough for a low
balance to run through 3 days of emergency credit to a disconnection, for a recharge to reconnect
it, and for the protected consumer to run out without being disconnected.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.demo.ports import free_port_block

pytestmark = pytest.mark.slow


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openprepaid", "demo", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_five_days_of_the_prepaid_loop_hold_every_invariant(tmp_path):
    port = free_port_block(16)
    report_path = tmp_path / "report.json"
    done = _demo(
        tmp_path, "--headless", "--days", "5.5", "--meters", "16", "--port", str(port), "--report", str(report_path)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["meters"] == 16
    assert report["intervals_stored"] == report["intervals_expected"] > 0  # the offline meter caught up
    assert report["intervals_charged"] == report["intervals_stored"]
    assert report["intervals_charged_twice"] == 0
    assert report["ledger_imbalance_paise"] == 0
    assert report["balance_mismatch_accounts"] == 0
    assert report["recharges"] > 16  # the opening balances and at least one top-up
    assert report["recharges_credited_twice"] == 0
    assert report["disconnects_auto"] >= 1
    assert report["disconnects_in_blocked_window"] == 0
    assert report["disconnects_of_protected"] == 0
    assert report["reconnects_verified"] >= 1
    assert report["commands_confirmed_without_readback"] == 0
    assert report["enforcement_gap_accounts"] >= 1  # the protected consumer, out of credit, still connected
    # Measured (simulated time runs at wall speed from the recharge to the read-back), not zero by construction.
    assert 0 < report["reconnect_after_recharge_p99_s"] <= 900

    # A rerun resumes: the same township, no money moved twice, time goes on from where it stopped.
    again = _demo(
        tmp_path, "--headless", "--days", "6", "--meters", "16", "--port", str(port), "--report", str(report_path)
    )
    assert again.returncode == 0, again.stderr[-3000:]
    resumed = json.loads(report_path.read_text())
    assert resumed["simulated_days"] == 6
    assert resumed["recharges_credited_twice"] == 0
    assert resumed["intervals_charged_twice"] == 0
    assert resumed["ledger_imbalance_paise"] == 0
    assert resumed["balance_mismatch_accounts"] == 0
    assert resumed["commands_confirmed_without_readback"] == 0
    assert resumed["intervals_charged"] == resumed["intervals_stored"] > report["intervals_stored"]


def test_a_demo_of_another_shape_in_the_same_data_dir_is_refused(tmp_path):
    port = free_port_block(4)
    first = _demo(tmp_path, "--headless", "--days", "0.1", "--meters", "3", "--port", str(port))
    assert first.returncode == 0, first.stderr[-3000:]
    other = _demo(tmp_path, "--headless", "--days", "0.1", "--meters", "5", "--port", str(port))
    assert other.returncode == 2
    assert "another --data-dir" in other.stderr
