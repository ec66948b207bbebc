"""Data availability per meter per day, and the non-communicating meter report (domain.md C13, §6).

A day is the utility's local day (default Asia/Kolkata); on a day with a daylight-saving change
the expected number of intervals follows the day's real length. Availability counts stored
block-load intervals ending within the day against those expected, and whether the daily snapshot
that closes the day (next local midnight) has arrived. A meter is non-communicating when it has
been silent longer than a threshold (default 24 h), never-communicated when it has never been seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from openprepaid.store.repository import hes as repo

SNAPSHOT_TOLERANCE = timedelta(minutes=30)
DEFAULT_SILENT_AFTER = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class DayAvailability:
    meter_id: int
    serial: str
    day: date
    expected_intervals: int
    stored_intervals: int
    daily_snapshot: bool

    @property
    def ratio(self) -> float:
        if self.expected_intervals == 0:
            return 1.0
        return min(1.0, self.stored_intervals / self.expected_intervals)

    @property
    def complete(self) -> bool:
        return self.stored_intervals >= self.expected_intervals and self.daily_snapshot


@dataclass(frozen=True, slots=True)
class AvailabilitySummary:
    day: date
    meters: int
    expected_intervals: int
    stored_intervals: int
    complete_meters: int
    daily_snapshots: int

    @property
    def ratio(self) -> float:
        return 1.0 if self.expected_intervals == 0 else self.stored_intervals / self.expected_intervals


@dataclass(frozen=True, slots=True)
class SilentMeter:
    meter_id: int
    serial: str
    last_seen_at: datetime | None
    silent_for: timedelta | None


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local day, as UTC datetimes."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def expected_intervals(day: date, zone: ZoneInfo, capture_period_s: int) -> int:
    start, end = day_bounds(day, zone)
    return int((end - start).total_seconds()) // capture_period_s


def daily_availability(
    session: Session, day: date, zone: ZoneInfo, *, utility_id: int | None = None
) -> list[DayAvailability]:
    meters = repo.installed_meters(session, utility_id)
    ids = [meter.meter_id for meter in meters]
    start, end = day_bounds(day, zone)
    counts = repo.block_counts(session, start, end, ids)
    snapshots = repo.meters_with_daily_between(session, end - SNAPSHOT_TOLERANCE, end + SNAPSHOT_TOLERANCE, ids)
    return [
        DayAvailability(
            meter_id=meter.meter_id,
            serial=meter.serial,
            day=day,
            expected_intervals=expected_intervals(day, zone, meter.capture_period_s),
            stored_intervals=counts.get(meter.meter_id, 0),
            daily_snapshot=meter.meter_id in snapshots,
        )
        for meter in meters
    ]


def summarize(day: date, rows: list[DayAvailability]) -> AvailabilitySummary:
    return AvailabilitySummary(
        day=day,
        meters=len(rows),
        expected_intervals=sum(row.expected_intervals for row in rows),
        stored_intervals=sum(min(row.stored_intervals, row.expected_intervals) for row in rows),
        complete_meters=sum(row.complete for row in rows),
        daily_snapshots=sum(row.daily_snapshot for row in rows),
    )


def non_communicating(
    session: Session, now: datetime, *, silent_after: timedelta = DEFAULT_SILENT_AFTER, utility_id: int | None = None
) -> list[SilentMeter]:
    """Installed meters seen before, but not within ``silent_after``; the longest silent first."""
    if silent_after <= timedelta(0):
        raise ValueError("silent_after must be positive")
    silent = [
        SilentMeter(meter.meter_id, meter.serial, meter.last_seen_at, now - meter.last_seen_at)
        for meter in repo.installed_meters(session, utility_id)
        if meter.last_seen_at is not None and now - meter.last_seen_at > silent_after
    ]
    return sorted(silent, key=lambda meter: (meter.last_seen_at or now, meter.serial))


def never_communicated(session: Session, *, utility_id: int | None = None) -> list[SilentMeter]:
    return [
        SilentMeter(meter.meter_id, meter.serial, None, None)
        for meter in repo.installed_meters(session, utility_id)
        if meter.last_seen_at is None
    ]
