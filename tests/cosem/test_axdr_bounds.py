"""A-XDR failure paths: malformed and hostile input raises DecodeError (with an offset) and never
anything else, without allocating more than the input; unencodable values raise EncodeError."""

from __future__ import annotations

import time

import pytest

from openprepaid.cosem import axdr
from openprepaid.cosem.axdr import (
    ArrayOf,
    BitString,
    CompactArray,
    DataTag,
    LongUnsigned,
    StructureOf,
    decode_data,
    encode_as,
    encode_data,
)
from openprepaid.cosem.date_time import CosemDateTime
from openprepaid.cosem.errors import DecodeError, EncodeError


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


@pytest.mark.parametrize(
    "octets",
    [
        "",  # nothing at all
        "07",  # tag 7 (floating-point) is not a Data choice here
        "08",
        "0b",
        "0e",
        "1c",
        "fe",
        "12 00",  # truncated long-unsigned
        "06 000000",  # truncated double-long-unsigned
        "18 00000000000000",  # truncated float64
        "09 05 0102",  # octet-string shorter than its length
        "09",  # length missing
        "09 80",  # indefinite length form
        "09 85 0000000001 00",  # five length octets
        "09 82 01",  # truncated length
        "0a 03 4142",  # visible-string short
        "0c 02 c328",  # invalid UTF-8
        "04 09 ff",  # 9 bits need 2 octets
        "19 07e4",  # truncated date-time
        "19 07e40d01ff00030000ff8800",  # month 13 in a date-time
        "1a 07e40100ff",  # day 0 in a date
        "1b 18000000",  # hour 24 in a time
        "01 02 12 0001",  # array: second element missing
        "02 01",  # structure: element missing
        "12 0001 00",  # trailing octet
        "13",  # compact-array: description missing
        "13 00 00",  # null-data in a compact-array description
        "13 ff 00",  # dont-care in a compact-array description
        "13 13 00",  # compact-array within a compact-array description
        "13 02 00 00",  # empty structure description
        "13 01 0000 11 00",  # zero-count array description
        "13 01 00",  # truncated array description
        "13 12 03 000100",  # contents not a whole number of long-unsigned
        "13 12 05 0001",  # contents truncated
        "13 02 02 09 11 02 03 aa",  # string element overruns the contents
        "13 1a 05 07e40d01ff",  # bad date in compact contents
        "13 0c 02 01 ff",  # bad UTF-8 in compact contents
        "13 02 01 19 05 07e4030b03",  # truncated date-time in compact contents
        "13 02 01 12 01 00",  # truncated long-unsigned in compact contents (structure)
    ],
)
def test_malformed_input_raises_decode_error(octets: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_data(h(octets))
    assert caught.value.offset is not None
    with pytest.raises(DecodeError):
        decode_data(h(octets), typed=True)


def test_huge_counts_are_refused_before_allocating() -> None:
    started = time.perf_counter()
    for octets in ("01 84ffffffff 00", "02 84ffffffff", "09 84ffffffff 00", "04 84ffffffff 00", "13 02 84ffffffff 11"):
        with pytest.raises(DecodeError):
            decode_data(h(octets))
    assert time.perf_counter() - started < 0.5


def test_deep_nesting_is_refused() -> None:
    deep = b"\x02\x01" * 10_000 + b"\x00"
    with pytest.raises(DecodeError, match="deeper"):
        decode_data(deep)
    just_fits = b"\x02\x01" * axdr.MAX_DEPTH + b"\x00"
    value = decode_data(just_fits)
    for _ in range(axdr.MAX_DEPTH):
        value = value[0]
    assert value is None
    with pytest.raises(DecodeError):
        decode_data(b"\x13" + b"\x01\x00\x01" * 100 + b"\x11\x00")


def test_compact_array_cannot_amplify() -> None:
    # 65535 x 65535 unsigned described in 9 octets, with 1 octet of contents: refused, not allocated
    started = time.perf_counter()
    with pytest.raises(DecodeError):
        decode_data(h("13 01 ffff 01 ffff 11 01 00"))
    assert time.perf_counter() - started < 0.5


def test_fast_path_declines_when_rows_differ() -> None:
    row = "02 02 09 02 aabb 12 0001"
    usual = (b"\xaa\xbb", 1)
    odd_rows = {
        "02 02 09 02 aabb 11 01": (b"\xaa\xbb", 1),  # another tag (unsigned)
        "02 02 09 03 aabbcc 12 0001": (b"\xaa\xbb\xcc", 1),  # a longer string
        "02 02 00 12 0001": (None, 1),  # null-data
        "02 03 09 02 aabb 12 0001 00": (b"\xaa\xbb", 1, None),  # three elements
    }
    for odd, odd_value in odd_rows.items():
        octets = h("01 05" + (row * 2) + odd + (row * 2))
        expected = [usual, usual, odd_value, usual, usual]
        assert decode_data(octets) == expected, odd
        assert decode_data(octets, typed=True) == expected, odd
        assert encode_data(decode_data(octets, typed=True)) == octets, odd


def test_fast_path_rows_running_past_the_end_raise() -> None:
    octets = h("01 05" + "02 02 09 02 aabb 12 0001" * 4 + "02 02 09 02 aabb 12")
    with pytest.raises(DecodeError):
        decode_data(octets)


@pytest.mark.parametrize(
    "value",
    [
        5,  # a bare int: its width would be a guess
        1.5,  # a bare float
        {1: 2},
        object(),
        "é€",  # visible-string holds 8-bit characters only
        [1, 2, 3, 4, 5],  # bare ints on the array fast path too
    ],
)
def test_unencodable_values_raise(value: object) -> None:
    with pytest.raises(EncodeError):
        encode_data(value)


def test_typed_range_checks() -> None:
    with pytest.raises(EncodeError):
        LongUnsigned(65536)
    with pytest.raises(EncodeError):
        axdr.Integer(-129)
    with pytest.raises(EncodeError):
        axdr.Long64Unsigned(-1)
    with pytest.raises(EncodeError):
        BitString("1021")
    with pytest.raises(EncodeError):
        encode_data(axdr.Float32(1e300))
    with pytest.raises(EncodeError):
        encode_data(int.__new__(LongUnsigned, 70000))  # built around the range check
    with pytest.raises(EncodeError):
        encode_data(_nested(40))
    with pytest.raises(EncodeError):
        axdr.length_octets(2**32)


def _nested(depth: int) -> object:
    value: object = None
    for _ in range(depth):
        value = [value]
    return value


def test_compact_array_encoding_errors() -> None:
    with pytest.raises(EncodeError):
        encode_data(CompactArray(ArrayOf(DataTag.UNSIGNED), [[1]]))  # count missing
    with pytest.raises(EncodeError):
        encode_data(CompactArray(StructureOf(()), [()]))
    with pytest.raises(EncodeError):
        encode_data(CompactArray(DataTag.NULL_DATA, [None]))
    with pytest.raises(EncodeError):
        encode_data(CompactArray(StructureOf((DataTag.UNSIGNED,)), [(1, 2)]))
    with pytest.raises(EncodeError):
        encode_data(CompactArray(DataTag.UNSIGNED, [256]))
    with pytest.raises(EncodeError):
        encode_data(CompactArray(DataTag.UNSIGNED, ["1"]))
    with pytest.raises(EncodeError):
        encode_data(CompactArray(DataTag.BOOLEAN, [1]))
    with pytest.raises(EncodeError):
        encode_data(CompactArray(DataTag.OCTET_STRING, ["ab"]))
    with pytest.raises(EncodeError):
        encode_data(CompactArray(DataTag.DATE_TIME, [b"\x00" * 12]))
    with pytest.raises(EncodeError):
        encode_data(CompactArray(ArrayOf(DataTag.UNSIGNED, 2), [[1]]))


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        (DataTag.LONG_UNSIGNED, -1),
        (DataTag.LONG_UNSIGNED, "1"),
        (DataTag.NULL_DATA, 0),
        (DataTag.OCTET_STRING, "text"),
        (DataTag.VISIBLE_STRING, b"bytes"),
        (DataTag.DATE_TIME, b"\x00" * 12),
        (DataTag.COMPACT_ARRAY, [1]),
        (DataTag.ARRAY, [1]),
        (ArrayOf(DataTag.UNSIGNED), 5),
        (ArrayOf(DataTag.UNSIGNED, 2), [1]),
        (StructureOf((DataTag.UNSIGNED,)), (1, 2)),
        (ArrayOf(StructureOf((DataTag.OCTET_STRING, DataTag.UNSIGNED))), [(b"ab", 1)] * 4 + [(b"ab", 256)]),
        (ArrayOf(DataTag.UNSIGNED), [1, 2, 3, 4, 300]),
    ],
)
def test_encode_as_mismatches_raise(spec: axdr.TypeSpec, value: object) -> None:
    with pytest.raises(EncodeError):
        encode_as(spec, value)


def test_encode_as_handles_rows_the_fast_path_cannot() -> None:
    spec = ArrayOf(StructureOf((DataTag.OCTET_STRING, DataTag.LONG_UNSIGNED)))
    rows = [(b"a" * n, n) for n in range(6)]  # strings of different lengths
    octets = encode_as(spec, rows)
    assert decode_data(octets) == rows
    assert encode_as(spec, [list(row) for row in rows]) == octets
    clock = CosemDateTime(2024, 1, 1, 0, 0)
    assert encode_as(DataTag.DATE_TIME, clock) == b"\x19" + clock.to_bytes()
    assert encode_as(DataTag.DONT_CARE, None) == b"\xff"
    assert encode_as(DataTag.NULL_DATA, None) == b"\x00"
    assert encode_as(DataTag.COMPACT_ARRAY, CompactArray(DataTag.UNSIGNED, [1])) == h("13 11 01 01")
