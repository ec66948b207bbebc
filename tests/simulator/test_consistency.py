"""Registers, block load, daily load and billing profiles agree to the Wh (domain.md §2 charging rule).

The sum of the block-load intervals between two midnights must equal the daily register delta,
the daily snapshots must equal the registers at midnight, and the billing snapshot must equal the
registers at 00:00 on the 1st; all of it the same however the meter is advanced.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from openprepaid.meters.event_codes import EventLog
from openprepaid.meters.meter_types import THREE_PHASE_LT_CT, THREE_PHASE_WHOLE_CURRENT
from openprepaid.simulator import faults
from openprepaid.simulator.load_model import Category
from openprepaid.simulator.profile_buffer import EntrySelection
from openprepaid.simulator.virtual_meter import VirtualMeter

from .conftest import DAY, HOUR, IST, ist, make_meter

BLOCK = "1.0.99.1.0.255"
DAILY = "1.0.99.2.0.255"
BILLING = "1.0.98.1.0.255"
IMPORT_WH = "1.0.1.8.0.255"


def _block(meter: VirtualMeter) -> list[tuple[object, ...]]:
    return meter.get(7, BLOCK, 2)  # type: ignore[return-value]


def _daily(meter: VirtualMeter) -> list[tuple[object, ...]]:
    return meter.get(7, DAILY, 2)  # type: ignore[return-value]


def _assert_daily_matches_block(meter: VirtualMeter, energy_column: int = 2) -> int:
    daily = _daily(meter)
    block = _block(meter)
    checked = 0
    covered_from = block[0][0] - timedelta(seconds=meter.capture_period_s)  # type: ignore[operator]
    for before, after in pairwise(daily):
        if before[0] < covered_from:  # type: ignore[operator]
            continue  # the block buffer restarted after this day
        intervals = [r for r in block if before[0] < r[0] <= after[0]]  # type: ignore[operator]
        assert len(intervals) == DAY // meter.capture_period_s
        assert sum(r[energy_column] for r in intervals) == after[1] - before[1]  # type: ignore[misc,operator]
        checked += 1
    return checked


def test_block_intervals_sum_to_daily_register_deltas() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 9, 5))
    assert _assert_daily_matches_block(meter) == 7
    block = _block(meter)
    # the registers now = the last midnight snapshot + the intervals since + the open slot
    last_midnight = _daily(meter)[-1]
    since = sum(r[2] for r in block if r[0] > last_midnight[0])  # type: ignore[misc,operator]
    register = meter.get(3, IMPORT_WH, 2)
    assert isinstance(register, int)
    assert last_midnight[1] + since <= register <= last_midnight[1] + since + 2000  # type: ignore[operator]


def test_apparent_and_export_columns_agree_too() -> None:
    meter = make_meter(index=4)
    meter.advance(ist(2025, 3, 6))
    daily, block = _daily(meter), _block(meter)
    for before, after in pairwise(daily):
        intervals = [r for r in block if before[0] < r[0] <= after[0]]  # type: ignore[operator]
        assert sum(r[3] for r in intervals) == after[2] - before[2]  # type: ignore[misc,operator]  kVAh
        assert sum(r[4] for r in intervals) == after[3] - before[3]  # type: ignore[misc,operator]  export


def test_three_phase_reactive_energy_is_consistent() -> None:
    meter = make_meter(meter_type=THREE_PHASE_LT_CT, category=Category.INDUSTRIAL)
    meter.advance(ist(2025, 3, 5))
    daily, block = _daily(meter), _block(meter)
    for before, after in pairwise(daily):
        intervals = [r for r in block if before[0] < r[0] <= after[0]]  # type: ignore[operator]
        assert sum(r[7] for r in intervals) == after[1] - before[1]  # type: ignore[misc,operator]  kWh
        assert sum(r[8] for r in intervals) == after[5] - before[5]  # type: ignore[misc,operator]  kvarh lag
        assert sum(r[8] for r in intervals) > 0  # type: ignore[misc]


def test_consistency_holds_through_outages_relay_operations_and_a_30_minute_period() -> None:
    meter = make_meter(index=2, manual_reconnect_delay_s=None)
    faults.outage(meter, ist(2025, 3, 2, 19, 7), 47 * 60)
    faults.outage(meter, ist(2025, 3, 3, 23, 50), 20 * 60)  # across midnight
    meter.advance(ist(2025, 3, 4, 10, 3))
    meter.action(70, "0.0.96.3.10.255", 1)
    meter.advance(ist(2025, 3, 4, 16, 41))
    meter.action(70, "0.0.96.3.10.255", 2)
    meter.advance(ist(2025, 3, 5, 0, 0))
    assert _assert_daily_matches_block(meter) == 3
    meter.set(1, "1.0.0.8.4.255", 2, 1800)
    meter.advance(ist(2025, 3, 8, 2))
    assert meter.capture_period_s == 1800
    assert _assert_daily_matches_block(meter) == 3  # the buffer restarted at the period change
    assert len(_block(meter)) == 3 * 48 + 4


def _advance_in_steps(meter: VirtualMeter, end: int, step: int) -> None:
    t = meter.true_s
    while t < end:
        t = min(end, t + step)
        meter.advance(t)


@pytest.mark.parametrize("step", [7 * 60 + 13, 3 * HOUR + 1, 29 * HOUR])
def test_the_result_does_not_depend_on_how_the_meter_is_advanced(step: int) -> None:
    whole = make_meter(index=3, limiter_w=1500, control_mode=6)
    stepped = make_meter(index=3, limiter_w=1500, control_mode=6)
    for m in (whole, stepped):
        faults.outage(m, ist(2025, 3, 3, 6, 1), 3 * HOUR)
    end = ist(2025, 3, 6, 13, 7)
    whole.advance(end)
    _advance_in_steps(stepped, end, step)
    assert len(whole.event_codes(EventLog.CONTROL)) >= 4  # the limiter tripped and reconnected on the way
    assert whole.registers() == stepped.registers()
    assert list(whole.daily) == list(stepped.daily)
    assert (whole.md_w, whole.md_w_lt, whole.md_va) == (stepped.md_w, stepped.md_w_lt, stepped.md_va)
    assert _block(whole) == _block(stepped)
    for log in range(7):
        assert whole.get(7, f"0.0.99.98.{log}.255", 2) == stepped.get(7, f"0.0.99.98.{log}.255", 2)


def test_reproducible_with_the_same_seed_and_different_across_meters() -> None:
    a, b, c = make_meter(index=5), make_meter(index=5), make_meter(index=6)
    for m in (a, b, c):
        m.advance(ist(2025, 3, 4))
    assert _block(a) == _block(b)
    assert _block(a) != _block(c)
    d = make_meter(index=5, seed=8)
    d.advance(ist(2025, 3, 4))
    assert _block(a) != _block(d)


def test_billing_snapshot_at_midnight_on_the_first_and_maximum_demand() -> None:
    meter = make_meter(born=ist(2025, 2, 25), meter_type=THREE_PHASE_WHOLE_CURRENT)
    meter.advance(ist(2025, 3, 1, 12))
    billing = meter.get(7, BILLING, 2)
    assert isinstance(billing, list) and len(billing) == 1
    row = billing[0]
    assert row[0] == datetime(2025, 3, 1, tzinfo=IST)
    march_first = next(d for d in _daily(meter) if d[0] == datetime(2025, 3, 1, tzinfo=IST))
    assert row[2] == march_first[1] and row[3] == march_first[2]  # kWh and kVAh = registers at 00:00 on the 1st
    assert 500 < row[1] < 1000  # average power factor of the period, thousandths
    # maximum demand of the period = the largest 30-minute block pair, at the end of its period
    block = _block(meter)
    feb = [r for r in block if r[0] <= datetime(2025, 3, 1, tzinfo=IST)]  # type: ignore[operator]
    pairs = [(feb[i][7] + feb[i + 1][7]) * 2 for i in range(0, len(feb), 2)]  # type: ignore[operator]
    assert row[4] == max(pairs)
    assert row[5] == feb[2 * pairs.index(max(pairs)) + 1][0]
    assert meter.get(1, "0.0.0.1.0.255", 2) == 1  # billing count
    # after billing the MD restarts from the new period
    assert meter.md_w < row[4] or meter.md_w_lt > ist(2025, 3, 1) + 19_800


def test_power_on_duration_counts_supplied_minutes_only() -> None:
    meter = make_meter()
    faults.outage(meter, ist(2025, 3, 2, 10), 90 * 60)
    meter.advance(ist(2025, 3, 3))
    assert meter.get(3, "0.0.94.91.14.255", 2) == 24 * 60 - 90


def test_history_entries_are_bounded() -> None:
    meter = make_meter(born=ist(2025, 1, 1))
    meter.advance(ist(2025, 3, 1, 1))
    assert meter.get(7, DAILY, 7) == meter.meter_type.daily_entries
    assert meter.get(7, BLOCK, 7) == meter.get(7, BLOCK, 8) == meter.meter_type.block_load_days * 96
    first = meter.get(7, BLOCK, 2, EntrySelection(1, 1))
    assert first[0][0] == datetime(2025, 1, 25, 1, 15, tzinfo=IST)  # type: ignore[index]
    assert meter.get(7, "1.0.98.1.0.255", 7) == 2
