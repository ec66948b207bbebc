"""One simulated clock for the whole demo: the fleet, the head-end and the wallet read it.

The demo moves simulated time in steps (``advance_to``); the meters' ``FleetClock`` takes its
elapsed time from here (speed 1 on this source), the head-end's ``Clock`` reads ``now`` from here,
while rate limits and back-off waits use real time scaled down, so a step never waits for
simulated hours to pass.

Between steps simulated time stands still, except inside ``flowing()``: there it runs at wall-clock
speed, so what happens in that window (a recharge, the rules, the relay command and its read-back)
is timestamped with the time the server really took, not with zero.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

SLEEP_SCALE = 1000.0  # a simulated second of waiting is a real millisecond


class DemoTime:
    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the demo starts at an aware time")
        self.start = start
        self._now = start
        self._flow_origin: float | None = None  # monotonic time at which ``flowing()`` began

    def now(self) -> datetime:
        if self._flow_origin is None:
            return self._now
        return self._now + timedelta(seconds=time.monotonic() - self._flow_origin)

    @contextmanager
    def flowing(self) -> Iterator[None]:
        """Let simulated time run at wall-clock speed inside the block; it stays where it got to."""
        if self._flow_origin is not None:
            raise RuntimeError("simulated time is already flowing")
        self._flow_origin = time.monotonic()
        try:
            yield
        finally:
            self._now = self.now()
            self._flow_origin = None

    def elapsed_s(self) -> float:
        """Seconds of simulated time since the start (the fleet clock's monotonic source)."""
        return (self.now() - self.start).total_seconds()

    def advance_to(self, at: datetime) -> None:
        if self._flow_origin is not None:
            raise RuntimeError("simulated time cannot jump while it is flowing")
        if at < self._now:
            raise ValueError("simulated time does not run backwards")
        self._now = at

    def advance(self, step: timedelta) -> datetime:
        self.advance_to(self._now + step)
        return self._now


class HeadEndClock:
    """``hes.clock.Clock`` on demo time: schedules see simulated time; waits are short real sleeps."""

    def __init__(self, demo_time: DemoTime) -> None:
        self._time = demo_time

    def now(self) -> datetime:
        return self._time.now()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        # Back-off and polling waits are simulated seconds: a step's retries happen within the step.
        await asyncio.sleep(max(seconds, 0.0) / SLEEP_SCALE)
