"""Fixed row layouts: the fast path for homogeneous A-XDR arrays (IEC 62056-6-2 clause 4.1.5 Data).

A load-profile buffer is an array of structures whose rows all have the same shape: the same tags,
fixed-size numbers and octet-strings of the same length (the clock column). Such a row is one
``struct.Struct`` with pad bytes where the tags and lengths sit; the whole array is then unpacked by
``iter_unpack`` (or packed by ``starmap``) in C, and the constant tag/length bytes of all rows are
checked (or written) with one step-slice per position. Any row that differs (another tag, a null in
place of a number, a longer string) makes the fast path decline, and the generic coder takes over, so
the result is always the same as element-by-element coding.
"""

from __future__ import annotations

import struct
from itertools import starmap
from operator import itemgetter
from typing import Any, Final

from openprepaid.cosem.errors import EncodeError

# Fixed-size Data types: tag -> (struct code, size). Booleans only decode on the fast path ('?' maps
# any non-zero octet to True, as A-XDR decoding does); encoding them goes the checked generic way.
FIXED_DECODE: Final[dict[int, tuple[str, int]]] = {
    3: ("?", 1),
    5: ("i", 4),
    6: ("I", 4),
    13: ("B", 1),
    15: ("b", 1),
    16: ("h", 2),
    17: ("B", 1),
    18: ("H", 2),
    20: ("q", 8),
    21: ("Q", 8),
    22: ("B", 1),
    23: ("f", 4),
    24: ("d", 8),
}
FIXED_ENCODE: Final[dict[int, tuple[str, int]]] = {tag: spec for tag, spec in FIXED_DECODE.items() if tag != 3}
OCTET_STRING: Final = 9
STRUCTURE: Final = 2
MAX_ROW_FIELDS: Final = 127  # a one-octet structure count keeps the row header constant
_CACHE_LIMIT: Final = 512

# A field of a row: (tag, octet-string length or -1).
Field = tuple[int, int]


class RowLayout:
    """One row shape: its struct (values only), size, constant octets and octet-string columns."""

    __slots__ = ("consts", "octet_columns", "row", "scalar", "size", "tags")

    def __init__(self, fields: tuple[Field, ...], scalar: bool) -> None:
        fmt = [">"]
        consts: list[tuple[int, int]] = []
        octet_columns: list[tuple[int, int]] = []
        offset = 0
        if not scalar:
            consts += [(0, STRUCTURE), (1, len(fields))]
            fmt.append("2x")
            offset = 2
        for column, (tag, length) in enumerate(fields):
            consts.append((offset, tag))
            if tag == OCTET_STRING:
                consts.append((offset + 1, length))
                fmt.append(f"2x{length}s")
                octet_columns.append((column, length))
                offset += 2 + length
            else:
                code, size = FIXED_DECODE[tag]
                fmt.append("x" + code)
                offset += 1 + size
        self.row = struct.Struct("".join(fmt))
        self.size = offset
        self.consts = tuple(consts)
        self.octet_columns = tuple(octet_columns)
        self.scalar = scalar
        self.tags = tuple(tag for tag, _length in fields)

    def decode(self, buf: bytes, pos: int, count: int, end: int) -> list[Any] | None:
        """``count`` rows at ``pos`` (before ``end``), or None if the bytes there do not all have this shape."""
        if not self.matches(buf, pos, count, end):
            return None
        rows = list(self.row.iter_unpack(memoryview(buf)[pos : pos + count * self.size]))
        if self.scalar:
            return list(map(itemgetter(0), rows))
        return rows

    def matches(self, buf: bytes, pos: int, count: int, end: int) -> bool:
        """Whether ``count`` rows of this shape lie at ``pos`` (framing only, nothing is unpacked)."""
        size = self.size
        stop = pos + count * size
        if stop > end:
            return False
        return all(buf[pos + offset : stop : size] == bytes((value,)) * count for offset, value in self.consts)

    def encode(self, rows: list[Any] | tuple[Any, ...]) -> bytearray:
        """The rows (tuples of plain values, or plain values for a scalar layout) packed with their tags."""
        count = len(rows)
        for column, length in self.octet_columns:
            cells = rows if self.scalar else map(itemgetter(column), rows)
            if set(map(len, cells)) != {length}:
                raise EncodeError(f"octet-string column {column} does not hold {length}-octet values in every row")
        try:
            pack = self.row.pack
            packed = b"".join(map(pack, rows)) if self.scalar else b"".join(starmap(pack, rows))
        except struct.error as exc:
            raise EncodeError(f"row does not fit its layout: {exc}") from None
        out = bytearray(packed)
        size = self.size
        for offset, value in self.consts:
            out[offset::size] = bytes((value,)) * count
        return out


_LAYOUTS: dict[tuple[tuple[Field, ...], bool], RowLayout] = {}


def layout_for(fields: tuple[Field, ...], scalar: bool) -> RowLayout:
    key = (fields, scalar)
    layout = _LAYOUTS.get(key)
    if layout is None:
        if len(_LAYOUTS) >= _CACHE_LIMIT:
            _LAYOUTS.clear()
        layout = _LAYOUTS[key] = RowLayout(fields, scalar)
    return layout


def layout_at(buf: bytes, pos: int, end: int) -> RowLayout | None:  # noqa: PLR0911 - each way out is a shape
    """The layout of the Data element at ``pos`` if it is a fixed-shape row, else None."""
    tag = buf[pos]
    if tag in FIXED_DECODE:
        return layout_for(((tag, -1),), True)
    if tag == OCTET_STRING:
        if pos + 1 < end and buf[pos + 1] < 0x80:
            return layout_for(((OCTET_STRING, buf[pos + 1]),), True)
        return None
    if tag != STRUCTURE or pos + 1 >= end:
        return None
    count = buf[pos + 1]
    if count == 0 or count > MAX_ROW_FIELDS:
        return None
    fields: list[Field] = []
    p = pos + 2
    for _ in range(count):
        if p >= end:
            return None
        field_tag = buf[p]
        fixed = FIXED_DECODE.get(field_tag)
        if fixed is not None:
            fields.append((field_tag, -1))
            p += 1 + fixed[1]
        elif field_tag == OCTET_STRING and p + 1 < end and buf[p + 1] < 0x80:
            length = buf[p + 1]
            fields.append((OCTET_STRING, length))
            p += 2 + length
        else:
            return None
    return layout_for(tuple(fields), False)
