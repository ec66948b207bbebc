"""The small BER subset (ITU-T X.690) that the ACSE APDUs of IEC 62056-5-3 use.

IEC 62056-5-3 (DLMS UA Green Book, "Encoding of the ACSE APDUs") encodes AARQ, AARE, RLRQ and RLRE
with BER: one-octet identifiers (no tag number is above 30), definite lengths in the short form or
the long form, INTEGER, BIT STRING, OCTET STRING and OBJECT IDENTIFIER values. This module is that
subset and nothing more:

- identifiers with the high-tag-number form (low five bits all ones) are refused: ACSE never uses
  them, and refusing them keeps the decoder simple and bounded;
- the indefinite length (0x80) is refused, as are long-form lengths of more than three octets;
  non-minimal long forms are accepted on input (X.690 BER allows them), never produced;
- every decoder works on a ``bytes`` object it is given and never reads beyond it, and every fault
  is a :class:`~openprepaid.cosem.errors.DecodeError` with the absolute offset of the bad octet.

The A-XDR length of an xDLMS OCTET STRING (IEC 62056-6-2 / Green Book A-XDR) has the same form, so
the InitiateRequest codec shares :func:`encode_length` and :meth:`BerReader.read_length`.
"""

from __future__ import annotations

from dataclasses import dataclass

from openprepaid.cosem.errors import DecodeError, EncodeError

MAX_LENGTH_OCTETS = 3
"""Long-form lengths of up to three octets (16 MiB) are read; an APDU is never that long."""

# Universal tags used inside the ACSE components.
TAG_INTEGER = 0x02
TAG_BIT_STRING = 0x03
TAG_OCTET_STRING = 0x04
TAG_OBJECT_IDENTIFIER = 0x06

_CONSTRUCTED = 0x20
_HIGH_TAG_NUMBER = 0x1F


def encode_length(length: int) -> bytes:
    """The minimal definite length octets for ``length`` (short form below 128)."""
    if length < 0:
        raise EncodeError(f"negative length {length}")
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    if size > MAX_LENGTH_OCTETS:
        raise EncodeError(f"length {length} needs more than {MAX_LENGTH_OCTETS} length octets")
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


def encode_tlv(tag: int, value: bytes) -> bytes:
    """One BER element: identifier octet, definite length, contents."""
    if not 0 <= tag <= 0xFF or tag & _HIGH_TAG_NUMBER == _HIGH_TAG_NUMBER:
        raise EncodeError(f"identifier {tag:#x} is not a one-octet BER tag")
    return bytes((tag,)) + encode_length(len(value)) + value


def encode_integer(value: int) -> bytes:
    """The contents octets of a BER INTEGER: minimal two's complement."""
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return value.to_bytes(size, "big", signed=True)


def decode_integer(contents: bytes, offset: int, *, max_octets: int = 4) -> int:
    """A BER INTEGER from its contents octets (1 to ``max_octets`` octets, two's complement)."""
    if not 1 <= len(contents) <= max_octets:
        raise DecodeError(f"INTEGER of {len(contents)} octets (1 to {max_octets} allowed)", offset)
    return int.from_bytes(contents, "big", signed=True)


def is_constructed(tag: int) -> bool:
    return bool(tag & _CONSTRUCTED)


@dataclass(frozen=True, slots=True)
class Tlv:
    """One decoded element: its identifier, its contents, and where the contents start."""

    tag: int
    value: bytes
    offset: int

    def reader(self) -> BerReader:
        """A reader over this element's contents (for a constructed element)."""
        return BerReader(self.value, self.offset)


class BerReader:
    """Reads BER elements from ``data``; ``base`` is the absolute offset of ``data[0]`` for errors."""

    __slots__ = ("_base", "_data", "_pos")

    def __init__(self, data: bytes, base: int = 0) -> None:
        self._data = data
        self._base = base
        self._pos = 0

    @property
    def offset(self) -> int:
        """Absolute offset of the next octet to read."""
        return self._base + self._pos

    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def read_byte(self) -> int:
        if self._pos >= len(self._data):
            raise DecodeError("truncated: one more octet expected", self.offset)
        value = self._data[self._pos]
        self._pos += 1
        return value

    def read_bytes(self, count: int) -> bytes:
        if count > len(self._data) - self._pos:
            raise DecodeError(f"truncated: {count} octets expected, {self.remaining()} left", self.offset)
        value = self._data[self._pos : self._pos + count]
        self._pos += count
        return value

    def peek_byte(self) -> int:
        if self._pos >= len(self._data):
            raise DecodeError("truncated: one more octet expected", self.offset)
        return self._data[self._pos]

    def read_length(self) -> int:
        """A definite length (short or long form); the contents it announces must be present."""
        at = self.offset
        first = self.read_byte()
        if first < 0x80:
            length = first
        else:
            size = first & 0x7F
            if size == 0:
                raise DecodeError("indefinite length is not allowed", at)
            if size > MAX_LENGTH_OCTETS:
                raise DecodeError(f"length of {size} length octets is not supported", at)
            length = int.from_bytes(self.read_bytes(size), "big")
        if length > self.remaining():
            raise DecodeError(f"length {length} runs past the end ({self.remaining()} octets left)", at)
        return length

    def read_tlv(self) -> Tlv:
        at = self.offset
        tag = self.read_byte()
        if tag & _HIGH_TAG_NUMBER == _HIGH_TAG_NUMBER:
            raise DecodeError(f"identifier {tag:#04x} uses the high-tag-number form", at)
        length = self.read_length()
        value_offset = self.offset
        return Tlv(tag, self.read_bytes(length), value_offset)

    def expect_end(self, what: str) -> None:
        if not self.at_end():
            raise DecodeError(f"{self.remaining()} unexpected octets after {what}", self.offset)


def decode_single(data: bytes, tag: int, what: str, base: int = 0) -> Tlv:
    """``data`` must be exactly one element with identifier ``tag``."""
    reader = BerReader(data, base)
    element = reader.read_tlv()
    if element.tag != tag:
        raise DecodeError(f"{what}: identifier {element.tag:#04x}, expected {tag:#04x}", base)
    reader.expect_end(what)
    return element


def decode_inner(element: Tlv, tag: int, what: str) -> Tlv:
    """The single element inside an EXPLICIT-tagged ``element``; it must have identifier ``tag``."""
    return decode_single(element.value, tag, what, element.offset)
