"""No-disconnection calendar (domain.md §2): each published rule, zones with DST, bad configuration.

Dates: 1 March 2026 is a Sunday, so Saturday 7 March is the 1st Saturday and 14 March the 2nd.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from openprepaid.wallet.rules import (
    CalendarBlockKind,
    DailyWindow,
    DisconnectionCalendar,
    InvalidConfigError,
    InvalidFactsError,
    NoAllowedMinuteError,
    NthWeekday,
    PublicHoliday,
    UnknownTimeZoneError,
    Weekday,
    check_calendar,
    next_allowed_disconnection,
    resolve_zone,
)

IST = ZoneInfo("Asia/Kolkata")
DEFAULT = DisconnectionCalendar()


def ist(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=IST).astimezone(UTC)


def next_ist(at: datetime, calendar: DisconnectionCalendar = DEFAULT, **kwargs: object) -> datetime:
    result = next_allowed_disconnection(at, calendar, "Asia/Kolkata", **kwargs)  # type: ignore[arg-type]
    assert result.tzinfo is UTC
    return result


def kinds(at: datetime, calendar: DisconnectionCalendar = DEFAULT, **kwargs: object) -> set[CalendarBlockKind]:
    check = check_calendar(at, calendar, "Asia/Kolkata", **kwargs)  # type: ignore[arg-type]
    return {block.kind for block in check.blocks}


class TestPublishedDefaults:
    def test_balance_exhausted_at_23h_waits_for_08h_next_day(self) -> None:
        assert next_ist(ist(2026, 3, 2, 23, 0)) == ist(2026, 3, 3, 8, 0)
        assert kinds(ist(2026, 3, 2, 23, 0)) == {CalendarBlockKind.BLOCKED_WINDOW}

    def test_window_edges_are_half_open(self) -> None:
        assert next_ist(ist(2026, 3, 3, 7, 59, 59)) == ist(2026, 3, 3, 8, 0)
        assert next_ist(ist(2026, 3, 3, 8, 0)) == ist(2026, 3, 3, 8, 0)
        assert next_ist(ist(2026, 3, 3, 17, 59, 59)) == ist(2026, 3, 3, 17, 59, 59)
        assert next_ist(ist(2026, 3, 3, 18, 0)) == ist(2026, 3, 4, 8, 0)

    def test_allowed_instant_is_returned_unchanged(self) -> None:
        at = ist(2026, 3, 3, 11, 22, 33) + timedelta(microseconds=444)
        assert next_ist(at) == at
        assert check_calendar(at, DEFAULT, "Asia/Kolkata").allowed

    def test_saturday_evening_waits_for_monday_morning(self) -> None:
        assert next_ist(ist(2026, 3, 7, 20, 0)) == ist(2026, 3, 9, 8, 0)
        assert kinds(ist(2026, 3, 8, 12, 0)) == {CalendarBlockKind.WEEKDAY}

    def test_second_saturday_is_blocked_all_day(self) -> None:
        assert kinds(ist(2026, 3, 14, 10, 0)) == {CalendarBlockKind.NTH_WEEKDAY}
        assert next_ist(ist(2026, 3, 13, 19, 0)) == ist(2026, 3, 16, 8, 0)
        # the 1st and 3rd Saturdays are ordinary days
        assert next_ist(ist(2026, 3, 7, 10, 0)) == ist(2026, 3, 7, 10, 0)
        assert next_ist(ist(2026, 3, 21, 10, 0)) == ist(2026, 3, 21, 10, 0)

    def test_public_holiday_is_blocked_and_named(self) -> None:
        calendar = DisconnectionCalendar(public_holidays=(PublicHoliday(date(2026, 3, 4), "Holi"),))
        check = check_calendar(ist(2026, 3, 4, 11, 0), calendar, "Asia/Kolkata")
        assert [b.to_dict() for b in check.blocks] == [{"kind": "public_holiday", "detail": "Holi (2026-03-04)"}]
        assert next_ist(ist(2026, 3, 3, 23, 0), calendar) == ist(2026, 3, 5, 8, 0)

    def test_grace_period_after_conversion(self) -> None:
        converted = ist(2026, 3, 2, 10, 0)
        assert kinds(ist(2026, 3, 20, 11, 0), converted_to_prepaid_at=converted) == {CalendarBlockKind.GRACE_PERIOD}
        # 30 days later is Wednesday 1 April 10:00, inside the daytime window: allowed at once
        assert next_ist(ist(2026, 3, 3, 9, 0), converted_to_prepaid_at=converted) == ist(2026, 4, 1, 10, 0)
        assert next_ist(ist(2026, 4, 1, 10, 0), converted_to_prepaid_at=converted) == ist(2026, 4, 1, 10, 0)

    def test_grace_ending_in_the_evening_waits_for_the_morning(self) -> None:
        converted = ist(2026, 3, 2, 20, 0)  # grace ends Wed 1 April 20:00
        assert next_ist(ist(2026, 3, 10, 9, 0), converted_to_prepaid_at=converted) == ist(2026, 4, 2, 8, 0)

    def test_conversion_in_the_future_blocks_from_its_start(self) -> None:
        # the window would open at 08:00 on 3 March, but the conversion at 07:00 starts the grace first
        converted = ist(2026, 3, 3, 7, 0)
        assert next_ist(ist(2026, 3, 2, 23, 0), converted_to_prepaid_at=converted) == ist(2026, 4, 2, 8, 0)
        later = ist(2026, 3, 3, 9, 0)
        assert next_ist(ist(2026, 3, 2, 23, 0), converted_to_prepaid_at=later) == ist(2026, 3, 3, 8, 0)

    def test_grace_zero_days_is_no_grace(self) -> None:
        calendar = DisconnectionCalendar(grace_after_conversion_days=0)
        at = ist(2026, 3, 3, 9, 0)
        assert next_ist(at, calendar, converted_to_prepaid_at=at) == at


class TestAllowedOnlyMode:
    CALENDAR = DisconnectionCalendar.allowed_only(DailyWindow.parse("09:00-14:00"))

    def test_only_inside_the_window(self) -> None:
        assert next_ist(ist(2026, 3, 2, 8, 30), self.CALENDAR) == ist(2026, 3, 2, 9, 0)
        assert next_ist(ist(2026, 3, 2, 13, 59, 30), self.CALENDAR) == ist(2026, 3, 2, 13, 59, 30)
        assert next_ist(ist(2026, 3, 2, 14, 0), self.CALENDAR) == ist(2026, 3, 3, 9, 0)
        assert kinds(ist(2026, 3, 2, 15, 0), self.CALENDAR) == {CalendarBlockKind.OUTSIDE_ALLOWED_WINDOWS}

    def test_blocked_days_still_apply(self) -> None:
        assert next_ist(ist(2026, 3, 13, 14, 0), self.CALENDAR) == ist(2026, 3, 16, 9, 0)

    def test_blocked_window_inside_an_allowed_window(self) -> None:
        calendar = DisconnectionCalendar.allowed_only(
            DailyWindow.parse("09:00-14:00"), blocked_windows=(DailyWindow.parse("11:00-12:00"),)
        )
        assert next_ist(ist(2026, 3, 2, 11, 15), calendar) == ist(2026, 3, 2, 12, 0)
        assert calendar.allowed_minute_ranges == ((540, 660), (720, 840))

    def test_both_modes_together(self) -> None:
        calendar = DisconnectionCalendar(allowed_windows=(DailyWindow.parse("07:00-19:00"),))
        # allowed 07:00-19:00 minus blocked 18:00-08:00 leaves 08:00-18:00
        assert calendar.allowed_minute_ranges == ((480, 1080),)


class TestNthWeekday:
    def test_last_saturday(self) -> None:
        rule = NthWeekday(Weekday.SATURDAY, -1)
        assert rule.matches(date(2026, 2, 28)) and not rule.matches(date(2026, 2, 21))
        assert rule.label == "last Saturday"

    def test_fifth_occurrence(self) -> None:
        rule = NthWeekday(Weekday.SUNDAY, 5)
        assert rule.matches(date(2026, 3, 29)) and not rule.matches(date(2026, 3, 22))


class TestZones:
    def test_dst_gap_new_york(self) -> None:
        # 8 March 2026 02:00 EST -> 03:00 EDT; blocked 00:00-02:30 would end at a wall time that does not exist
        calendar = DisconnectionCalendar(
            blocked_windows=(DailyWindow.parse("00:00-02:30"),), blocked_weekdays=frozenset(), blocked_nth_weekdays=()
        )
        ny = ZoneInfo("America/New_York")
        at = datetime(2026, 3, 8, 1, 30, tzinfo=ny).astimezone(UTC)
        assert next_allowed_disconnection(at, calendar, "America/New_York") == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)

    def test_dst_fold_new_york(self) -> None:
        # 1 November 2026 02:00 EDT -> 01:00 EST: the repeated 01:xx hour is blocked both times
        calendar = DisconnectionCalendar(
            blocked_windows=(DailyWindow.parse("01:00-02:00"),), blocked_weekdays=frozenset(), blocked_nth_weekdays=()
        )
        at = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, first pass
        assert next_allowed_disconnection(at, calendar, "America/New_York") == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)

    def test_samoa_skipped_day(self) -> None:
        # Pacific/Apia jumped from 29 to 31 December 2011; 30 December never happened there
        apia = ZoneInfo("Pacific/Apia")
        at = datetime(2011, 12, 29, 20, 0, tzinfo=apia).astimezone(UTC)
        expected = datetime(2011, 12, 31, 8, 0, tzinfo=apia).astimezone(UTC)
        assert next_allowed_disconnection(at, DEFAULT, "Pacific/Apia") == expected

    def test_quarter_hour_offset_zone(self) -> None:
        kathmandu = ZoneInfo("Asia/Kathmandu")
        at = datetime(2026, 3, 2, 23, 0, tzinfo=kathmandu)
        expected = datetime(2026, 3, 3, 8, 0, tzinfo=kathmandu).astimezone(UTC)
        assert next_allowed_disconnection(at, DEFAULT, kathmandu) == expected

    def test_input_in_any_zone_is_normalised(self) -> None:
        at = datetime(2026, 3, 2, 23, 0, tzinfo=IST)
        assert next_allowed_disconnection(at, DEFAULT, IST) == ist(2026, 3, 3, 8, 0)


class TestFailures:
    def test_unknown_zone(self) -> None:
        with pytest.raises(UnknownTimeZoneError, match="Mars/Olympus"):
            next_allowed_disconnection(ist(2026, 3, 2, 9, 0), DEFAULT, "Mars/Olympus")
        with pytest.raises(UnknownTimeZoneError):
            resolve_zone("../../etc/passwd")
        with pytest.raises(UnknownTimeZoneError):
            resolve_zone("")

    def test_naive_datetime(self) -> None:
        with pytest.raises(InvalidFactsError, match="naive"):
            next_allowed_disconnection(datetime(2026, 3, 2, 9, 0), DEFAULT, "Asia/Kolkata")
        with pytest.raises(InvalidFactsError, match="naive"):
            check_calendar(ist(2026, 3, 2, 9), DEFAULT, IST, converted_to_prepaid_at=datetime(2026, 3, 1))

    def test_nothing_allowed_within_horizon(self) -> None:
        calendar = DisconnectionCalendar(grace_after_conversion_days=365)
        at = ist(2026, 3, 2, 9, 0)
        with pytest.raises(NoAllowedMinuteError, match="within 30 days"):
            next_allowed_disconnection(at, calendar, IST, converted_to_prepaid_at=at, horizon_days=30)
        holidays = tuple(PublicHoliday(date(2026, 3, 2) + timedelta(days=n)) for n in range(40))
        with pytest.raises(NoAllowedMinuteError):
            next_allowed_disconnection(at, DisconnectionCalendar(public_holidays=holidays), IST, horizon_days=30)

    @pytest.mark.parametrize("horizon", [0, -1, 10_000, True, 1.5])
    def test_bad_horizon(self, horizon: object) -> None:
        with pytest.raises(InvalidFactsError, match="horizon_days"):
            next_allowed_disconnection(ist(2026, 3, 2, 9), DEFAULT, IST, horizon_days=horizon)  # type: ignore[arg-type]

    def test_empty_window(self) -> None:
        with pytest.raises(InvalidConfigError, match="empty"):
            DailyWindow(time(9, 0), time(9, 0))

    @pytest.mark.parametrize("text", ["25:00-08:00", "18:00-08:60", "18-08", "", "18:00 to 08:00"])
    def test_unparseable_window(self, text: str) -> None:
        with pytest.raises(InvalidConfigError, match="window"):
            DailyWindow.parse(text)

    def test_window_with_seconds_or_zone(self) -> None:
        with pytest.raises(InvalidConfigError, match="whole minute"):
            DailyWindow(time(18, 0, 30), time(8, 0))
        with pytest.raises(InvalidConfigError, match="zone"):
            DailyWindow(time(18, 0, tzinfo=UTC), time(8, 0))
        with pytest.raises(InvalidConfigError, match=r"datetime\.time"):
            DailyWindow("18:00", time(8, 0))  # type: ignore[arg-type]

    def test_overlapping_blocked_windows(self) -> None:
        with pytest.raises(InvalidConfigError, match="overlap"):
            DisconnectionCalendar(blocked_windows=(DailyWindow.parse("18:00-08:00"), DailyWindow.parse("07:00-09:00")))

    def test_touching_windows_do_not_overlap(self) -> None:
        calendar = DisconnectionCalendar(
            blocked_windows=(DailyWindow.parse("18:00-08:00"), DailyWindow.parse("08:00-09:00"))
        )
        assert calendar.allowed_minute_ranges == ((540, 1080),)

    def test_overlapping_allowed_windows(self) -> None:
        with pytest.raises(InvalidConfigError, match="allowed windows"):
            DisconnectionCalendar.allowed_only(DailyWindow.parse("09:00-14:00"), DailyWindow.parse("13:00-15:00"))

    def test_calendar_that_never_allows(self) -> None:
        with pytest.raises(InvalidConfigError, match="every weekday"):
            DisconnectionCalendar(blocked_weekdays=frozenset(Weekday))
        with pytest.raises(InvalidConfigError, match="cover every allowed minute"):
            DisconnectionCalendar(allowed_windows=(DailyWindow.parse("19:00-21:00"),))
        with pytest.raises(InvalidConfigError, match="at least one"):
            DisconnectionCalendar.allowed_only()

    @pytest.mark.parametrize(("weekday", "n"), [(5, 0), (5, 6), (5, -2), (7, 1), (-1, 1), (True, 1), (Decimal(5), 2)])
    def test_bad_nth_weekday(self, weekday: object, n: object) -> None:
        with pytest.raises(InvalidConfigError, match="nth weekday"):
            NthWeekday(weekday, n)  # type: ignore[arg-type]

    @pytest.mark.parametrize("days", [-1, 366, 1.5, "30"])
    def test_bad_grace(self, days: object) -> None:
        with pytest.raises(InvalidConfigError, match="grace_after_conversion_days"):
            DisconnectionCalendar(grace_after_conversion_days=days)  # type: ignore[arg-type]

    @pytest.mark.parametrize("weekdays", [frozenset({7}), frozenset({-1}), frozenset({1.0}), 6])
    def test_bad_weekdays(self, weekdays: object) -> None:
        with pytest.raises(InvalidConfigError, match="blocked_weekdays"):
            DisconnectionCalendar(blocked_weekdays=weekdays)  # type: ignore[arg-type]

    def test_bad_holiday_and_window_items(self) -> None:
        with pytest.raises(InvalidConfigError, match="public holiday"):
            PublicHoliday(datetime(2026, 3, 4, tzinfo=UTC))
        with pytest.raises(InvalidConfigError, match="public_holidays"):
            DisconnectionCalendar(public_holidays=(date(2026, 3, 4),))  # type: ignore[arg-type]
        with pytest.raises(InvalidConfigError, match="blocked_windows"):
            DisconnectionCalendar(blocked_windows=("18:00-08:00",))  # type: ignore[arg-type]
        with pytest.raises(InvalidConfigError, match="blocked_windows"):
            DisconnectionCalendar(blocked_windows=DailyWindow.parse("18:00-08:00"))  # type: ignore[arg-type]
