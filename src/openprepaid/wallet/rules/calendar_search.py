"""Evaluating the no-disconnection calendar: is this instant allowed, and the next allowed one.

domain.md §2: "A disconnection due in a blocked window waits for the next allowed minute."

* ``check_calendar`` says whether an instant is allowed and, if not, every rule that blocks it
  (that list goes into the decision record stored with each relay command, domain.md §3);
* ``next_allowed_disconnection`` returns the earliest instant ``>= at_utc`` that is allowed: the
  input itself when it is allowed, else the first allowed local minute. The search works in the
  local wall time of each stretch of constant UTC offset and re-starts at every offset change, so
  DST-free zones (Asia/Kolkata) and zones with DST gaps and folds are both exact. It is bounded by
  ``horizon_days`` (default 366) and raises ``NoAllowedMinuteError`` when nothing is allowed.

Times are arguments (no clock read); inputs must be aware, results are aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openprepaid.wallet.rules.calendar_config import DisconnectionCalendar, Weekday
from openprepaid.wallet.rules.errors import InvalidFactsError, NoAllowedMinuteError, UnknownTimeZoneError
from openprepaid.wallet.rules.json_record import JsonObject, iso
from openprepaid.wallet.rules.validation import require_aware

DEFAULT_HORIZON_DAYS = 366
_PROBE_STEP = timedelta(hours=6)  # no zone changes its UTC offset twice within 6 hours
_ONE_SECOND = timedelta(seconds=1)


class CalendarBlockKind(StrEnum):
    GRACE_PERIOD = "grace_period"
    PUBLIC_HOLIDAY = "public_holiday"
    WEEKDAY = "weekday"
    NTH_WEEKDAY = "nth_weekday"
    BLOCKED_WINDOW = "blocked_window"
    OUTSIDE_ALLOWED_WINDOWS = "outside_allowed_windows"


@dataclass(frozen=True)
class CalendarBlock:
    """One calendar rule that forbids disconnection at an instant, e.g. (blocked_window, 18:00-08:00)."""

    kind: CalendarBlockKind
    detail: str

    def to_dict(self) -> JsonObject:
        return {"kind": self.kind.value, "detail": self.detail}


@dataclass(frozen=True)
class CalendarCheck:
    """The calendar's verdict at one instant: allowed, or the rules that block it."""

    at: datetime
    local_time: datetime
    zone: str
    blocks: tuple[CalendarBlock, ...]

    @property
    def allowed(self) -> bool:
        return not self.blocks

    def to_dict(self) -> JsonObject:
        return {
            "at_utc": iso(self.at),
            "local_time": iso(self.local_time),
            "zone": self.zone,
            "allowed": self.allowed,
            "blocked_by": [block.to_dict() for block in self.blocks],
        }


def resolve_zone(zone: str | ZoneInfo) -> ZoneInfo:
    """An IANA zone by name (or a ZoneInfo as is); unknown names raise ``UnknownTimeZoneError``."""
    if isinstance(zone, ZoneInfo):
        return zone
    if not isinstance(zone, str) or not zone:
        raise UnknownTimeZoneError(f"zone: expected an IANA zone name, got {zone!r}")
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZoneError(f"zone {zone!r} is not in the IANA time-zone database") from None


def _grace_interval(
    calendar: DisconnectionCalendar, converted_to_prepaid_at: datetime | None
) -> tuple[datetime, datetime] | None:
    if converted_to_prepaid_at is None or calendar.grace_after_conversion_days == 0:
        return None
    start = require_aware("converted_to_prepaid_at", converted_to_prepaid_at).astimezone(UTC)
    return start, start + timedelta(days=calendar.grace_after_conversion_days)


def _day_blocks(calendar: DisconnectionCalendar, day: date) -> list[CalendarBlock]:
    blocks: list[CalendarBlock] = []
    if day in calendar.holiday_names:
        name = calendar.holiday_names[day]
        blocks.append(CalendarBlock(CalendarBlockKind.PUBLIC_HOLIDAY, f"{name} ({day})" if name else str(day)))
    if day.weekday() in calendar.blocked_weekdays:
        blocks.append(CalendarBlock(CalendarBlockKind.WEEKDAY, Weekday(day.weekday()).name.capitalize()))
    blocks.extend(
        CalendarBlock(CalendarBlockKind.NTH_WEEKDAY, rule.label)
        for rule in calendar.blocked_nth_weekdays
        if rule.matches(day)
    )
    return blocks


def _day_is_blocked(calendar: DisconnectionCalendar, day: date) -> bool:
    return (
        day.weekday() in calendar.blocked_weekdays
        or day in calendar.holiday_names
        or any(rule.matches(day) for rule in calendar.blocked_nth_weekdays)
    )


def _time_blocks(calendar: DisconnectionCalendar, minute_of_day: int) -> list[CalendarBlock]:
    blocks = [
        CalendarBlock(CalendarBlockKind.BLOCKED_WINDOW, window.label)
        for window in calendar.blocked_windows
        if window.contains_minute(minute_of_day)
    ]
    if calendar.allowed_windows and not any(w.contains_minute(minute_of_day) for w in calendar.allowed_windows):
        allowed = ", ".join(window.label for window in calendar.allowed_windows)
        blocks.append(CalendarBlock(CalendarBlockKind.OUTSIDE_ALLOWED_WINDOWS, f"allowed only {allowed}"))
    return blocks


def check_calendar(
    at_utc: datetime,
    calendar: DisconnectionCalendar,
    zone: str | ZoneInfo,
    *,
    converted_to_prepaid_at: datetime | None = None,
) -> CalendarCheck:
    """Whether automatic disconnection is allowed at ``at_utc``, with every rule that blocks it."""
    at = require_aware("at_utc", at_utc).astimezone(UTC)
    tz = resolve_zone(zone)
    local = at.astimezone(tz)
    blocks: list[CalendarBlock] = []
    grace = _grace_interval(calendar, converted_to_prepaid_at)
    if grace is not None and grace[0] <= at < grace[1]:
        blocks.append(CalendarBlock(CalendarBlockKind.GRACE_PERIOD, f"until {iso(grace[1])}"))
    blocks.extend(_day_blocks(calendar, local.date()))
    blocks.extend(_time_blocks(calendar, local.hour * 60 + local.minute))
    return CalendarCheck(at=at, local_time=local, zone=tz.key, blocks=tuple(blocks))


def _next_allowed_wall(wall: datetime, calendar: DisconnectionCalendar, max_days: int) -> datetime | None:
    """First naive local wall time >= ``wall`` that the day and time rules allow (no zone involved)."""
    minute_now = wall.hour * 60 + wall.minute
    day = wall.date()
    for offset_days in range(max_days + 1):
        if offset_days:
            day += timedelta(days=1)
        if _day_is_blocked(calendar, day):
            continue
        for low, high in calendar.allowed_minute_ranges:
            if offset_days == 0 and high <= minute_now:
                continue
            if offset_days == 0 and low <= minute_now:
                return wall
            return datetime.combine(day, datetime.min.time()) + timedelta(minutes=low)
    return None


def _first_offset_change(start: datetime, end: datetime, tz: ZoneInfo, offset: timedelta) -> datetime | None:
    """The first UTC instant in (start, end] whose UTC offset in ``tz`` differs from ``offset``."""
    low = start
    while low < end:
        high = min(low + _PROBE_STEP, end)
        if high.astimezone(tz).utcoffset() != offset:
            # zone transitions fall on whole UTC seconds: bisect on that grid
            base = low.replace(microsecond=0)
            lo_s, hi_s = 0, int((high - base) / _ONE_SECOND) + 1
            while hi_s - lo_s > 1:
                mid = (lo_s + hi_s) // 2
                if (base + mid * _ONE_SECOND).astimezone(tz).utcoffset() != offset:
                    hi_s = mid
                else:
                    lo_s = mid
            return base + hi_s * _ONE_SECOND  # > start: base + 1 s > low >= start
        low = high
    return None


def next_allowed_disconnection(
    at_utc: datetime,
    calendar: DisconnectionCalendar,
    zone: str | ZoneInfo,
    *,
    converted_to_prepaid_at: datetime | None = None,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> datetime:
    """The earliest instant >= ``at_utc`` at which the calendar allows automatic disconnection (UTC).

    ``at_utc`` itself when allowed; otherwise the start of the first allowed local minute.
    Raises ``NoAllowedMinuteError`` when nothing is allowed within ``horizon_days``.
    """
    at = require_aware("at_utc", at_utc).astimezone(UTC)
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or not 1 <= horizon_days <= 3660:
        raise InvalidFactsError(f"horizon_days: expected 1–3660, got {horizon_days!r}")
    tz = resolve_zone(zone)
    grace = _grace_interval(calendar, converted_to_prepaid_at)
    limit = at + timedelta(days=horizon_days)
    cursor = at
    while cursor <= limit:
        if grace is not None and grace[0] <= cursor < grace[1]:
            cursor = grace[1]
            continue
        offset = cursor.astimezone(tz).utcoffset()
        assert offset is not None  # ZoneInfo always answers for an aware instant
        wall = (cursor + offset).replace(tzinfo=None)
        found = _next_allowed_wall(wall, calendar, (limit - cursor).days + 2)
        if found is None:
            break
        candidate = cursor + (found - wall)
        change = _first_offset_change(cursor, candidate, tz, offset)
        if change is not None:
            cursor = change
            continue
        if grace is not None and grace[0] <= candidate < grace[1]:
            cursor = grace[1]
            continue
        if candidate > limit:
            break
        return candidate
    raise NoAllowedMinuteError(f"no minute after {iso(at)} within {horizon_days} days allows disconnection in {tz.key}")
