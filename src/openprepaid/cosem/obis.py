"""OBIS codes: the six-group object identifiers of IEC 62056-6-1 (OBIS) used as COSEM logical names.

``OBIS`` is an immutable ``bytes`` subclass of exactly six octets, so it hashes and compares at C
speed, is its own encoding in a Cosem-Attribute-Descriptor (IEC 62056-5-3, instance-id), and indexing
gives the value groups A..F as ints. Text forms accepted by ``OBIS.parse``:

- dotted, all six groups: ``"1.0.1.8.0.255"``;
- IEC 62056-6-1 reduced ID: ``"1-0:1.8.0*255"``, ``"1-0:1.8.0&255"``, ``"1-0:1.8.0.255"`` and
  ``"1-0:1.8.0"`` (group F omitted means 255).

``str(obis)`` is the dotted form. Bad input (wrong group count, a group outside 0..255, not six
bytes) raises ``DecodeError``.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Final, SupportsIndex

from openprepaid.cosem.errors import DecodeError

OBIS_LENGTH: Final = 6

_REDUCED = re.compile(
    r"^\s*(\d{1,3})-(\d{1,3}):(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:[*&.](\d{1,3}))?\s*$",
)
_DOTTED = re.compile(r"^\s*(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\s*$")


class OBIS(bytes):
    """A COSEM logical name: six value groups A-F, each 0..255."""

    __slots__ = ()

    def __new__(  # noqa: PLR0917 - the six value groups A..F are the natural positional form
        cls,
        a: SupportsIndex,
        b: SupportsIndex,
        c: SupportsIndex,
        d: SupportsIndex,
        e: SupportsIndex,
        f: SupportsIndex = 255,
    ) -> OBIS:
        try:
            return super().__new__(cls, (a, b, c, d, e, f))
        except (ValueError, TypeError) as exc:
            raise DecodeError(f"OBIS value groups must be ints 0..255, got {(a, b, c, d, e, f)!r}") from exc

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> OBIS:
        """The OBIS code carried in six octets (a Cosem-Object-Instance-Id)."""
        if len(data) != OBIS_LENGTH:
            raise DecodeError(f"an OBIS code is {OBIS_LENGTH} octets, got {len(data)}")
        return bytes.__new__(cls, data)

    @classmethod
    def parse(cls, text: str) -> OBIS:
        """Parse the dotted or the IEC 62056-6-1 reduced text form."""
        if not isinstance(text, str):
            raise DecodeError(f"an OBIS text form must be a str, got {type(text).__name__}")
        match = _DOTTED.match(text) or _REDUCED.match(text)
        if match is None:
            raise DecodeError(f"not an OBIS code: {text!r}")
        groups = [255 if group is None else int(group) for group in match.groups()]
        if max(groups) > 255:
            raise DecodeError(f"OBIS value group above 255 in {text!r}")
        return bytes.__new__(cls, groups)

    @classmethod
    def coerce(cls, value: OBIS | str | bytes) -> OBIS:
        """Accept an OBIS, its text form or its six octets."""
        if type(value) is cls:
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, bytes | bytearray | memoryview):
            return cls.from_bytes(value)
        raise DecodeError(f"cannot make an OBIS code from {type(value).__name__}")

    a = property(itemgetter(0), doc="Value group A: the energy medium (1 = electricity).")
    b = property(itemgetter(1), doc="Value group B: the channel.")
    c = property(itemgetter(2), doc="Value group C: the physical quantity.")
    d = property(itemgetter(3), doc="Value group D: the processing (e.g. 8 = time integral).")
    e = property(itemgetter(4), doc="Value group E: further classification (e.g. tariff).")
    f = property(itemgetter(5), doc="Value group F: historical value / billing period (255 = none).")

    def to_bytes(self) -> bytes:
        return bytes(self)

    def reduced(self) -> str:
        """The IEC 62056-6-1 reduced form, ``A-B:C.D.E*F``."""
        return f"{self[0]}-{self[1]}:{self[2]}.{self[3]}.{self[4]}*{self[5]}"

    def __str__(self) -> str:
        return "%d.%d.%d.%d.%d.%d" % tuple(self)  # noqa: UP031 - fastest way to format six ints

    def __repr__(self) -> str:
        return f"OBIS('{self}')"

    def __reduce__(self) -> tuple[type[OBIS], tuple[int, ...]]:
        return (OBIS, tuple(self))


def obis_unchecked(data: bytes) -> OBIS:
    """Wrap six octets the caller has already length-checked (decoder hot path)."""
    return bytes.__new__(OBIS, data)
