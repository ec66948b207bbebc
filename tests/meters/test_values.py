"""Typed COSEM values: integer ranges (IEC 62056-6-2 §4.1.5 common data types), bit-strings, OBIS text."""

from __future__ import annotations

import pytest

from openprepaid.meters.errors import InvalidObisError
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
    check_obis,
    obis_from_bytes,
    obis_to_bytes,
)


@pytest.mark.parametrize(
    ("kind", "low", "high", "tag"),
    [
        # ranges and tags from IEC 62056-6-2 §4.1.5 (Table 2, common data types)
        (Unsigned8, 0, 255, 17),
        (Unsigned16, 0, 65535, 18),
        (Unsigned32, 0, 4294967295, 6),
        (Unsigned64, 0, 2**64 - 1, 21),
        (Integer8, -128, 127, 15),
        (Integer16, -32768, 32767, 16),
        (Integer32, -(2**31), 2**31 - 1, 5),
        (Enumerated, 0, 255, 22),
    ],
)
def test_integer_types_accept_their_range_and_refuse_beyond(
    kind: type[Unsigned8], low: int, high: int, tag: int
) -> None:
    assert kind(low) == low and kind(high) == high
    assert tag == kind.TAG
    assert kind.fits(high) and not kind.fits(high + 1) and not kind.fits(low - 1)
    with pytest.raises(ValueError, match="out of range"):
        kind(high + 1)
    with pytest.raises(ValueError, match="out of range"):
        kind(low - 1)


def test_integer_markers_are_ints_but_not_bools() -> None:
    value = Unsigned32(230)
    assert isinstance(value, int) and value + 1 == 231 and repr(value) == "Unsigned32(230)"
    assert not Unsigned8.fits(True)
    assert not Unsigned8.fits("1")
    with pytest.raises(ValueError, match="out of range"):
        Unsigned8(True)


def test_bit_string_numbers_bits_from_the_first_octet_top_bit() -> None:
    word = BitString.from_bits(128, {0, 80, 127})
    assert word.bit(0) and word.bit(80) and word.bit(127) and not word.bit(1)
    assert word.bits() == frozenset({0, 80, 127})
    octets = word.to_bytes()
    assert len(octets) == 16
    assert octets[0] == 0x80  # bit 0 is the top bit of octet 0
    assert octets[10] == 0x80  # bit 80 is the top bit of octet 10
    assert octets[15] == 0x01


def test_bit_string_with_unused_trailing_bits() -> None:
    assert BitString.from_bits(10, {0, 9}).to_bytes() == bytes([0x80, 0x40])
    assert not BitString(0, 10).bit(12)


@pytest.mark.parametrize(("value", "length"), [(4, 2), (-1, 8), (0, -1)])
def test_bit_string_refuses_values_that_do_not_fit(value: int, length: int) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        BitString(value, length)


def test_bit_string_from_bits_refuses_bits_outside_the_string() -> None:
    with pytest.raises(ValueError, match="outside"):
        BitString.from_bits(8, {8})


def test_obis_text_and_logical_name_bytes() -> None:
    assert obis_to_bytes("1.0.1.8.0.255") == bytes([1, 0, 1, 8, 0, 255])
    assert obis_from_bytes(bytes([0, 0, 96, 3, 10, 255])) == "0.0.96.3.10.255"
    assert check_obis("0.0.1.0.0.255") == "0.0.1.0.0.255"


@pytest.mark.parametrize("text", ["1.0.1.8.0", "1.0.1.8.0.256", "1.0.x.8.0.255", "", "1..1.8.0.255", "1.0.1.8.0.1000"])
def test_bad_obis_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidObisError):
        obis_to_bytes(text)


@pytest.mark.parametrize("raw", [b"", bytes(5), bytes(7)])
def test_bad_logical_name_bytes_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidObisError):
        obis_from_bytes(raw)
