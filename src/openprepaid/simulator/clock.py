"""Simulated time: a fleet clock that can run faster than real time, and each meter's own clock.

``FleetClock`` turns an injected monotonic source into "true" simulated UTC time, ``speed`` times
faster than the source (architecture.md: a clock object, not ``datetime.now()`` in the logic).
``MeterClock`` is what a meter's real-time clock (IS 15959 clock object 0.0.1.0.0.255) reads for a
true time: true time plus an offset plus a drift in parts per million, so clock-drift faults and
time synchronisation can be simulated. Times inside the simulator are integer seconds since the
Unix epoch (UTC); meters evaluate days and intervals in their local offset (IST, +05:30, by
default; offsets with daylight saving are not modelled).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

IST_OFFSET_S = 19_800


def to_epoch_s(at: datetime) -> int:
    """An aware datetime -> whole seconds since the epoch (floor); naive datetimes are refused."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: simulator times must be aware")
    return int((at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1))


def to_datetime(epoch_s: int, offset_s: int = 0) -> datetime:
    """Seconds since the epoch -> aware datetime in a fixed UTC offset (UTC by default)."""
    tz = UTC if offset_s == 0 else timezone(timedelta(seconds=offset_s))
    return datetime(1970, 1, 1, tzinfo=UTC).astimezone(tz) + timedelta(seconds=epoch_s)


class FleetClock:
    """True simulated time: ``start`` plus the monotonic time elapsed since creation, times ``speed``."""

    def __init__(self, start: datetime, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._monotonic = monotonic
        self._anchor_true_s = float(to_epoch_s(start))
        self._anchor_mono = monotonic()
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def now_s(self) -> float:
        return self._anchor_true_s + (self._monotonic() - self._anchor_mono) * self._speed

    def now_epoch_s(self) -> int:
        return int(self.now_s())

    def now(self) -> datetime:
        return to_datetime(0) + timedelta(seconds=self.now_s())

    def set_speed(self, speed: float) -> None:
        """Change speed from now on without a jump in simulated time."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._anchor_true_s = self.now_s()
        self._anchor_mono = self._monotonic()
        self._speed = float(speed)

    def jump_to(self, at: datetime) -> None:
        """Move simulated time (tests and demos); a jump backwards is refused."""
        target = float(to_epoch_s(at))
        if target < self.now_s() - 1e-6:
            raise ValueError("the fleet clock does not run backwards")
        self._anchor_true_s = target
        self._anchor_mono = self._monotonic()


class MeterClock:
    """A meter's real-time clock: true time + offset + drift (ppm) since the last setting.

    ``meter_time(true_s)`` is what the meter reads; ``set(meter_s, at_true_s)`` is a time
    synchronisation (the drift rate is kept, its accumulation restarts).
    """

    __slots__ = ("_anchor_meter_s", "_anchor_true_s", "drift_ppm", "offset_s")

    def __init__(self, offset_s: int = 0, drift_ppm: float = 0.0, anchor_true_s: int = 0) -> None:
        self.offset_s = offset_s
        self.drift_ppm = drift_ppm
        self._anchor_true_s = anchor_true_s
        self._anchor_meter_s = anchor_true_s + offset_s

    def meter_time(self, true_s: int) -> int:
        elapsed = true_s - self._anchor_true_s
        return self._anchor_meter_s + elapsed + int(elapsed * self.drift_ppm / 1_000_000)

    def true_time(self, meter_s: int) -> int:
        """The true time at which the meter's clock reads ``meter_s`` (inverse of ``meter_time``)."""
        elapsed_meter = meter_s - self._anchor_meter_s
        return self._anchor_true_s + round(elapsed_meter / (1 + self.drift_ppm / 1_000_000))

    def set(self, meter_s: int, at_true_s: int) -> None:
        self._anchor_true_s = at_true_s
        self._anchor_meter_s = meter_s
        self.offset_s = meter_s - at_true_s

    def set_drift(self, drift_ppm: float, at_true_s: int) -> None:
        """Change the drift rate from ``at_true_s`` on, keeping the reading continuous."""
        self.set(self.meter_time(at_true_s), at_true_s)
        self.drift_ppm = drift_ppm
