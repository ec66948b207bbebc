"""A-XDR Data type tags and the small typed wrappers that make an encoding unambiguous.

IEC 62056-6-2 clause 4.1.5 / Green Book 9.5 ``Data ::= CHOICE``. See ``openprepaid.cosem.axdr`` for
how values map to tags. The integer wrappers are ``int`` subclasses (so they compute like ints) whose
class names the A-XDR type; construction checks the range and raises ``EncodeError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Final, Self, SupportsIndex, TypeAlias

from openprepaid.cosem.errors import EncodeError


class DataTag(IntEnum):
    """The Data CHOICE tags (IEC 62056-6-2 Table 2)."""

    NULL_DATA = 0
    ARRAY = 1
    STRUCTURE = 2
    BOOLEAN = 3
    BIT_STRING = 4
    DOUBLE_LONG = 5
    DOUBLE_LONG_UNSIGNED = 6
    OCTET_STRING = 9
    VISIBLE_STRING = 10
    UTF8_STRING = 12
    BCD = 13
    INTEGER = 15
    LONG = 16
    UNSIGNED = 17
    LONG_UNSIGNED = 18
    COMPACT_ARRAY = 19
    LONG64 = 20
    LONG64_UNSIGNED = 21
    ENUM = 22
    FLOAT32 = 23
    FLOAT64 = 24
    DATE_TIME = 25
    DATE = 26
    TIME = 27
    DONT_CARE = 255


class TypedInt(int):
    """Base of the integer wrappers; ``TAG``, ``MIN`` and ``MAX`` are set per A-XDR type."""

    __slots__ = ()
    TAG: ClassVar[DataTag]
    MIN: ClassVar[int]
    MAX: ClassVar[int]

    def __new__(cls, value: SupportsIndex = 0) -> Self:
        number = int.__new__(cls, value)
        if not cls.MIN <= number <= cls.MAX:
            raise EncodeError(f"{cls.__name__} must be within {cls.MIN}..{cls.MAX}, got {int(number)}")
        return number

    def __repr__(self) -> str:
        return f"{type(self).__name__}({int(self)})"


class Integer(TypedInt):
    """integer: signed 8 bits."""

    __slots__ = ()
    TAG = DataTag.INTEGER
    MIN, MAX = -(2**7), 2**7 - 1


class Long(TypedInt):
    """long: signed 16 bits."""

    __slots__ = ()
    TAG = DataTag.LONG
    MIN, MAX = -(2**15), 2**15 - 1


class DoubleLong(TypedInt):
    """double-long: signed 32 bits."""

    __slots__ = ()
    TAG = DataTag.DOUBLE_LONG
    MIN, MAX = -(2**31), 2**31 - 1


class Long64(TypedInt):
    """long64: signed 64 bits."""

    __slots__ = ()
    TAG = DataTag.LONG64
    MIN, MAX = -(2**63), 2**63 - 1


class Unsigned(TypedInt):
    """unsigned: 8 bits."""

    __slots__ = ()
    TAG = DataTag.UNSIGNED
    MIN, MAX = 0, 2**8 - 1


class LongUnsigned(TypedInt):
    """long-unsigned: 16 bits."""

    __slots__ = ()
    TAG = DataTag.LONG_UNSIGNED
    MIN, MAX = 0, 2**16 - 1


class DoubleLongUnsigned(TypedInt):
    """double-long-unsigned: 32 bits."""

    __slots__ = ()
    TAG = DataTag.DOUBLE_LONG_UNSIGNED
    MIN, MAX = 0, 2**32 - 1


class Long64Unsigned(TypedInt):
    """long64-unsigned: 64 bits."""

    __slots__ = ()
    TAG = DataTag.LONG64_UNSIGNED
    MIN, MAX = 0, 2**64 - 1


class Enum(TypedInt):
    """enum: an unsigned 8-bit enumeration value (its meaning belongs to the attribute)."""

    __slots__ = ()
    TAG = DataTag.ENUM
    MIN, MAX = 0, 2**8 - 1


class Bcd(TypedInt):
    """bcd: one octet holding two BCD digits, carried as its raw value 0..255."""

    __slots__ = ()
    TAG = DataTag.BCD
    MIN, MAX = 0, 2**8 - 1


class Float32(float):
    """float32: IEEE 754 single precision (a plain ``float`` is not encodable: its width is ambiguous)."""

    __slots__ = ()
    TAG: ClassVar[DataTag] = DataTag.FLOAT32

    def __repr__(self) -> str:
        return f"Float32({float(self)!r})"


class Float64(float):
    """float64: IEEE 754 double precision."""

    __slots__ = ()
    TAG: ClassVar[DataTag] = DataTag.FLOAT64

    def __repr__(self) -> str:
        return f"Float64({float(self)!r})"


class Utf8String(str):
    """utf8-string (a plain ``str`` encodes as visible-string)."""

    __slots__ = ()
    TAG: ClassVar[DataTag] = DataTag.UTF8_STRING

    def __repr__(self) -> str:
        return f"Utf8String({str(self)!r})"


class BitString(str):
    """bit-string as its bits, first bit = most significant bit of the first octet: ``BitString("1010")``."""

    __slots__ = ()
    TAG: ClassVar[DataTag] = DataTag.BIT_STRING

    def __new__(cls, bits: str = "") -> BitString:
        if bits.strip("01"):
            raise EncodeError(f"a BitString holds only '0' and '1', got {bits!r}")
        return str.__new__(cls, bits)

    @classmethod
    def from_octets(cls, octets: bytes, bit_count: int) -> BitString:
        if not octets:
            return str.__new__(cls, "")
        text = format(int.from_bytes(octets, "big"), f"0{len(octets) * 8}b")
        return str.__new__(cls, text[:bit_count])

    def to_octets(self) -> bytes:
        count = (len(self) + 7) // 8
        if not count:
            return b""
        return int(self.ljust(count * 8, "0"), 2).to_bytes(count, "big")

    def __repr__(self) -> str:
        return f"BitString({str(self)!r})"


class DontCare:
    """dont-care (tag 255): the single value ``DONT_CARE``."""

    __slots__ = ()
    _instance: ClassVar[DontCare | None] = None

    def __new__(cls) -> DontCare:
        if cls._instance is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DONT_CARE"

    def __reduce__(self) -> str:
        return "DONT_CARE"


DONT_CARE: Final = DontCare()


@dataclass(frozen=True, slots=True)
class ArrayOf:
    """Type description of an array; ``count`` is required inside a compact-array description."""

    element: TypeSpec
    count: int | None = None


@dataclass(frozen=True, slots=True)
class StructureOf:
    """Type description of a structure: one type per element."""

    fields: tuple[TypeSpec, ...]


TypeSpec: TypeAlias = DataTag | ArrayOf | StructureOf


@dataclass(frozen=True, slots=True)
class CompactArray:
    """compact-array: a type description and its elements (as native values, see ``axdr``)."""

    description: TypeSpec
    elements: list[Any]


INT_TYPES: Final[dict[DataTag, type[TypedInt]]] = {
    kind.TAG: kind
    for kind in (
        Integer,
        Long,
        DoubleLong,
        Long64,
        Unsigned,
        LongUnsigned,
        DoubleLongUnsigned,
        Long64Unsigned,
        Enum,
        Bcd,
    )
}
