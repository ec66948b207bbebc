"""Throttle limits hold under load, on simulated time."""

from __future__ import annotations

import asyncio

import pytest

from openprepaid.hes.throttle import Throttle, ThrottleFullError, ThrottleLimits
from tests.hes.fakes import FakeClock, settle


class Load:
    """Tasks that take a slot, hold it for ``hold_s`` of simulated time, and record what they saw."""

    def __init__(self, throttle: Throttle, clock: FakeClock, hold_s: float) -> None:
        self.throttle = throttle
        self.clock = clock
        self.hold_s = hold_s
        self.starts: list[tuple[float, int, int]] = []  # (time, meter, priority)
        self.max_active = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def _one(self, meter_id: int, priority: int) -> None:
        async with self.throttle.slot(meter_id, priority):
            self.starts.append((self.clock.monotonic(), meter_id, priority))
            self.max_active = max(self.max_active, self.throttle.active)
            await self.clock.sleep(self.hold_s)

    def spawn(self, meter_id: int, priority: int = 10) -> None:
        self.tasks.append(asyncio.create_task(self._one(meter_id, priority)))


async def test_concurrency_and_rate_hold_under_load():
    clock = FakeClock()
    throttle = Throttle(ThrottleLimits(max_sessions=5, connections_per_s=2, burst=4, min_gap_s=0), clock)
    load = Load(throttle, clock, hold_s=3)
    for meter_id in range(60):
        load.spawn(meter_id)
    for _ in range(400):
        await clock.advance(0.25)
        if len(load.starts) == 60 and throttle.active == 0:
            break
    await asyncio.gather(*load.tasks)
    assert len(load.starts) == 60
    assert load.max_active == 5
    times = sorted(start for start, _, _ in load.starts)
    # Token bucket: never more than burst + rate * t connections by time t.
    for index, start in enumerate(times):
        assert index + 1 <= 4 + 2 * start + 1e-9
    # 5 sessions of 3 s each: at most 5/3 per second sustained; 60 take at least ~33 s.
    assert times[-1] >= 33
    assert throttle.waiting == 0


async def test_minimum_gap_per_meter_and_one_session_per_meter():
    clock = FakeClock()
    throttle = Throttle(ThrottleLimits(max_sessions=10, connections_per_s=100, burst=100, min_gap_s=5), clock)
    load = Load(throttle, clock, hold_s=1)
    for _ in range(3):
        load.spawn(42)
    load.spawn(7)
    for _ in range(30):
        await clock.advance(1)
    await asyncio.gather(*load.tasks)
    starts_42 = [start for start, meter, _ in load.starts if meter == 42]
    assert starts_42 == [0, 5, 10]
    assert [start for start, meter, _ in load.starts if meter == 7] == [0]


async def test_priority_order_and_no_head_of_line_blocking():
    clock = FakeClock()
    throttle = Throttle(ThrottleLimits(max_sessions=1, connections_per_s=100, burst=100, min_gap_s=60), clock)
    load = Load(throttle, clock, hold_s=10)
    load.spawn(1, priority=10)  # takes the only slot at t=0
    await settle()
    load.spawn(2, priority=10)
    load.spawn(3, priority=20)
    load.spawn(1, priority=30)  # highest, but meter 1 must wait for its 60 s gap
    load.spawn(4, priority=30)
    for _ in range(100):
        await clock.advance(1)
    await asyncio.gather(*load.tasks)
    assert [(meter, priority) for _, meter, priority in load.starts] == [(1, 10), (4, 30), (3, 20), (2, 10), (1, 30)]
    assert load.starts[-1][0] >= 60


async def test_waiting_is_bounded_and_cancellation_is_clean():
    clock = FakeClock()
    throttle = Throttle(
        ThrottleLimits(max_sessions=1, connections_per_s=100, burst=100, min_gap_s=0, max_waiting=2), clock
    )
    await throttle.acquire(1, 10)
    waiters = [asyncio.create_task(throttle.acquire(meter, 10)) for meter in (2, 3)]
    await settle()
    with pytest.raises(ThrottleFullError):
        await throttle.acquire(4, 10)
    waiters[0].cancel()
    await settle()
    assert throttle.waiting == 1
    throttle.release(1)
    await settle()
    assert waiters[1].done() and throttle.active == 1
    throttle.release(3)
    assert throttle.active == 0
    await throttle.close()


def test_limits_are_validated():
    with pytest.raises(ValueError, match="at least 1"):
        ThrottleLimits(max_sessions=0)
    with pytest.raises(ValueError, match="positive"):
        ThrottleLimits(connections_per_s=0)
