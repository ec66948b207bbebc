"""COSEM date, time and date-time (IEC 62056-6-2 clause 4.1.6.1, the Blue Book "date and time formats").

Octet layouts (big-endian), with the "not specified" markers mapped to ``None``:

- date (5 octets): year (long-unsigned, 0xFFFF), month (1..12, 0xFF; 0xFD daylight_savings_end,
  0xFE daylight_savings_begin), day-of-month (1..31, 0xFF; 0xFD second-to-last, 0xFE last day),
  day-of-week (1..7, Monday = 1, 0xFF);
- time (4 octets): hour (0..23), minute (0..59), second (0..59), hundredths (0..99); 0xFF each;
- date-time (12 octets): date, time, deviation (long, -720..720 minutes, 0x8000), clock status
  (unsigned, 0xFF).

Deviation follows the Blue Book: the minutes from local time to UTC, so UTC = local + deviation and
India (UTC+05:30) is -330. ``CosemDateTime.to_datetime`` gives an aware datetime when the date, the
time (hundredths may be unspecified: 0) and the deviation are specified; ``from_datetime`` takes an
aware datetime. Out-of-range fields raise ``DecodeError`` (``EncodeError`` when building one).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import IntFlag
from typing import Final

from openprepaid.cosem.errors import DecodeError, EncodeError

DATE_LENGTH: Final = 5
TIME_LENGTH: Final = 4
DATE_TIME_LENGTH: Final = 12

MONTH_DST_END: Final = 0xFD
MONTH_DST_BEGIN: Final = 0xFE
DAY_SECOND_LAST: Final = 0xFD
DAY_LAST: Final = 0xFE
DEVIATION_NOT_SPECIFIED: Final = -0x8000

_DATE = struct.Struct(">HBBB")
_TIME = struct.Struct(">BBBB")
_DATE_TIME = struct.Struct(">HBBBBBBBhB")


class ClockStatus(IntFlag):
    """The clock status octet; ``None`` in a value means "not specified" (0xFF)."""

    OK = 0
    INVALID = 0x01
    DOUBTFUL = 0x02
    DIFFERENT_CLOCK_BASE = 0x04
    INVALID_CLOCK_STATUS = 0x08
    DAYLIGHT_SAVING_ACTIVE = 0x80


def _field(raw: int, low: int, high: int, specials: tuple[int, ...], name: str) -> int | None:
    if raw == 0xFF:
        return None
    if low <= raw <= high or raw in specials:
        return raw
    raise DecodeError(f"date/time {name} out of range: {raw}")


def _octet(value: int | None, low: int, high: int, specials: tuple[int, ...], name: str) -> int:
    if value is None:
        return 0xFF
    if type(value) is not int or not (low <= value <= high or value in specials):
        raise EncodeError(f"date/time {name} out of range: {value!r}")
    return value


def _year(raw: int) -> int | None:
    return None if raw == 0xFFFF else raw


def _year_octets(value: int | None) -> int:
    if value is None:
        return 0xFFFF
    if type(value) is not int or not 0 <= value < 0xFFFF:
        raise EncodeError(f"date year out of range: {value!r}")
    return value


_MONTH = (1, 12, (MONTH_DST_END, MONTH_DST_BEGIN), "month")
_DAY = (1, 31, (DAY_SECOND_LAST, DAY_LAST), "day of month")
_WEEKDAY = (1, 7, (), "day of week")
_HOUR = (0, 23, (), "hour")
_MINUTE = (0, 59, (), "minute")
_SECOND = (0, 59, (), "second")
_HUNDREDTHS = (0, 99, (), "hundredths")


@dataclass(frozen=True, slots=True)
class CosemDate:
    """A COSEM date; ``None`` fields are "not specified" (wildcards in schedules)."""

    year: int | None
    month: int | None
    day: int | None
    day_of_week: int | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> CosemDate:
        if len(data) != DATE_LENGTH:
            raise DecodeError(f"a date is {DATE_LENGTH} octets, got {len(data)}")
        year, month, day, weekday = _DATE.unpack(data)
        return cls(_year(year), _field(month, *_MONTH), _field(day, *_DAY), _field(weekday, *_WEEKDAY))

    def to_bytes(self) -> bytes:
        return _DATE.pack(
            _year_octets(self.year),
            _octet(self.month, *_MONTH),
            _octet(self.day, *_DAY),
            _octet(self.day_of_week, *_WEEKDAY),
        )


@dataclass(frozen=True, slots=True)
class CosemTime:
    """A COSEM time of day; ``None`` fields are "not specified"."""

    hour: int | None
    minute: int | None
    second: int | None = None
    hundredths: int | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> CosemTime:
        if len(data) != TIME_LENGTH:
            raise DecodeError(f"a time is {TIME_LENGTH} octets, got {len(data)}")
        hour, minute, second, hundredths = _TIME.unpack(data)
        return cls(
            _field(hour, *_HOUR), _field(minute, *_MINUTE), _field(second, *_SECOND), _field(hundredths, *_HUNDREDTHS)
        )

    def to_bytes(self) -> bytes:
        return _TIME.pack(
            _octet(self.hour, *_HOUR),
            _octet(self.minute, *_MINUTE),
            _octet(self.second, *_SECOND),
            _octet(self.hundredths, *_HUNDREDTHS),
        )


_TIMEZONES: dict[int, timezone] = {}


def _timezone_for(deviation: int) -> timezone:
    zone = _TIMEZONES.get(deviation)
    if zone is None:
        zone = UTC if deviation == 0 else timezone(timedelta(minutes=-deviation))
        _TIMEZONES[deviation] = zone
    return zone


@dataclass(frozen=True, slots=True)
class CosemDateTime:
    """A COSEM date-time: local date and time, deviation (UTC - local, minutes) and clock status."""

    year: int | None
    month: int | None
    day: int | None
    hour: int | None
    minute: int | None
    second: int | None = None
    hundredths: int | None = None
    deviation: int | None = None
    clock_status: ClockStatus | None = None
    day_of_week: int | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> CosemDateTime:
        if len(data) != DATE_TIME_LENGTH:
            raise DecodeError(f"a date-time is {DATE_TIME_LENGTH} octets, got {len(data)}")
        year, month, day, weekday, hour, minute, second, hundredths, deviation, status = _DATE_TIME.unpack(data)
        if deviation == DEVIATION_NOT_SPECIFIED:
            dev: int | None = None
        elif -720 <= deviation <= 720:
            dev = deviation
        else:
            raise DecodeError(f"date-time deviation out of range: {deviation}")
        return cls(
            year=_year(year),
            month=_field(month, *_MONTH),
            day=_field(day, *_DAY),
            hour=_field(hour, *_HOUR),
            minute=_field(minute, *_MINUTE),
            second=_field(second, *_SECOND),
            hundredths=_field(hundredths, *_HUNDREDTHS),
            deviation=dev,
            clock_status=None if status == 0xFF else ClockStatus(status),
            day_of_week=_field(weekday, *_WEEKDAY),
        )

    def to_bytes(self) -> bytes:
        deviation = self.deviation
        if deviation is None:
            deviation = DEVIATION_NOT_SPECIFIED
        elif type(deviation) is not int or not -720 <= deviation <= 720:
            raise EncodeError(f"date-time deviation out of range: {deviation!r}")
        status = self.clock_status
        if status is not None and not 0 <= status < 0xFF:
            raise EncodeError(f"clock status out of range: {status!r}")
        return _DATE_TIME.pack(
            _year_octets(self.year),
            _octet(self.month, *_MONTH),
            _octet(self.day, *_DAY),
            _octet(self.day_of_week, *_WEEKDAY),
            _octet(self.hour, *_HOUR),
            _octet(self.minute, *_MINUTE),
            _octet(self.second, *_SECOND),
            _octet(self.hundredths, *_HUNDREDTHS),
            deviation,
            0xFF if status is None else int(status),
        )

    @classmethod
    def from_datetime(
        cls, moment: datetime, *, clock_status: ClockStatus | None = ClockStatus.OK, with_weekday: bool = True
    ) -> CosemDateTime:
        """The local fields and deviation of an aware datetime (hundredths truncated)."""
        offset = moment.utcoffset()
        if offset is None:
            raise EncodeError("a COSEM date-time needs an aware datetime (tzinfo set)")
        deviation, remainder = divmod(-offset, timedelta(minutes=1))
        if remainder:
            raise EncodeError(f"UTC offset {offset} is not a whole number of minutes")
        status = clock_status
        if status is not None and moment.dst():
            status |= ClockStatus.DAYLIGHT_SAVING_ACTIVE
        return cls(
            year=moment.year,
            month=moment.month,
            day=moment.day,
            hour=moment.hour,
            minute=moment.minute,
            second=moment.second,
            hundredths=moment.microsecond // 10_000,
            deviation=deviation,
            clock_status=status,
            day_of_week=moment.isoweekday() if with_weekday else None,
        )

    @property
    def is_fully_specified(self) -> bool:
        """Date, time to the second and deviation are all given (hundredths may be unspecified)."""
        return (
            self.year is not None
            and self.month is not None
            and self.month <= 12
            and self.day is not None
            and self.day <= 31
            and self.hour is not None
            and self.minute is not None
            and self.second is not None
            and self.deviation is not None
        )

    def to_datetime(self, assume_tz: tzinfo | None = None) -> datetime:
        """An aware datetime. Without a deviation, ``assume_tz`` (e.g. the meter's zone) must be given."""
        tz: tzinfo | None = _timezone_for(self.deviation) if self.deviation is not None else assume_tz
        if tz is None:
            raise DecodeError("date-time deviation not specified and no zone assumed")
        if (
            self.year is None
            or self.month is None
            or self.day is None
            or self.hour is None
            or self.minute is None
            or self.second is None
        ):
            raise DecodeError(f"date-time is not fully specified: {self}")
        try:
            return datetime(
                self.year,
                self.month,
                self.day,
                self.hour,
                self.minute,
                self.second,
                (self.hundredths or 0) * 10_000,
                tzinfo=tz,
            )
        except ValueError as exc:
            raise DecodeError(f"date-time is not a calendar date: {exc}") from None


def datetime_from_octets(data: bytes, assume_tz: tzinfo | None = None) -> datetime:
    """Fast path for a 12-octet date-time (a profile's clock column) straight to an aware datetime."""
    if len(data) != DATE_TIME_LENGTH:
        raise DecodeError(f"a date-time is {DATE_TIME_LENGTH} octets, got {len(data)}")
    year, month, day, _weekday, hour, minute, second, hundredths, deviation, _status = _DATE_TIME.unpack(data)
    if hundredths == 0xFF:
        hundredths = 0
    if deviation == DEVIATION_NOT_SPECIFIED:
        if assume_tz is None:
            raise DecodeError("date-time deviation not specified and no zone assumed")
        tz: tzinfo = assume_tz
    elif -720 <= deviation <= 720:
        tz = _timezone_for(deviation)
    else:
        raise DecodeError(f"date-time deviation out of range: {deviation}")
    if hundredths > 99:
        raise DecodeError(f"date-time hundredths out of range: {hundredths}")
    try:
        return datetime(year, month, day, hour, minute, second, hundredths * 10_000, tzinfo=tz)
    except ValueError:
        raise DecodeError(f"date-time is not fully specified or not a calendar date: {data.hex()}") from None
