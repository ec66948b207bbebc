"""COSEM attribute values as Python objects, typed just enough to be encoded (IEC 62056-6-2 §4.1.5).

The meter object model hands attribute values to a COSEM server as plain Python values plus a
few markers where Python alone would be ambiguous. The mapping to A-XDR data (IEC 62056-6-2
§4.1.5, "Common data types") is:

=========================  ===============================================
Python value               COSEM data type
=========================  ===============================================
``None``                   null-data
``bool``                   boolean
``Unsigned8`` ...          unsigned / long-unsigned / double-long-unsigned /
``Integer64``              long64-unsigned, integer / long / double-long / long64
``Enumerated``             enum
plain ``int``              not produced by the model; a server may choose
``BitString``              bit-string
``bytes``                  octet-string (logical names are 6-byte octet-strings)
``str``                    visible-string
aware ``datetime``         date-time (octet-string of 12, IEC 62056-6-2 §4.1.6.1),
                           in the meter's local offset
``tuple``                  structure
``list``                   array
=========================  ===============================================

The integer markers are ``int`` subclasses: arithmetic and comparisons work as usual and give
plain ``int`` results. OBIS codes are written "a.b.c.d.e.f" in this package; ``obis_to_bytes``
gives the 6-byte logical name used inside attribute values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from openprepaid.meters.errors import InvalidObisError


class _RangedInt(int):
    """An integer tagged with its COSEM type; construction checks the range of that type."""

    TYPE_NAME: ClassVar[str] = ""
    TAG: ClassVar[int] = 0
    MIN: ClassVar[int] = 0
    MAX: ClassVar[int] = 0

    def __new__(cls, value: int) -> Self:
        if isinstance(value, bool) or not cls.MIN <= value <= cls.MAX:
            raise ValueError(f"{value!r} is out of range for {cls.TYPE_NAME} ({cls.MIN}..{cls.MAX})")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({int(self)})"

    @classmethod
    def fits(cls, value: object) -> bool:
        """Whether ``value`` is an integer (not a bool) in this type's range."""
        return isinstance(value, int) and not isinstance(value, bool) and cls.MIN <= value <= cls.MAX


class Unsigned8(_RangedInt):
    TYPE_NAME, TAG, MIN, MAX = "unsigned", 17, 0, 0xFF


class Unsigned16(_RangedInt):
    TYPE_NAME, TAG, MIN, MAX = "long-unsigned", 18, 0, 0xFFFF


class Unsigned32(_RangedInt):
    TYPE_NAME, TAG, MIN, MAX = "double-long-unsigned", 6, 0, 0xFFFF_FFFF


class Unsigned64(_RangedInt):
    TYPE_NAME, TAG, MIN, MAX = "long64-unsigned", 21, 0, 0xFFFF_FFFF_FFFF_FFFF


class Integer8(_RangedInt):
    TYPE_NAME, TAG, MIN, MAX = "integer", 15, -0x80, 0x7F


class Integer16(_RangedInt):
    TYPE_NAME, TAG, MIN, MAX = "long", 16, -0x8000, 0x7FFF


class Integer32(_RangedInt):
    TYPE_NAME, TAG, MIN, MAX = "double-long", 5, -0x8000_0000, 0x7FFF_FFFF


class Integer64(_RangedInt):
    TYPE_NAME, TAG, MIN, MAX = "long64", 20, -0x8000_0000_0000_0000, 0x7FFF_FFFF_FFFF_FFFF


class Enumerated(_RangedInt):
    TYPE_NAME, TAG, MIN, MAX = "enum", 22, 0, 0xFF


INTEGER_TYPES: tuple[type[_RangedInt], ...] = (
    Unsigned8,
    Unsigned16,
    Unsigned32,
    Unsigned64,
    Integer8,
    Integer16,
    Integer32,
    Integer64,
    Enumerated,
)


@dataclass(frozen=True, slots=True)
class BitString:
    """A bit-string of ``length`` bits; bit 0 is the first bit (the top bit of the first octet).

    ``value`` holds the bits as a big-endian integer: bit ``n`` is ``1 << (length - 1 - n)``.
    """

    value: int
    length: int

    def __post_init__(self) -> None:
        if self.length < 0 or self.value < 0 or self.value >> self.length:
            raise ValueError(f"bit-string value does not fit in {self.length} bits")

    @classmethod
    def from_bits(cls, length: int, bits: frozenset[int] | set[int] | tuple[int, ...]) -> BitString:
        value = 0
        for n in bits:
            if not 0 <= n < length:
                raise ValueError(f"bit {n} outside a {length}-bit string")
            value |= 1 << (length - 1 - n)
        return cls(value, length)

    def bit(self, n: int) -> bool:
        return 0 <= n < self.length and bool(self.value >> (self.length - 1 - n) & 1)

    def bits(self) -> frozenset[int]:
        return frozenset(n for n in range(self.length) if self.bit(n))

    def to_bytes(self) -> bytes:
        """The octets as sent on the wire (unused trailing bits are zero)."""
        octets = (self.length + 7) // 8
        return (self.value << (octets * 8 - self.length)).to_bytes(octets, "big")


def obis_to_bytes(obis: str) -> bytes:
    """'1.0.1.8.0.255' -> the 6-byte logical name; ``InvalidObisError`` for anything else."""
    parts = obis.split(".")
    if len(parts) != 6 or not all(p.isdigit() and len(p) <= 3 for p in parts):
        raise InvalidObisError(f"not an OBIS code a.b.c.d.e.f: {obis!r}")
    numbers = [int(p) for p in parts]
    if any(n > 255 for n in numbers):
        raise InvalidObisError(f"OBIS group above 255: {obis!r}")
    return bytes(numbers)


def obis_from_bytes(logical_name: bytes) -> str:
    """The 6-byte logical name -> 'a.b.c.d.e.f'; ``InvalidObisError`` unless exactly 6 bytes."""
    if len(logical_name) != 6:
        raise InvalidObisError(f"a logical name has 6 bytes, got {len(logical_name)}")
    return ".".join(str(b) for b in logical_name)


def check_obis(obis: str) -> str:
    """Return ``obis`` if it is a well-formed "a.b.c.d.e.f" code, else raise ``InvalidObisError``."""
    obis_to_bytes(obis)
    return obis
