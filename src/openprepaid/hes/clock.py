"""The clock the head-end runs on, injected so that simulated time can run the whole system fast.

Nothing in ``openprepaid.hes`` reads the system time directly: wall time (``now``, aware UTC) drives
schedules and audit stamps, monotonic time drives rate limits and gaps, and ``sleep`` is the only
way a HES task waits. The composition root passes ``SystemClock`` (or the demo's accelerated clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current wall time, an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for rates and gaps)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


async def sleep_until_set(clock: Clock, seconds: float, *events: asyncio.Event) -> None:
    """Wait ``seconds`` of clock time, or less if one of ``events`` is set meanwhile."""
    if any(event.is_set() for event in events):
        return
    tasks = [asyncio.ensure_future(clock.sleep(seconds)), *(asyncio.ensure_future(e.wait()) for e in events)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
