"""Model values <-> A-XDR Data in the simulator's COSEM server (simulator/cosem_values.py).

Vectors follow IEC 62056-6-2 clause 4.1.5 (Data CHOICE tags, A-XDR length octets) and the Blue Book
attribute layouts they name (scaler_unit 4.3.2, units table, IS 15959 ESW of 128 bits); date-times
are checked against ``openprepaid.cosem.date_time.CosemDateTime`` (its own published vectors live
in tests/cosem/test_date_time.py) and, end to end, against dlms-cosem in tests/interop.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openprepaid.cosem.axdr import decode_data, encode_data
from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.meters.values import (
    BitString,
    Enumerated,
    Integer8,
    Integer16,
    Integer32,
    Unsigned8,
    Unsigned16,
    Unsigned32,
    Unsigned64,
)
from openprepaid.simulator.cosem_values import (
    ValueConversionError,
    date_time_octets,
    decode_value,
    encode_value,
    to_cosem,
    to_model,
)

IST = timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Unsigned32(42_000), "060000a410"),  # double-long-unsigned [6], 4 octets big-endian
        (Unsigned16(900), "120384"),  # long-unsigned [18]
        (Unsigned8(5), "1105"),  # unsigned [17]
        (Unsigned64(1), "150000000000000001"),  # long64-unsigned [21]
        (Integer16(-330), "10feb6"),  # long [16], two's complement
        (Integer32(-1), "05ffffffff"),  # double-long [5]
        (Enumerated(1), "1601"),  # enum [22]
        ((Integer8(0), Enumerated(30)), "02020f00161e"),  # scaler_unit {0, Wh (30)}, Blue Book 4.3.2
        (True, "0301"),  # boolean [3]
        (None, "00"),  # null-data [0]
        ("OPS", "0a034f5053"),  # visible-string [10]
        (b"\x00\x00\x01\x00\x00\xff", "09060000010000ff"),  # octet-string [9]: a logical name
        ([Unsigned16(1), Unsigned16(2)], "0102120001120002"),  # array [1] of 2
        ([], "0100"),
    ],
)
def test_published_layouts(value: object, expected: str) -> None:
    assert encode_value(value).hex() == expected


def test_the_event_status_word_is_a_128_bit_string() -> None:
    # IS 15959 ESW 0.0.94.91.18.255: bit 85 (last gasp) is bit 5 of octet 10, first bit = MSB.
    word = BitString.from_bits(128, {85})
    encoded = encode_value(word)
    assert encoded[:3].hex() == "048180"  # bit-string [4], length 128 in two length octets
    assert encoded[3:] == bytes(10) + b"\x04" + bytes(5)


def test_a_date_time_is_the_12_octet_string_of_the_meter_local_time() -> None:
    moment = datetime(2026, 11, 24, 11, 30, 15, tzinfo=IST)
    encoded = encode_value(moment)
    assert encoded[:2] == b"\x09\x0c"
    stamp = CosemDateTime.from_bytes(encoded[2:])
    assert (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second) == (2026, 11, 24, 11, 30, 15)
    assert stamp.deviation == -330  # UTC = local + deviation (Blue Book 4.1.6.1)
    assert stamp.day_of_week == 2  # a Tuesday
    assert stamp.to_datetime() == moment


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.sampled_from([IST, UTC])
).map(lambda moment: moment.replace(microsecond=0))
row = st.tuples(
    moments,
    st.integers(0, 2**32 - 1).map(Unsigned32),
    st.integers(-(2**15), 2**15 - 1).map(Integer16),
    st.integers(0, 255).map(Enumerated),
    st.binary(min_size=6, max_size=6),
)


@given(st.lists(row, min_size=4, max_size=40))
def test_profile_fast_path_is_the_generic_encoding(rows: list[tuple[object, ...]]) -> None:
    fast = encode_value(rows)
    slow_rows = [(date_time_octets(r[0]), *r[1:]) for r in rows]  # type: ignore[arg-type]
    assert fast == encode_data(to_cosem(slow_rows))
    decoded = decode_data(fast)
    assert [tuple(r[1:4]) for r in decoded] == [tuple(int(v) for v in r[1:4]) for r in rows]  # type: ignore[call-overload]
    assert [CosemDateTime.from_bytes(r[0]).to_datetime() for r in decoded] == [r[0] for r in rows]


def test_nested_rows_take_the_generic_path() -> None:
    # a scaler profile's single entry holds scaler_unit structures: no fixed row layout
    rows = [((Integer8(-2), Enumerated(35)), (Integer8(0), Enumerated(30)))] * 5
    assert decode_data(encode_value(rows)) == [((-2, 35), (0, 30))] * 5


def test_plain_ints_and_floats_are_refused() -> None:
    with pytest.raises(ValueConversionError, match="int"):
        encode_value(7)
    with pytest.raises(ValueConversionError, match="float"):
        encode_value([Unsigned8(1), 2.5])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("060000a410", Unsigned32(42_000)),
        ("1204d2", Unsigned16(1234)),
        ("1601", Enumerated(1)),
        ("10feb6", Integer16(-330)),
        ("02030f0016010300", (Integer8(0), Enumerated(1), False)),
        ("0a034f5053", "OPS"),
    ],
)
def test_decoded_values_carry_model_markers(data: str, expected: object) -> None:
    value = decode_value(bytes.fromhex(data))
    assert value == expected
    assert type(value) is type(expected)


def test_a_written_date_time_becomes_an_aware_datetime_only_where_expected() -> None:
    octets = CosemDateTime.from_datetime(datetime(2026, 11, 24, 6, 0, tzinfo=IST)).to_bytes()
    data = b"\x09\x0c" + octets
    assert decode_value(data, date_times=True) == datetime(2026, 11, 24, 6, 0, tzinfo=IST)
    assert decode_value(data) == octets
    # not fully specified (year 0xFFFF): stays octets for the model to refuse
    wildcard = b"\xff\xff" + octets[2:]
    assert decode_value(b"\x09\x0c" + wildcard, date_times=True) == wildcard
    # inside a structure (the limiter's emergency profile)
    profile = decode_value(b"\x02\x03\x12\x00\x01" + data + b"\x06\x00\x00\x0e\x10", date_times=True)
    assert profile == (Unsigned16(1), datetime(2026, 11, 24, 6, 0, tzinfo=IST), Unsigned32(3600))


def test_a_written_bit_string_is_the_model_bit_string() -> None:
    value = decode_value(bytes.fromhex("040c") + b"\x80\x10")  # 12 bits: bits 0 and 11
    assert value == BitString.from_bits(12, {0, 11})


@pytest.mark.parametrize("data", ["", "06000001", "ff00", "0101"])
def test_undecodable_data_is_a_conversion_error(data: str) -> None:
    with pytest.raises(ValueConversionError):
        decode_value(bytes.fromhex(data))


def test_values_without_model_meaning_are_refused() -> None:
    with pytest.raises(ValueConversionError):
        decode_value(bytes.fromhex("1740490fdb"))  # float32: no writable attribute takes one
    with pytest.raises(ValueConversionError):
        to_model(object())
