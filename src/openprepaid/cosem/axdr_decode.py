"""A-XDR Data decoding (IEC 62056-6-2 clause 4.1.5, Green Book 9.5): bytes to Python values.

Two outputs, one walker: *native* values (ints, floats, bytes, str, list for array, tuple for
structure; the fastest, the type width is dropped) or *typed* values (``typed=True``: the wrappers of
``axdr_types`` wherever a native is ambiguous, so ``encode_data`` gives back the same octets).

Bounds: nesting deeper than ``MAX_DEPTH`` is refused; an array or structure announcing more
elements than there are remaining octets is refused before anything is allocated (each element
takes at least one octet), so the work and memory are linear in the input. Every fault is a
``DecodeError`` carrying the offset.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from openprepaid.cosem.axdr_compact import decode_compact_array
from openprepaid.cosem.axdr_layout import RowLayout, layout_at
from openprepaid.cosem.axdr_length import decode_length, element_count, tag_name
from openprepaid.cosem.axdr_types import (
    DONT_CARE,
    Bcd,
    BitString,
    DoubleLong,
    DoubleLongUnsigned,
    Enum,
    Float32,
    Float64,
    Integer,
    Long,
    Long64,
    Long64Unsigned,
    LongUnsigned,
    Unsigned,
    Utf8String,
)
from openprepaid.cosem.date_time import CosemDate, CosemDateTime, CosemTime
from openprepaid.cosem.errors import DecodeError

_Unpack = Callable[[bytes, int], tuple[Any, ...]]


def _unpacker(code: str) -> _Unpack:
    return struct.Struct(">" + code).unpack_from


# tag -> (unpack_from, size, typed wrapper)
_FIXED: Final[dict[int, tuple[_Unpack, int, type | None]]] = {
    3: (_unpacker("?"), 1, None),
    5: (_unpacker("i"), 4, DoubleLong),
    6: (_unpacker("I"), 4, DoubleLongUnsigned),
    13: (_unpacker("B"), 1, Bcd),
    15: (_unpacker("b"), 1, Integer),
    16: (_unpacker("h"), 2, Long),
    17: (_unpacker("B"), 1, Unsigned),
    18: (_unpacker("H"), 2, LongUnsigned),
    20: (_unpacker("q"), 8, Long64),
    21: (_unpacker("Q"), 8, Long64Unsigned),
    22: (_unpacker("B"), 1, Enum),
    23: (_unpacker("f"), 4, Float32),
    24: (_unpacker("d"), 8, Float64),
}
_DATE_TIMES: Final[dict[int, tuple[int, Callable[[bytes], Any]]]] = {
    25: (12, CosemDateTime.from_bytes),
    26: (5, CosemDate.from_bytes),
    27: (4, CosemTime.from_bytes),
}


def decode_data(data: bytes, *, typed: bool = False) -> Any:
    """The single Data value that ``data`` holds exactly (trailing octets are an error)."""
    if type(data) is not bytes:
        data = bytes(data)
    value, pos = _decode(data, 0, len(data), 0, typed)
    if pos != len(data):
        raise DecodeError(f"{len(data) - pos} trailing octets after the Data value", pos)
    return value


def decode_data_prefix(data: bytes, offset: int = 0, *, typed: bool = False) -> tuple[Any, int]:
    """The Data value at ``offset`` and the offset just after it."""
    if type(data) is not bytes:
        data = bytes(data)
    return _decode(data, offset, len(data), 0, typed)


def _decode(buf: bytes, pos: int, end: int, depth: int, typed: bool) -> tuple[Any, int]:  # noqa: PLR0911, PLR0912 - one branch per Data type
    if pos >= end:
        raise DecodeError("truncated: a Data tag is missing", pos)
    tag = buf[pos]
    pos += 1
    fixed = _FIXED.get(tag)
    if fixed is not None:
        unpack, size, wrap = fixed
        stop = pos + size
        if stop > end:
            raise DecodeError(f"truncated {tag_name(tag)}", pos)
        value = unpack(buf, pos)[0]
        if typed and wrap is not None:
            value = wrap(value)
        return value, stop
    if tag == 9 or tag == 10 or tag == 12:  # noqa: PLR1714 - ordered by frequency, cheaper than a set lookup
        length, pos = decode_length(buf, pos, end)
        stop = pos + length
        if stop > end:
            raise DecodeError(f"truncated {tag_name(tag)}: {length} octets announced, {end - pos} left", pos)
        raw = buf[pos:stop]
        if tag == 9:
            return raw, stop
        if tag == 10:
            return raw.decode("latin-1"), stop
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"utf8-string is not UTF-8: {exc.reason}", pos + exc.start) from None
        return (Utf8String(text) if typed else text), stop
    if tag == 1 or tag == 2:  # noqa: PLR1714
        return _decode_sequence(buf, pos, end, depth, typed=typed, tag=tag)
    if tag == 0:
        return None, pos
    if tag in _DATE_TIMES:
        size, parse = _DATE_TIMES[tag]
        stop = pos + size
        if stop > end:
            raise DecodeError(f"truncated {tag_name(tag)}", pos)
        try:
            return parse(buf[pos:stop]), stop
        except DecodeError as exc:
            raise DecodeError(str(exc), pos) from None
    if tag == 4:
        bits, pos = decode_length(buf, pos, end)
        stop = pos + (bits + 7) // 8
        if stop > end:
            raise DecodeError(f"truncated bit-string: {bits} bits announced", pos)
        return BitString.from_octets(buf[pos:stop], bits), stop
    if tag == 19:
        return decode_compact_array(buf, pos, end, depth + 1, typed)
    if tag == 255:
        return DONT_CARE, pos
    raise DecodeError(f"unknown Data tag {tag}", pos - 1)


# tag -> the typed wrapper applied without re-checking the range (struct already bounded the value)
_FAST_WRAPPERS: Final[dict[int, Callable[[Any], Any]]] = {
    tag: partial(int.__new__ if issubclass(wrap, int) else float.__new__, wrap)
    for tag, (_unpack, _size, wrap) in _FIXED.items()
    if wrap is not None
}


def _typed_rows(layout: RowLayout, rows: list[Any]) -> list[Any]:
    """Rows from the fast path with their numbers wrapped column by column (all in C)."""
    wrappers = [_FAST_WRAPPERS.get(tag) for tag in layout.tags]
    if layout.scalar:
        wrap = wrappers[0]
        return rows if wrap is None else list(map(wrap, rows))
    columns = [
        column if wrap is None else map(wrap, column)
        for wrap, column in zip(wrappers, zip(*rows, strict=True), strict=True)
    ]
    return list(zip(*columns, strict=True))


def _decode_sequence(buf: bytes, pos: int, end: int, depth: int, *, typed: bool, tag: int) -> tuple[Any, int]:
    count, pos = element_count(buf, pos, end, depth, tag)
    if tag == 1 and count:
        layout = layout_at(buf, pos, end)
        if layout is not None:
            rows = layout.decode(buf, pos, count, end)
            if rows is not None:
                return (_typed_rows(layout, rows) if typed else rows), pos + count * layout.size
    items: list[Any] = []
    append = items.append
    depth += 1
    for _ in range(count):
        value, pos = _decode(buf, pos, end, depth, typed)
        append(value)
    return (items if tag == 1 else tuple(items)), pos
