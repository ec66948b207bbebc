"""Property test: whatever happens to a meter, its registers and profiles stay consistent.

Random scripts of relay commands, outages, tamper, limiter settings, clock settings and advances
of random length; after each script the block-load intervals between two midnights must sum to
the daily register delta, registers never decrease, the relay output matches the control state,
and a twin meter advanced in one step ends in the same state.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from openprepaid.simulator import faults
from openprepaid.simulator.clock import to_datetime
from openprepaid.simulator.disconnect_control import ControlState
from openprepaid.simulator.virtual_meter import VirtualMeter

from .conftest import DAY, ist, make_meter

BORN = ist(2025, 2, 27)
END = BORN + 5 * DAY

step = st.one_of(
    st.tuples(st.just("advance"), st.integers(1, 20 * 3600)),
    st.tuples(st.just("disconnect"), st.just(0)),
    st.tuples(st.just("reconnect"), st.just(0)),
    st.tuples(st.just("limit"), st.sampled_from([0, 400, 900, 1500, 5000])),
    st.tuples(st.just("clock"), st.integers(-600, 3 * 3600)),
    st.tuples(st.just("mode"), st.integers(0, 6)),
)
fault = st.tuples(st.sampled_from(["outage", "magnet", "cover"]), st.integers(0, 4 * DAY), st.integers(60, 6 * 3600))


def _apply(meter: VirtualMeter, action: str, value: int) -> None:
    if not meter.powered:
        return
    if action == "disconnect":
        meter.action(70, "0.0.96.3.10.255", 1)
    elif action == "reconnect":
        meter.action(70, "0.0.96.3.10.255", 2)
    elif action == "limit":
        meter.set(71, "0.0.17.0.0.255", 4, value)
    elif action == "mode":
        meter.set(70, "0.0.96.3.10.255", 4, value)
    elif action == "clock":
        now = meter.get(8, "0.0.1.0.0.255", 2)
        meter.set(8, "0.0.1.0.0.255", 2, now + timedelta(seconds=value))  # type: ignore[operator]


def _schedule(meter: VirtualMeter, fault_list: list[tuple[str, int, int]]) -> None:
    for kind, offset, duration in fault_list:
        if kind == "outage":
            faults.outage(meter, BORN + offset, duration)
        elif kind == "magnet":
            faults.magnet(meter, BORN + offset, duration)
        else:
            faults.cover_open(meter, BORN + offset)


@settings(max_examples=25)
@given(st.lists(step, min_size=1, max_size=12), st.lists(fault, max_size=4), st.integers(1, 50))
def test_any_script_keeps_registers_and_profiles_consistent(
    script: list[tuple[str, int]], fault_list: list[tuple[str, int, int]], index: int
) -> None:
    meter = make_meter(index=index, born=BORN, manual_reconnect_delay_s=900)
    _schedule(meter, fault_list)
    t = BORN
    last = meter.registers()
    for action, value in script:
        if action == "advance":
            t = min(END, t + value)
            meter.advance(t)
        else:
            _apply(meter, action, value)
        now = meter.registers()
        assert all(b >= a for a, b in zip(last, now, strict=True))
        last = now
        assert meter.output_state == (meter.control_state == ControlState.CONNECTED)
    meter.advance(END)
    daily = meter.daily
    rows = meter.get(7, "1.0.99.1.0.255", 2) if meter.powered else []
    assert isinstance(rows, list)
    if rows:
        period = meter.capture_period_s
        first_end = rows[0][0]
        stride = 6
        snapshots = [
            (to_datetime(daily[i] - meter.tz_s, meter.tz_s), daily[i + 1]) for i in range(0, len(daily), stride)
        ]
        for (start, before), (end, after) in pairwise(snapshots):
            if start + timedelta(seconds=period) < first_end:  # type: ignore[operator]
                continue
            total = sum(r[2] for r in rows if start < r[0] <= end)  # type: ignore[misc,operator]
            assert total == after - before


@settings(max_examples=15)
@given(st.lists(fault, max_size=5), st.lists(st.integers(1, 30 * 3600), min_size=1, max_size=8), st.integers(1, 50))
def test_advancing_in_steps_or_at_once_gives_the_same_meter(
    fault_list: list[tuple[str, int, int]], steps: list[int], index: int
) -> None:
    once = make_meter(index=index, born=BORN, limiter_w=1200, control_mode=6)
    stepped = make_meter(index=index, born=BORN, limiter_w=1200, control_mode=6)
    for meter in (once, stepped):
        _schedule(meter, fault_list)
    t = BORN
    for s in steps:
        t = min(END, t + s)
        stepped.advance(t)
    once.advance(t)
    assert once.registers() == stepped.registers()
    assert list(once.daily) == list(stepped.daily)
    assert (once.md_w, once.md_w_lt, once.md_va, once.md_va_lt) == (
        stepped.md_w,
        stepped.md_w_lt,
        stepped.md_va,
        stepped.md_va_lt,
    )
    for log in range(7):
        assert once.event_codes(log) == stepped.event_codes(log)  # type: ignore[arg-type]
    assert len(once.outbox) == len(stepped.outbox)
