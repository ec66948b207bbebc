"""The no-disconnection calendar's configuration ("friendly hours", domain.md §2).

Defaults are the rules domain.md §2 quotes from the published Indian rules (UPPCL SOP 2025/26,
UPERC 2025, KERC 2024, OERC 2024; per-rule sources in docs/prepaid-rules.md): no automatic
disconnection 18:00–08:00 local time, on Sundays, public holidays and the 2nd Saturday, nor within
30 days after a postpaid → prepaid conversion. Some utilities allow disconnection only inside a
window (e.g. 09:00–14:00): ``allowed_windows`` / ``DisconnectionCalendar.allowed_only``.

Semantics, all in the utility's local wall time:
* a ``DailyWindow`` is the half-open minute range [start, end); ``end <= start`` wraps midnight
  (18:00–08:00 covers 18:00–23:59 and 00:00–07:59); ``start == end`` is refused as empty;
* a minute is *allowed* when its date is not blocked (weekday, nth weekday of the month, public
  holiday), its time of day lies in some allowed window (or no allowed windows are configured)
  and in no blocked window; the grace period is an interval of UTC time after the conversion.

A configuration that can never allow a disconnection (every weekday blocked, or blocked windows
covering every allowed minute) is refused when built, with ``InvalidConfigError``.
"""

from __future__ import annotations

import calendar as stdlib_calendar
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import IntEnum
from types import MappingProxyType

from openprepaid.wallet.rules.errors import InvalidConfigError
from openprepaid.wallet.rules.validation import require_int

MINUTES_PER_DAY = 24 * 60
_WINDOW_TEXT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class Weekday(IntEnum):
    """``date.weekday()`` numbering: Monday is 0."""

    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


def _minute_of_day(field_name: str, value: object) -> int:
    if not isinstance(value, time):
        raise InvalidConfigError(f"{field_name}: expected a datetime.time, got {value!r}")
    if value.tzinfo is not None:
        raise InvalidConfigError(f"{field_name}: {value} carries a zone; windows are local wall time")
    if value.second or value.microsecond:
        raise InvalidConfigError(f"{field_name}: {value} is not a whole minute")
    return value.hour * 60 + value.minute


@dataclass(frozen=True)
class DailyWindow:
    """A daily local-time window [start, end); wraps midnight when ``end <= start``."""

    start: time
    end: time

    def __post_init__(self) -> None:
        start = _minute_of_day("window start", self.start)
        end = _minute_of_day("window end", self.end)
        if start == end:
            raise InvalidConfigError(f"window {self.label}: empty (start equals end)")

    @classmethod
    def parse(cls, text: str) -> DailyWindow:
        """``"18:00-08:00"`` -> ``DailyWindow(time(18), time(8))``; ``24:00`` is not accepted."""
        match = _WINDOW_TEXT.match(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidConfigError(f"window {text!r}: expected 'HH:MM-HH:MM'")
        hour_a, minute_a, hour_b, minute_b = (int(group) for group in match.groups())
        if hour_a > 23 or hour_b > 23 or minute_a > 59 or minute_b > 59:
            raise InvalidConfigError(f"window {text!r}: hour 0–23 and minute 0–59")
        return cls(time(hour_a, minute_a), time(hour_b, minute_b))

    @property
    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def minute_ranges(self) -> tuple[tuple[int, int], ...]:
        """The window as one or two half-open minute-of-day ranges inside [0, 1440)."""
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        if end > start:
            return ((start, end),)
        if end == 0:
            return ((start, MINUTES_PER_DAY),)
        return ((start, MINUTES_PER_DAY), (0, end))

    def contains_minute(self, minute_of_day: int) -> bool:
        return any(low <= minute_of_day < high for low, high in self.minute_ranges())


@dataclass(frozen=True)
class NthWeekday:
    """The n-th given weekday of each month (``n`` 1–5), or the last one (``n = -1``)."""

    weekday: Weekday
    n: int

    def __post_init__(self) -> None:
        weekday = require_int("nth weekday: weekday", self.weekday, low=0, high=6)
        object.__setattr__(self, "weekday", Weekday(weekday))
        if require_int("nth weekday: n", self.n, low=-1, high=5) == 0:
            raise InvalidConfigError("nth weekday: n must be 1–5 or -1 (last), not 0")

    @property
    def label(self) -> str:
        ordinal = "last" if self.n == -1 else {1: "1st", 2: "2nd", 3: "3rd"}.get(self.n, f"{self.n}th")
        return f"{ordinal} {self.weekday.name.capitalize()}"

    def matches(self, day: date) -> bool:
        if day.weekday() != self.weekday:
            return False
        if self.n == -1:
            return day.day + 7 > stdlib_calendar.monthrange(day.year, day.month)[1]
        return (day.day - 1) // 7 + 1 == self.n


@dataclass(frozen=True)
class PublicHoliday:
    """A local date with no automatic disconnection; ``name`` goes into the decision record."""

    on: date
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.on, date) or isinstance(self.on, datetime):
            raise InvalidConfigError(f"public holiday: expected a date, got {self.on!r}")
        if not isinstance(self.name, str):
            raise InvalidConfigError(f"public holiday {self.on}: name must be text")


def _check_no_overlap(kind: str, windows: tuple[DailyWindow, ...]) -> None:
    ranges = sorted((low, high, window) for window in windows for low, high in window.minute_ranges())
    for (_, high_a, window_a), (low_b, _, window_b) in itertools.pairwise(ranges):
        if low_b < high_a:
            raise InvalidConfigError(f"{kind} windows {window_a.label} and {window_b.label} overlap")


def _subtract(ranges: list[tuple[int, int]], cut: tuple[int, int]) -> list[tuple[int, int]]:
    kept: list[tuple[int, int]] = []
    for low, high in ranges:
        if cut[1] <= low or cut[0] >= high:
            kept.append((low, high))
            continue
        if low < cut[0]:
            kept.append((low, cut[0]))
        if cut[1] < high:
            kept.append((cut[1], high))
    return kept


def _windows(field_name: str, value: object) -> tuple[DailyWindow, ...]:
    if not isinstance(value, Iterable) or isinstance(value, str | DailyWindow):
        raise InvalidConfigError(f"{field_name}: expected a sequence of DailyWindow, got {value!r}")
    windows = tuple(value)
    for window in windows:
        if not isinstance(window, DailyWindow):
            raise InvalidConfigError(f"{field_name}: expected DailyWindow items, got {window!r}")
    return windows


@dataclass(frozen=True)
class DisconnectionCalendar:
    """When automatic disconnection may happen (local wall time of the utility's zone)."""

    blocked_windows: tuple[DailyWindow, ...] = (DailyWindow(time(18, 0), time(8, 0)),)
    allowed_windows: tuple[DailyWindow, ...] = ()
    blocked_weekdays: frozenset[Weekday] = frozenset({Weekday.SUNDAY})
    blocked_nth_weekdays: tuple[NthWeekday, ...] = (NthWeekday(Weekday.SATURDAY, 2),)
    public_holidays: tuple[PublicHoliday, ...] = ()
    grace_after_conversion_days: int = 30
    allowed_minute_ranges: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    holiday_names: Mapping[date, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        blocked = _windows("blocked_windows", self.blocked_windows)
        allowed = _windows("allowed_windows", self.allowed_windows)
        _check_no_overlap("blocked", blocked)
        _check_no_overlap("allowed", allowed)
        if not isinstance(self.blocked_weekdays, Iterable):
            raise InvalidConfigError(f"blocked_weekdays: expected a set of weekdays, got {self.blocked_weekdays!r}")
        weekdays = frozenset(
            Weekday(require_int("blocked_weekdays", day, low=0, high=6)) for day in self.blocked_weekdays
        )
        if len(weekdays) == len(Weekday):
            raise InvalidConfigError("blocked_weekdays: every weekday is blocked; disconnection would never happen")
        nth = tuple(self.blocked_nth_weekdays)
        for rule in nth:
            if not isinstance(rule, NthWeekday):
                raise InvalidConfigError(f"blocked_nth_weekdays: expected NthWeekday items, got {rule!r}")
        holidays = tuple(self.public_holidays)
        for holiday in holidays:
            if not isinstance(holiday, PublicHoliday):
                raise InvalidConfigError(f"public_holidays: expected PublicHoliday items, got {holiday!r}")
        require_int("grace_after_conversion_days", self.grace_after_conversion_days, low=0, high=365)

        day: list[tuple[int, int]] = (
            sorted(r for window in allowed for r in window.minute_ranges()) if allowed else [(0, MINUTES_PER_DAY)]
        )
        for window in blocked:
            for cut in window.minute_ranges():
                day = _subtract(day, cut)
        if not day:
            raise InvalidConfigError(
                "blocked windows cover every allowed minute of the day; disconnection would never happen"
            )
        object.__setattr__(self, "blocked_windows", blocked)
        object.__setattr__(self, "allowed_windows", allowed)
        object.__setattr__(self, "blocked_weekdays", weekdays)
        object.__setattr__(self, "blocked_nth_weekdays", nth)
        object.__setattr__(self, "public_holidays", holidays)
        object.__setattr__(self, "allowed_minute_ranges", tuple(sorted(day)))
        object.__setattr__(self, "holiday_names", MappingProxyType({holiday.on: holiday.name for holiday in holidays}))

    @classmethod
    def allowed_only(
        cls,
        *windows: DailyWindow,
        blocked_windows: tuple[DailyWindow, ...] = (),
        blocked_weekdays: frozenset[Weekday] = frozenset({Weekday.SUNDAY}),
        blocked_nth_weekdays: tuple[NthWeekday, ...] = (NthWeekday(Weekday.SATURDAY, 2),),
        public_holidays: tuple[PublicHoliday, ...] = (),
        grace_after_conversion_days: int = 30,
    ) -> DisconnectionCalendar:
        """A calendar that allows disconnection only inside ``windows`` (e.g. 09:00–14:00).

        The default 18:00–08:00 blocked window is dropped (it lies outside such windows anyway);
        blocked days and the grace period keep the defaults unless given.
        """
        if not windows:
            raise InvalidConfigError("allowed_only: name at least one allowed window")
        return cls(
            blocked_windows=blocked_windows,
            allowed_windows=windows,
            blocked_weekdays=blocked_weekdays,
            blocked_nth_weekdays=blocked_nth_weekdays,
            public_holidays=public_holidays,
            grace_after_conversion_days=grace_after_conversion_days,
        )
