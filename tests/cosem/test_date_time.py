"""COSEM date, time and date-time (IEC 62056-6-2 clause 4.1.6.1).

Published vectors:
- pwitab/dlms-cosem tests/test_time.py (meter captures): 07E4 01 01 FF 00 03 00 00 FF88 00 is
  2020-01-01T00:03:00+02:00 (deviation -120), 07E4 01 06 FF 00 03 00 00 FFC4 00 is
  2020-01-06T00:03:00+01:00, 07E2 02 0C FF 00 00 00 00 8000 00 is 2018-02-12 00:00 without deviation;
- nyotiemon/gosem axdr/axdr_test.go: date 2009-11-10 (a Tuesday) is 07D9 0B 0A 02, time 10:00:00 is
  0A 00 00 FF, date-time 2020-03-11 18:00:00 UTC (a Wednesday) is 07E4 03 0B 03 12 00 00 FF 0000 00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprepaid.cosem.date_time import (
    ClockStatus,
    CosemDate,
    CosemDateTime,
    CosemTime,
    datetime_from_octets,
)
from openprepaid.cosem.errors import DecodeError, EncodeError

IST = ZoneInfo("Asia/Kolkata")


@pytest.mark.parametrize(
    ("octets", "moment"),
    [
        ("07e40101ff00030000ff8800", datetime(2020, 1, 1, 0, 3, tzinfo=timezone(timedelta(hours=2)))),
        ("07e40106ff00030000ffc400", datetime(2020, 1, 6, 0, 3, tzinfo=timezone(timedelta(hours=1)))),
        ("07e4030b03120000ff000000", datetime(2020, 3, 11, 18, 0, tzinfo=UTC)),
    ],
)
def test_published_date_times(octets: str, moment: datetime) -> None:
    value = CosemDateTime.from_bytes(bytes.fromhex(octets))
    assert value.to_datetime() == moment
    assert value.to_datetime().utcoffset() == moment.utcoffset()
    assert datetime_from_octets(bytes.fromhex(octets)) == moment
    assert value.to_bytes().hex() == octets


def test_unspecified_deviation_needs_an_assumed_zone() -> None:
    octets = bytes.fromhex("07e2020cff00000000800000")
    value = CosemDateTime.from_bytes(octets)
    assert value.deviation is None
    assert value.day_of_week is None
    assert value.clock_status == ClockStatus.OK
    with pytest.raises(DecodeError):
        value.to_datetime()
    assert value.to_datetime(IST) == datetime(2018, 2, 12, tzinfo=IST)
    assert datetime_from_octets(octets, IST) == datetime(2018, 2, 12, tzinfo=IST)
    with pytest.raises(DecodeError):
        datetime_from_octets(octets)


def test_published_date_and_time() -> None:
    assert CosemDate.from_bytes(bytes.fromhex("07d90b0a02")) == CosemDate(2009, 11, 10, 2)
    assert CosemDate(2009, 11, 10, 2).to_bytes().hex() == "07d90b0a02"
    assert CosemTime.from_bytes(bytes.fromhex("0a0000ff")) == CosemTime(10, 0, 0, None)
    assert CosemTime(10, 0, 0).to_bytes().hex() == "0a0000ff"


def test_india_deviation_is_minus_330_and_utc_is_local_plus_deviation() -> None:
    moment = datetime(2024, 1, 15, 10, 30, 5, 120000, tzinfo=IST)
    value = CosemDateTime.from_datetime(moment)
    assert value.deviation == -330
    assert value.to_bytes()[9:11] == (-330).to_bytes(2, "big", signed=True)
    assert value.hundredths == 12
    assert value.day_of_week == 1
    assert value.to_datetime() == moment
    assert value.to_datetime().astimezone(UTC).hour == 5


def test_special_values_round_trip_as_none_and_markers() -> None:
    wildcard = CosemDateTime(None, 0xFE, 0xFD, None, None, clock_status=None)
    octets = wildcard.to_bytes()
    assert octets.hex() == "fffffefdffffffffff8000ff"
    assert CosemDateTime.from_bytes(octets) == wildcard
    assert not wildcard.is_fully_specified
    with pytest.raises(DecodeError):
        wildcard.to_datetime(IST)


def test_daylight_saving_flag_from_the_zone() -> None:
    summer = datetime(2024, 7, 1, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    value = CosemDateTime.from_datetime(summer)
    assert value.clock_status == ClockStatus.DAYLIGHT_SAVING_ACTIVE
    assert value.deviation == -120


@pytest.mark.parametrize(
    "octets",
    [
        "07e40d01ff00030000ff8800",  # month 13
        "07e40100ff00030000ff8800",  # day 0
        "07e40101ff18030000ff8800",  # hour 24
        "07e40101ff003c0000ff8800",  # minute 60
        "07e40101ff00033c00ff8800",  # second 60
        "07e40101ff00030064ff8800",  # hundredths 100
        "07e40101ff0003000002d100",  # deviation +721
        "07e4010108000300000000000",  # day of week 8 (and odd length)
    ],
)
def test_out_of_range_fields_raise(octets: str) -> None:
    with pytest.raises(DecodeError):
        CosemDateTime.from_bytes(bytes.fromhex(octets.ljust(24, "0")[:24]))


def test_wrong_lengths_raise() -> None:
    with pytest.raises(DecodeError):
        CosemDateTime.from_bytes(b"\x07\xe4")
    with pytest.raises(DecodeError):
        CosemDate.from_bytes(b"\x07\xe4\x01\x01")
    with pytest.raises(DecodeError):
        CosemTime.from_bytes(b"\x00")
    with pytest.raises(DecodeError):
        datetime_from_octets(b"\x00" * 11)


def test_calendar_errors_raise_decode_error() -> None:
    feb_30 = bytes.fromhex("07e4021eff00000000000000")
    with pytest.raises(DecodeError):
        CosemDateTime.from_bytes(feb_30).to_datetime()
    with pytest.raises(DecodeError):
        datetime_from_octets(feb_30)
    with pytest.raises(DecodeError):
        datetime_from_octets(bytes.fromhex("07e40101ff0003000002d100"))
    with pytest.raises(DecodeError):
        datetime_from_octets(bytes.fromhex("07e40101ff00030064000000"))


def test_encoding_errors() -> None:
    with pytest.raises(EncodeError):
        CosemDateTime(2024, 13, 1, 0, 0).to_bytes()
    with pytest.raises(EncodeError):
        CosemDateTime(2024, 1, 1, 0, 0, deviation=800).to_bytes()
    with pytest.raises(EncodeError):
        CosemDateTime(0xFFFF, 1, 1, 0, 0).to_bytes()
    with pytest.raises(EncodeError):
        CosemDateTime(2024, 1, 1, 0, 0, clock_status=ClockStatus(0xFF)).to_bytes()
    with pytest.raises(EncodeError):
        CosemDateTime.from_datetime(datetime(2024, 1, 1))
    with pytest.raises(EncodeError):
        CosemDateTime.from_datetime(datetime(2024, 1, 1, tzinfo=timezone(timedelta(seconds=30))))
    with pytest.raises(EncodeError):
        CosemTime(25, 0).to_bytes()


@given(
    st.datetimes(
        min_value=datetime(1980, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, IST, timezone(timedelta(hours=-5)), ZoneInfo("Europe/Berlin")]),
        allow_imaginary=False,
    )
)
def test_aware_datetimes_round_trip_to_the_hundredth(moment: datetime) -> None:
    value = CosemDateTime.from_bytes(CosemDateTime.from_datetime(moment).to_bytes())
    expected = moment.replace(microsecond=moment.microsecond // 10_000 * 10_000)
    # compare instants: Python never finds an aware datetime in a DST fold equal across zones
    assert value.to_datetime().timestamp() == expected.timestamp()
    assert value.to_datetime().utcoffset() == expected.utcoffset()
    assert datetime_from_octets(value.to_bytes()).timestamp() == expected.timestamp()
