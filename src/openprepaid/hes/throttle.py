"""Throttling of meter sessions: how many at once, how fast new ones start, how often per meter.

Cellular networks and meters' modems both punish bursts: a GPRS APN limits concurrent PDP contexts,
a meter's modem drops a second connection while the first is being torn down. So every session
takes a slot from one ``Throttle``:

- at most ``max_sessions`` sessions at once (a counting semaphore);
- at most ``connections_per_s`` new connections per second, with bursts up to ``burst`` (a token
  bucket refilled from the injected clock);
- at least ``min_gap_s`` between two sessions' starts to the same meter, and one session per meter;
- waiters are served by priority (relay commands before on-demand reads before scheduled reads),
  first come first served within a priority; a waiter whose meter is not ready does not block others;
- at most ``max_waiting`` waiters: beyond that ``ThrottleFullError`` (back-pressure, never unbounded).

Time comes from the injected ``Clock`` (monotonic seconds and sleep), so tests and the accelerated
demo run it on simulated time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from openprepaid.hes.clock import Clock
from openprepaid.hes.metrics import HesMetrics
from openprepaid.hes.retry import RetryableError


class ThrottleFullError(RetryableError):
    """Too many tasks are already waiting for a session slot."""


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    max_sessions: int = 64
    connections_per_s: float = 20.0
    burst: int = 20
    min_gap_s: float = 5.0
    max_waiting: int = 10_000

    def __post_init__(self) -> None:
        if self.max_sessions < 1 or self.burst < 1 or self.max_waiting < 1:
            raise ValueError("max_sessions, burst and max_waiting must be at least 1")
        if self.connections_per_s <= 0 or self.min_gap_s < 0:
            raise ValueError("connections_per_s must be positive and min_gap_s not negative")


@dataclass(order=True)
class _Waiter:
    sort_key: tuple[int, int]
    meter_id: int = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


class Throttle:
    def __init__(self, limits: ThrottleLimits, clock: Clock, *, metrics: HesMetrics | None = None) -> None:
        self.limits = limits
        self._clock = clock
        self._metrics = metrics
        self._active_meters: set[int] = set()
        self._last_start: dict[int, float] = {}
        self._tokens = float(limits.burst)
        self._refilled_at = clock.monotonic()
        self._waiters: list[_Waiter] = []
        self._sequence = itertools.count()
        self._timer: asyncio.Task[None] | None = None
        self._timer_due: float | None = None
        self.granted = 0

    @property
    def active(self) -> int:
        return len(self._active_meters)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self, meter_id: int, priority: int) -> AsyncIterator[None]:
        """Hold a session slot for ``meter_id`` for the duration of the block."""
        await self.acquire(meter_id, priority)
        try:
            yield
        finally:
            self.release(meter_id)

    async def acquire(self, meter_id: int, priority: int) -> None:
        if self.waiting >= self.limits.max_waiting:
            raise ThrottleFullError(f"{self.limits.max_waiting} tasks already wait for a session slot")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, _Waiter((-priority, next(self._sequence)), meter_id, future))
        self._dispatch()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release(meter_id)  # granted in the same instant as the cancellation: give it back
            self._drop_cancelled()
            raise

    def release(self, meter_id: int) -> None:
        self._active_meters.discard(meter_id)
        self._dispatch()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._refilled_at)
        self._tokens = min(float(self.limits.burst), self._tokens + elapsed * self.limits.connections_per_s)
        self._refilled_at = now

    def _drop_cancelled(self) -> None:
        self._waiters = [waiter for waiter in self._waiters if not waiter.future.done()]
        heapq.heapify(self._waiters)
        self._update_gauges()

    def _dispatch(self) -> None:
        now = self._clock.monotonic()
        self._refill(now)
        self._forget_old_starts(now)
        wake_at: float | None = None
        skipped: list[_Waiter] = []
        while self._waiters and self.active < self.limits.max_sessions:
            waiter = heapq.heappop(self._waiters)
            if waiter.future.done():
                continue
            ready_at = self._meter_ready_at(waiter.meter_id, now)
            if ready_at is None or ready_at > now:
                # This meter is busy or in its gap: let lower priorities for other meters pass.
                if ready_at is not None:
                    wake_at = ready_at if wake_at is None else min(wake_at, ready_at)
                skipped.append(waiter)
                continue
            if self._tokens < 1.0:
                token_at = now + (1.0 - self._tokens) / self.limits.connections_per_s
                wake_at = token_at if wake_at is None else min(wake_at, token_at)
                skipped.append(waiter)
                break
            self._tokens -= 1.0
            self._active_meters.add(waiter.meter_id)
            self._last_start[waiter.meter_id] = now
            self.granted += 1
            waiter.future.set_result(None)
        for waiter in skipped:
            heapq.heappush(self._waiters, waiter)
        self._arm(wake_at)
        self._update_gauges()

    def _meter_ready_at(self, meter_id: int, now: float) -> float | None:
        """When a new session to this meter may start; None while one is open."""
        if meter_id in self._active_meters:
            return None
        last = self._last_start.get(meter_id)
        return now if last is None else max(now, last + self.limits.min_gap_s)

    def _forget_old_starts(self, now: float) -> None:
        # Bounded memory: a start older than the gap no longer constrains anything.
        if len(self._last_start) > 4 * self.limits.max_sessions:
            horizon = now - self.limits.min_gap_s
            self._last_start = {m: t for m, t in self._last_start.items() if t > horizon}

    def _arm(self, wake_at: float | None) -> None:
        """One timer task, re-armed for the earliest moment something may become grantable."""
        if wake_at is None:
            return
        if self._timer is not None and not self._timer.done() and self._timer_due is not None:
            if self._timer_due <= wake_at:
                return
            self._timer.cancel()
        self._timer_due = wake_at
        self._timer = asyncio.get_running_loop().create_task(self._wake(wake_at), name="throttle-timer")

    async def _wake(self, wake_at: float) -> None:
        await self._clock.sleep(max(0.0, wake_at - self._clock.monotonic()))
        self._timer_due = None
        self._dispatch()

    def _update_gauges(self) -> None:
        if self._metrics is not None:
            self._metrics.throttle_active.set(self.active)
            self._metrics.throttle_waiting.set(len(self._waiters))

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
