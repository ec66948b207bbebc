"""Fleet clock (faster than real time, injected monotonic source) and per-meter clocks with drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from openprepaid.simulator.clock import FleetClock, MeterClock, to_datetime, to_epoch_s

from .conftest import IST


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


START = datetime(2025, 3, 2, tzinfo=UTC)


def test_fleet_clock_runs_speed_times_faster() -> None:
    mono = FakeMonotonic()
    clock = FleetClock(START, speed=60, monotonic=mono)
    assert clock.now() == START
    mono.t += 10
    assert clock.now() == START + timedelta(minutes=10)
    assert clock.now_epoch_s() == to_epoch_s(START) + 600
    assert clock.speed == 60


def test_changing_speed_does_not_jump() -> None:
    mono = FakeMonotonic()
    clock = FleetClock(START, speed=10, monotonic=mono)
    mono.t += 6
    clock.set_speed(1)
    assert clock.now() == START + timedelta(seconds=60)
    mono.t += 6
    assert clock.now() == START + timedelta(seconds=66)


def test_jumping_forward_only() -> None:
    mono = FakeMonotonic()
    clock = FleetClock(START, monotonic=mono)
    clock.jump_to(START + timedelta(days=1))
    assert clock.now() == START + timedelta(days=1)
    with pytest.raises(ValueError, match="backwards"):
        clock.jump_to(START)


@pytest.mark.parametrize("speed", [0, -1])
def test_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        FleetClock(START, speed=speed, monotonic=FakeMonotonic())
    clock = FleetClock(START, monotonic=FakeMonotonic())
    with pytest.raises(ValueError, match="positive"):
        clock.set_speed(speed)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_epoch_s(datetime(2025, 1, 1))


def test_epoch_conversions_keep_the_offset() -> None:
    at = to_datetime(to_epoch_s(datetime(2025, 3, 2, 6, 0, tzinfo=IST)), 19_800)
    assert at == datetime(2025, 3, 2, 6, 0, tzinfo=IST)
    assert at.utcoffset() == timedelta(hours=5, minutes=30)
    assert to_datetime(0) == datetime(1970, 1, 1, tzinfo=UTC)


def test_meter_clock_offset_and_drift() -> None:
    clock = MeterClock(offset_s=30, drift_ppm=100, anchor_true_s=1_000_000)
    assert clock.meter_time(1_000_000) == 1_000_030
    assert clock.meter_time(1_000_000 + 86_400) == 1_000_030 + 86_400 + 8  # 100 ppm of a day is 8.64 s
    assert clock.true_time(clock.meter_time(1_500_000)) == 1_500_000


def test_meter_clock_set_and_change_drift_keep_continuity() -> None:
    clock = MeterClock(drift_ppm=-50, anchor_true_s=0)
    before = clock.meter_time(100_000)
    clock.set_drift(200, 100_000)
    assert clock.meter_time(100_000) == before
    assert clock.meter_time(100_000 + 10_000) == before + 10_002
    clock.set(5_000_000, 200_000)
    assert clock.meter_time(200_000) == 5_000_000 and clock.offset_s == 4_800_000
