"""Test doubles for the HES core: a fake clock and an in-memory meter implementing ``MeterSession``.

The real session layer (cosem + transport) does not exist yet; these fakes implement the Protocol
of ``openprepaid.hes.session`` so the queue, scheduler and collector can be tested now. They live
in tests only.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from openprepaid.hes.retry import HesError, NetworkError
from openprepaid.hes.session import (
    CLOCK,
    PROFILE_OBJECTS,
    Association,
    CaptureColumn,
    ClockReading,
    CosemValue,
    LimiterState,
    MeterTarget,
    NamePlate,
    ProfileCapture,
    ProfileKind,
    ProfileRead,
    RelayControlState,
    RelayState,
    ScalerUnit,
    event_code_obis,
)

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


async def settle(rounds: int = 50) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeClock:
    """Simulated time: ``sleep`` waits until ``advance`` moves the clock past its deadline."""

    def __init__(self, start: datetime = T0) -> None:
        self._start = start
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def set(self, when: datetime) -> None:
        self._elapsed = (when - self._start).total_seconds()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self._elapsed + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            due, _, future = heapq.heappop(self._sleepers)
            self._elapsed = max(self._elapsed, due)
            if not future.done():
                future.set_result(None)
            await settle()
        self._elapsed = target
        await settle()


BLOCK_COLUMNS = (
    CaptureColumn(8, CLOCK),
    CaptureColumn(3, "1.0.12.27.0.255"),
    CaptureColumn(3, "1.0.1.29.0.255"),
    CaptureColumn(3, "1.0.9.29.0.255"),
    CaptureColumn(3, "1.0.2.29.0.255"),
    CaptureColumn(3, "1.0.11.27.0.255"),
)
DAILY_COLUMNS = (
    CaptureColumn(8, CLOCK),
    CaptureColumn(3, "1.0.1.8.0.255"),
    CaptureColumn(3, "1.0.2.8.0.255"),
    CaptureColumn(3, "1.0.9.8.0.255"),
)
BILLING_COLUMNS = (
    CaptureColumn(3, "0.0.0.1.2.255"),
    CaptureColumn(3, "1.0.1.8.0.255"),
    CaptureColumn(3, "1.0.2.8.0.255"),
    CaptureColumn(3, "1.0.9.8.0.255"),
    CaptureColumn(4, "1.0.1.6.0.255", 2),
    CaptureColumn(4, "1.0.1.6.0.255", 5),
    CaptureColumn(3, "1.0.1.8.1.255"),
)
INSTANT_COLUMNS = (
    CaptureColumn(8, CLOCK),
    CaptureColumn(3, "1.0.12.7.0.255"),
    CaptureColumn(3, "1.0.11.7.0.255"),
    CaptureColumn(3, "1.0.13.7.0.255"),
    CaptureColumn(3, "1.0.14.7.0.255"),
    CaptureColumn(3, "1.0.1.7.0.255"),
    CaptureColumn(3, "1.0.1.8.0.255"),
)
# Energies in units of 10 Wh (scaler 1), voltages in 0.01 V (scaler -2), currents in mA (scaler -3).
SCALERS: Mapping[ProfileKind, Mapping[str, ScalerUnit]] = {
    ProfileKind.BLOCK_LOAD: {
        "1.0.12.27.0.255": ScalerUnit(-2, 35),
        "1.0.1.29.0.255": ScalerUnit(1, 30),
        "1.0.9.29.0.255": ScalerUnit(1, 31),
        "1.0.2.29.0.255": ScalerUnit(1, 30),
        "1.0.11.27.0.255": ScalerUnit(-3, 33),
    },
    ProfileKind.DAILY: {
        "1.0.1.8.0.255": ScalerUnit(1, 30),
        "1.0.2.8.0.255": ScalerUnit(1, 30),
        "1.0.9.8.0.255": ScalerUnit(1, 31),
    },
    ProfileKind.BILLING: {
        "1.0.1.8.0.255": ScalerUnit(1, 30),
        "1.0.2.8.0.255": ScalerUnit(1, 30),
        "1.0.9.8.0.255": ScalerUnit(1, 31),
        "1.0.1.6.0.255": ScalerUnit(0, 27),
        "1.0.1.8.1.255": ScalerUnit(1, 30),
    },
    ProfileKind.INSTANT: {
        "1.0.12.7.0.255": ScalerUnit(-2, 35),
        "1.0.11.7.0.255": ScalerUnit(-3, 33),
        "1.0.13.7.0.255": ScalerUnit(-3, 255),
        "1.0.14.7.0.255": ScalerUnit(-2, 44),
        "1.0.1.7.0.255": ScalerUnit(0, 27),
        "1.0.1.8.0.255": ScalerUnit(1, 30),
    },
}


@dataclass
class FakeMeter:
    """One meter's state; ``FakeSession`` reads and changes it."""

    clock: FakeClock
    serial: str = "SIM00000001"
    capture_period_s: int = 900
    output_state: bool = True
    control_state: RelayControlState = RelayControlState.CONNECTED
    obeys_relay: bool = True
    limiter_w: int = 5000
    limiter_enabled: bool = True
    prepaid: bool = True
    balance_paise: int = 0
    clock_offset_s: float = 0.0
    blocks: dict[datetime, tuple[int, int, int, int, int]] = field(default_factory=dict)
    daily: dict[datetime, int] = field(default_factory=dict)
    billing: dict[datetime, int] = field(default_factory=dict)
    events: dict[int, list[tuple[datetime, int]]] = field(default_factory=dict)
    fail_next: list[Exception] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    block_rows_returned: int = 0

    def fill_blocks(self, start_end_at: datetime, count: int) -> None:
        """``count`` intervals ending at start_end_at, +period, ... (raw: V*100, energy/10 Wh ...)."""
        for index in range(count):
            end = start_end_at + timedelta(seconds=self.capture_period_s * index)
            self.blocks[end] = (23012, 12 + index % 5, 13 + index % 5, 0, 1500)

    def _maybe_fail(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_next:
            raise self.fail_next.pop(0)


class FakeSession:
    def __init__(self, meter: FakeMeter) -> None:
        self.meter = meter
        self.bytes_sent = 0
        self.bytes_received = 0

    def _call(self, name: str) -> None:
        self.meter._maybe_fail(name)
        self.bytes_sent += 20
        self.bytes_received += 40

    async def read_name_plate(self) -> NamePlate:
        self._call("read_name_plate")
        return NamePlate(serial=self.meter.serial, manufacturer="Fake Meters", firmware="1.2.3")

    async def read_clock(self) -> ClockReading:
        self._call("read_clock")
        now = self.meter.clock.now()
        return ClockReading(now + timedelta(seconds=self.meter.clock_offset_s), now)

    async def sync_clock(self, now: datetime) -> None:
        self._call("sync_clock")
        self.meter.clock_offset_s = (now - self.meter.clock.now()).total_seconds()

    async def read_scalers(self, profile: ProfileKind) -> Mapping[str, ScalerUnit]:
        self._call(f"read_scalers:{profile.value}")
        return SCALERS[profile]

    async def read_block_load(self, from_at: datetime, to_at: datetime) -> ProfileCapture:
        self._call("read_block_load")
        rows = tuple((end, *values) for end, values in sorted(self.meter.blocks.items()) if from_at <= end <= to_at)
        self.meter.block_rows_returned += len(rows)
        return ProfileCapture(BLOCK_COLUMNS, rows)  # type: ignore[arg-type]

    async def read_daily(self, from_at: datetime, to_at: datetime) -> ProfileCapture:
        self._call("read_daily")
        rows = tuple((at, wh, 0, wh + 5) for at, wh in sorted(self.meter.daily.items()) if from_at <= at <= to_at)
        return ProfileCapture(DAILY_COLUMNS, rows)

    async def read_billing(self, from_at: datetime, to_at: datetime) -> ProfileCapture:
        self._call("read_billing")
        rows = tuple(
            (at, wh, 0, wh + 5, 4200, at - timedelta(days=3), wh // 2)
            for at, wh in sorted(self.meter.billing.items())
            if from_at <= at <= to_at
        )
        return ProfileCapture(BILLING_COLUMNS, rows)

    async def read_instant(self) -> ProfileCapture:
        self._call("read_instant")
        now = self.meter.clock.now()
        return ProfileCapture(INSTANT_COLUMNS, ((now, 23050, 4321, 990, 5001, 980, 123456),))

    async def read_events(self, log: int, since: datetime | None) -> ProfileCapture:
        self._call(f"read_events:{log}")
        columns = (CaptureColumn(8, CLOCK), CaptureColumn(1, event_code_obis(log)), CaptureColumn(3, "1.0.12.7.0.255"))
        rows = tuple(
            (at, code, 23000) for at, code in sorted(self.meter.events.get(log, [])) if since is None or at >= since
        )
        return ProfileCapture(columns, rows)

    async def read_profiles(self, reads: Sequence[ProfileRead]) -> list[ProfileCapture | HesError]:
        """One call per profile (each counted as its own read); a job-level error stays in the list."""
        captures: list[ProfileCapture | HesError] = []
        for read in reads:
            try:
                captures.append(await self._read_profile(read))
            except HesError as exc:
                if exc.retryable:
                    raise
                captures.append(exc)
        return captures

    async def _read_profile(self, read: ProfileRead) -> ProfileCapture:
        now = self.meter.clock.now()
        if read.obis.startswith("0.0.99.98."):
            return await self.read_events(int(read.obis.split(".")[4]), read.from_at)
        readers = {
            PROFILE_OBJECTS[ProfileKind.BLOCK_LOAD][0]: self.read_block_load,
            PROFILE_OBJECTS[ProfileKind.DAILY][0]: self.read_daily,
            PROFILE_OBJECTS[ProfileKind.BILLING][0]: self.read_billing,
        }
        return await readers[read.obis](read.from_at or now - timedelta(days=3650), read.to_at or now)

    async def read_relay_state(self) -> RelayState:
        self._call("read_relay_state")
        return RelayState(self.meter.output_state, self.meter.control_state, 2, self.meter.clock.now())

    async def disconnect(self) -> None:
        self._call("disconnect")
        if self.meter.obeys_relay:
            self.meter.output_state, self.meter.control_state = False, RelayControlState.DISCONNECTED

    async def reconnect(self) -> None:
        self._call("reconnect")
        if self.meter.obeys_relay:
            self.meter.output_state, self.meter.control_state = True, RelayControlState.CONNECTED

    async def read_limiter(self) -> LimiterState:
        self._call("read_limiter")
        return LimiterState(self.meter.limiter_w, self.meter.limiter_enabled, self.meter.clock.now())

    async def set_limiter(self, threshold_w: int) -> None:
        self._call("set_limiter")
        self.meter.limiter_w = threshold_w

    async def set_limiter_enabled(self, enabled: bool) -> None:
        self._call("set_limiter_enabled")
        self.meter.limiter_enabled = enabled

    async def read_payment_mode(self) -> bool:
        self._call("read_payment_mode")
        return self.meter.prepaid

    async def write_payment_mode(self, prepaid: bool) -> None:
        self._call("write_payment_mode")
        self.meter.prepaid = prepaid

    async def read_balance(self) -> int:
        self._call("read_balance")
        return self.meter.balance_paise

    async def write_balance(self, amount_paise: int) -> None:
        self._call("write_balance")
        self.meter.balance_paise = amount_paise

    async def get_attribute(self, class_id: int, obis: str, attribute: int) -> CosemValue:
        self._call("get_attribute")
        return None

    async def set_attribute(self, class_id: int, obis: str, attribute: int, value: CosemValue) -> None:
        self._call("set_attribute")

    async def invoke_method(self, class_id: int, obis: str, method: int, argument: CosemValue) -> CosemValue:
        self._call("invoke_method")
        return None


class FakeSessionFactory:
    """Meters by id; ``offline`` meters fail to connect; records every association opened."""

    def __init__(self, clock: FakeClock, *, session_s: float = 0.0) -> None:
        self.clock = clock
        self.meters: dict[int, FakeMeter] = {}
        self.offline: set[int] = set()
        self.opened: list[tuple[int, Association]] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self.session_s = session_s

    def add(self, meter_id: int, **kwargs: object) -> FakeMeter:
        meter = FakeMeter(self.clock, **kwargs)  # type: ignore[arg-type]
        self.meters[meter_id] = meter
        return meter

    @contextlib.asynccontextmanager
    async def open(self, target: MeterTarget, association: Association) -> AsyncIterator[FakeSession]:
        self.opened.append((target.meter_id, association))
        if target.meter_id in self.offline:
            raise NetworkError(f"meter {target.meter_id} unreachable")
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            if self.session_s:
                await self.clock.sleep(self.session_s)
            yield FakeSession(self.meters[target.meter_id])
        finally:
            self.concurrent -= 1
