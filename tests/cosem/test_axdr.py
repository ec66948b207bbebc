"""A-XDR Data (IEC 62056-6-2 clause 4.1.5) against published byte-level examples.

Sources (facts only; every vector is cited where it is used):
- [GX-LEN]   Gurux forum "Encoding array", https://www.gurux.fi/forum/4177: counts 2 = 02, 127 = 7F,
             240 = 81 F0, 287 = 82 01 1F.
- [GOSEM]    nyotiemon/gosem axdr/axdr_test.go (an independent Go A-XDR codec's test vectors).
- [DC-AXDR]  pwitab/dlms-cosem tests/test_a_xdr.py (LTE/GSM diagnostics structures from meters).
- [DC-GET]   pwitab/dlms-cosem tests/test_xdlms/test_get.py (GET-Response data 06 00 00 13 91).
- [DC-PROF]  pwitab/dlms-cosem tests/test_parsers.py (a 4-row load-profile buffer, nulls for clock).
- [SPECDAY]  http://stepagrus.ru/category/it-v-pomoshh-chelovechestvu/ (special days table, IC 11
             attribute 2: array of {long-unsigned index, octet-string date, unsigned day_id}).
- [GX-SET]   Gurux forum https://www.gurux.fi/comment/10430 (SET of single action schedule execution
             time: array of {octet-string time, octet-string date}).
- compact-array: Green Book 9.5 ASN.1 ``TypeDescription`` (no published hex found; the interop
  tests check the same encoding against gurux-dlms).
"""

from __future__ import annotations

import pytest

from openprepaid.cosem import axdr
from openprepaid.cosem.axdr import (
    ArrayOf,
    BitString,
    CompactArray,
    DataTag,
    DoubleLong,
    DoubleLongUnsigned,
    Float32,
    Float64,
    Integer,
    Long,
    Long64,
    Long64Unsigned,
    LongUnsigned,
    StructureOf,
    Unsigned,
    Utf8String,
    decode_data,
    encode_as,
    encode_data,
)
from openprepaid.cosem.date_time import ClockStatus, CosemDateTime


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


@pytest.mark.parametrize(
    ("length", "octets"),
    [
        (2, "02"),  # [GX-LEN]
        (127, "7f"),  # [GX-LEN]
        (128, "8180"),  # [GOSEM]
        (240, "81f0"),  # [GX-LEN]
        (255, "81ff"),  # [GOSEM]
        (256, "820100"),  # [GOSEM]
        (287, "82011f"),  # [GX-LEN]
        (3855, "820f0f"),  # [DC-AXDR] test_get_axdr_length
        (65535, "82ffff"),  # [GOSEM]
        (65536, "83010000"),  # [GOSEM]
    ],
)
def test_lengths(length: int, octets: str) -> None:
    assert axdr.length_octets(length) == h(octets)
    assert axdr.decode_length(h(octets) + b"\x99", 0, len(octets) // 2 + 1) == (length, len(octets) // 2)


# (typed value, encoding): every one is a published vector
SCALARS = [
    (DoubleLong(-25), "05 ffffffe7"),  # [GOSEM] TestEncodeDoubleLong
    (DoubleLong(2147483647), "05 7fffffff"),  # [GOSEM]
    (DoubleLong(-2147483647), "05 80000001"),  # [GOSEM]
    (DoubleLongUnsigned(4294967295), "06 ffffffff"),  # [GOSEM]
    (DoubleLongUnsigned(5009), "06 00001391"),  # [DC-GET] GetResponseNormal data
    (Integer(-128), "0f 80"),  # [GOSEM] TestEncodeInteger
    (Integer(-1), "0f ff"),  # [GOSEM]
    (Long(-32768), "10 8000"),  # [GOSEM] TestEncodeLong
    (Long(256), "10 0100"),  # [GOSEM]
    (Unsigned(255), "11 ff"),  # [GOSEM]
    (LongUnsigned(65535), "12 ffff"),  # [GOSEM]
    (Long64(-1), "14 ffffffffffffffff"),  # [GOSEM] TestEncodeLong64
    (Long64(-(2**63)), "14 8000000000000000"),  # [GOSEM]
    (Long64Unsigned(2**64 - 1), "15 ffffffffffffffff"),  # [GOSEM]
    (Float32(3.140000104904175), "17 4048f5c3"),  # [GOSEM] float32(3.14)
    (Float32(-3.140000104904175), "17 c048f5c3"),  # [GOSEM]
    (Float32(4294967296.0), "17 4f800000"),  # [GOSEM] float32(4294967295) rounds to 2**32
    (Float64(3.14), "18 40091eb851eb851f"),  # [GOSEM] TestEncodeFloat64
    (Float64(3.1415926535), "18 400921fb54411744"),  # [GOSEM]
    (Float64(4294967295.0), "18 41efffffffe00000"),  # [GOSEM]
    (BitString("0000111111110000111111110000000101010101"), "04 28 0ff0ff0155"),  # [GOSEM] TestDlmsData
    (BitString("111"), "04 03 e0"),  # [GOSEM] TestArray
    (BitString("111100000001"), "04 0c f010"),  # [GOSEM] TestEncodeBitString
    (Utf8String("aфᐃ𝕫"), "0c 0a 61d184e19083f09d95ab"),  # [GOSEM] TestEncodeUTF8String
    (Utf8String("我愛你"), "0c 09 e68891e6849be4bda0"),  # [GOSEM]
    ("{}[]()!;", "0a 08 7b7d5b5d2829213b"),  # [GOSEM] TestEncodeVisibleString
    (b"ABCD", "09 04 41424344"),  # [GOSEM] TestEncodeOctetString
    (axdr.Bcd(127), "0d 7f"),  # [GOSEM] TestEncodeBCD
    (
        CosemDateTime(2020, 3, 11, 18, 0, 0, None, 0, ClockStatus.OK, 3),
        "19 07e4030b03120000ff000000",
    ),  # [GOSEM] TestDlmsData_DateTime ("2020-03-11 18:00:00", a Wednesday)
]


@pytest.mark.parametrize(("value", "octets"), SCALARS, ids=[octets[:2] + repr(v)[:20] for v, octets in SCALARS])
def test_published_scalars(value: object, octets: str) -> None:
    assert encode_data(value) == h(octets)
    typed = decode_data(h(octets), typed=True)
    assert typed == value
    assert type(typed) is type(value) or (type(value) is str and type(typed) is str)
    assert decode_data(h(octets)) == value


def test_gosem_mixed_array_with_0xff_true() -> None:
    # [GOSEM] TestDlmsData_Array: array { boolean TRUE (encoded FF), bit-string "111", date-time }.
    octets = h("01 03 03ff 0403e0 19 07e4030b03120000ff000000")
    value = decode_data(octets, typed=True)
    assert value == [True, BitString("111"), CosemDateTime(2020, 3, 11, 18, 0, 0, None, 0, ClockStatus.OK, 3)]
    # TRUE is any non-zero octet; ours encodes it as 01 (as gurux-dlms and the meters of [DC-GET] do).
    assert encode_data(value) == h("01 03 0301 0403e0 19 07e4030b03120000ff000000")


def test_structures_from_meters() -> None:
    # [DC-AXDR] LTE monitoring: long-unsigned 720, long-unsigned 3240, unsigned 18, unsigned 30, integer -64
    octets = h("02 05 12 02d0 12 0ca8 11 12 11 1e 0f c0")
    assert decode_data(octets) == (720, 3240, 18, 30, -64)
    typed = decode_data(octets, typed=True)
    assert [type(item) for item in typed] == [LongUnsigned, LongUnsigned, Unsigned, Unsigned, Integer]
    assert encode_data(typed) == octets
    # [DC-AXDR] GSM cell info, all zero
    octets = h("02 07 06 00000000 12 0000 11 00 11 00 12 0000 12 0000 12 0000")
    assert decode_data(octets) == (0, 0, 0, 0, 0, 0, 0)
    assert encode_data(decode_data(octets, typed=True)) == octets


def test_special_days_table() -> None:
    # [SPECDAY] 11 entries {index, date (year 2018, month, day, day-of-week not specified), day_id}
    octets = h(
        "01 0B 02 03 12 00 01 09 05 07 E2 01 01 FF 11 02 02 03 12 00 02 09 05 07 E2 01 02 FF 11 02"
        " 02 03 12 00 03 09 05 07 E2 01 03 FF 11 02 02 03 12 00 04 09 05 07 E2 01 14 FF 11 01"
        " 02 03 12 00 05 09 05 07 E2 02 0A FF 11 01 02 03 12 00 06 09 05 07 E2 02 17 FF 11 02"
        " 02 03 12 00 07 09 05 07 E2 03 08 FF 11 02 02 03 12 00 08 09 05 07 E2 03 09 FF 11 02"
        " 02 03 12 00 09 09 05 07 E2 05 01 FF 11 02 02 03 12 00 0A 09 05 07 E2 05 02 FF 11 02"
        " 02 03 12 00 0B 09 05 07 E2 05 09 FF 11 02"
    )
    rows = decode_data(octets)
    assert len(rows) == 11
    assert rows[0] == (1, h("07e20101ff"), 2)
    assert rows[3] == (4, h("07e20114ff"), 1)
    assert rows[10] == (11, h("07e20509ff"), 2)
    assert axdr.CosemDate.from_bytes(rows[10][1]) == axdr.CosemDate(2018, 5, 9, None)
    spec = ArrayOf(StructureOf((DataTag.LONG_UNSIGNED, DataTag.OCTET_STRING, DataTag.UNSIGNED)))
    assert encode_as(spec, rows) == octets
    assert encode_data(decode_data(octets, typed=True)) == octets


def test_single_action_schedule_value() -> None:
    # [GX-SET] array of 1 {octet-string 10 0A 27 FF (16:10:39), octet-string 07 E1 04 06 FF (2017-04-06)}
    octets = h("01 01 02 02 09 04 10 0A 27 FF 09 05 07 E1 04 06 FF")
    value = decode_data(octets)
    assert value == [(h("100a27ff"), h("07e10406ff"))]
    assert axdr.CosemTime.from_bytes(value[0][0]) == axdr.CosemTime(16, 10, 39, None)
    assert encode_data(value) == octets


def test_load_profile_with_null_clock_columns() -> None:
    # [DC-PROF] 4 rows {date-time or null, unsigned status, energy import, energy export}: only the first
    # row carries the clock, the others null-data (the rows differ, so the fast path must step aside).
    octets = h(
        "01 04"
        " 02 04 09 0c 07e30c1f02170000 00ffc400 11 06 06 000005ed 06 00000654"
        " 02 04 00 11 06 06 000005ed 06 00000654"
        " 02 04 00 11 06 06 000005ed 06 00000654"
        " 02 04 00 11 06 06 000005ed 06 00000654"
    )
    rows = decode_data(octets)
    assert rows[0] == (h("07e30c1f0217000000ffc400"), 6, 1517, 1620)
    assert rows[1:] == [(None, 6, 1517, 1620)] * 3
    assert CosemDateTime.from_bytes(rows[0][0]).to_datetime().isoformat() == "2019-12-31T23:00:00+01:00"
    assert encode_data(decode_data(octets, typed=True)) == octets


def test_compact_array_of_structures() -> None:
    # Green Book 9.5: compact-array [19] { contents-description, array-contents OCTET STRING }.
    # description: structure of 2 {double-long-unsigned, long-unsigned}; contents: 2 rows, no tags.
    octets = h("13 02 02 06 12 0c 00000001 00e6 00000002 00e7")
    assert decode_data(octets) == [(1, 230), (2, 231)]
    typed = decode_data(octets, typed=True)
    assert typed == CompactArray(
        StructureOf((DataTag.DOUBLE_LONG_UNSIGNED, DataTag.LONG_UNSIGNED)), [(1, 230), (2, 231)]
    )
    assert encode_data(typed) == octets


def test_compact_array_with_strings_and_nested_array() -> None:
    # description: structure {octet-string, array[2] of unsigned}; strings keep their length octet.
    octets = h("13 02 02 09 01 0002 11 08 02 aabb 01 02 00 03 04")
    assert decode_data(octets) == [(h("aabb"), [1, 2]), (b"", [3, 4])]
    assert encode_data(decode_data(octets, typed=True)) == octets


def test_compact_array_of_simple_type() -> None:
    octets = h("13 12 06 0001 0002 0003")
    assert decode_data(octets) == [1, 2, 3]
    assert encode_data(CompactArray(DataTag.LONG_UNSIGNED, [1, 2, 3])) == octets


def test_null_dont_care_and_nested_empty() -> None:
    assert decode_data(h("00")) is None
    assert decode_data(h("ff")) is axdr.DONT_CARE
    assert encode_data(axdr.DONT_CARE) == h("ff")
    assert decode_data(h("01 00")) == []
    assert decode_data(h("02 00")) == ()
    assert decode_data(h("02 02 01 00 02 00")) == ([], ())
    assert encode_data([(), [], None]) == h("01 03 02 00 01 00 00")


def test_visible_string_keeps_every_octet() -> None:
    octets = h("0a 03 41 e9 ff")
    assert decode_data(octets) == "Aéÿ"
    assert encode_data(decode_data(octets)) == octets


def test_decode_accepts_bytearray_and_memoryview() -> None:
    assert decode_data(bytearray(h("12 00e6"))) == 230
    assert decode_data(memoryview(h("12 00e6"))) == 230
    assert axdr.decode_data_prefix(h("12 00e6 11 01"), 3) == (1, 5)
    assert axdr.data_end(h("02 02 12 00e6 11 01 99"), 0) == 7


def test_typed_wrappers_behave_as_numbers() -> None:
    value = LongUnsigned(230)
    assert value + 1 == 231
    assert repr(value) == "LongUnsigned(230)"
    assert repr(Float32(1.5)) == "Float32(1.5)"
    assert repr(Utf8String("x")) == "Utf8String('x')"
    assert repr(BitString("10")) == "BitString('10')"
    assert repr(axdr.DONT_CARE) == "DONT_CARE"
    assert BitString("").to_octets() == b""
    assert BitString.from_octets(b"", 0) == ""
