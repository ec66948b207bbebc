"""compact-array and type descriptions (IEC 62056-6-2 clause 4.1.5, Green Book 9.5 ``TypeDescription``).

``compact-array [19] ::= SEQUENCE { contents-description TypeDescription, array-contents OCTET STRING }``.
A TypeDescription is a Data tag; an array's is ``1, number-of-elements (Unsigned16), element type``;
a structure's is ``2, count, one type per element``. The contents hold the elements back to back, each
coded like Data but without its tag (strings keep their length).

Bounds: descriptions nest at most ``MAX_DEPTH`` deep, and must not contain null-data, dont-care,
empty structures, zero-count arrays or another compact-array: every element then takes at least one
octet, so an element count can never outgrow the contents (no amplification from a tiny input).

This module also holds the tag-less value coder that ``encode_as`` uses for scalars.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from openprepaid.cosem.axdr_layout import FIXED_DECODE
from openprepaid.cosem.axdr_length import MAX_DEPTH, decode_length, length_octets, tag_name
from openprepaid.cosem.axdr_types import (
    ArrayOf,
    BitString,
    CompactArray,
    DataTag,
    StructureOf,
    TypeSpec,
)
from openprepaid.cosem.date_time import CosemDate, CosemDateTime, CosemTime
from openprepaid.cosem.errors import DecodeError, EncodeError

_STRINGS: Final = frozenset((4, 9, 10, 12))
_DATE_TIMES: Final[dict[int, tuple[int, Callable[[bytes], Any], type]]] = {
    25: (12, CosemDateTime.from_bytes, CosemDateTime),
    26: (5, CosemDate.from_bytes, CosemDate),
    27: (4, CosemTime.from_bytes, CosemTime),
}
_UNPACKERS: Final = {tag: (struct.Struct(">" + code).unpack_from, size) for tag, (code, size) in FIXED_DECODE.items()}
_PACKERS: Final = {tag: struct.Struct(">" + code).pack for tag, (code, _size) in FIXED_DECODE.items() if tag != 3}
_ALLOWED_LEAVES: Final = frozenset(FIXED_DECODE) | _STRINGS | frozenset(_DATE_TIMES)


def decode_type_description(buf: bytes, pos: int, end: int, depth: int = 0) -> tuple[TypeSpec, int]:
    if depth > MAX_DEPTH:
        raise DecodeError(f"type description nested deeper than {MAX_DEPTH}", pos)
    if pos >= end:
        raise DecodeError("truncated type description", pos)
    tag = buf[pos]
    pos += 1
    if tag == 1:
        if pos + 2 > end:
            raise DecodeError("truncated array type description", pos)
        count = int.from_bytes(buf[pos : pos + 2], "big")
        if count == 0:
            raise DecodeError("compact-array description with a zero-element array", pos)
        element, pos = decode_type_description(buf, pos + 2, end, depth + 1)
        return ArrayOf(element, count), pos
    if tag == 2:
        count, pos = decode_length(buf, pos, end)
        if count == 0 or count > end - pos:
            raise DecodeError(f"structure type description of {count} elements", pos)
        fields = []
        for _ in range(count):
            field, pos = decode_type_description(buf, pos, end, depth + 1)
            fields.append(field)
        return StructureOf(tuple(fields)), pos
    if tag not in _ALLOWED_LEAVES:
        raise DecodeError(f"{tag_name(tag)} is not allowed in a compact-array description", pos - 1)
    return DataTag(tag), pos


def encode_type_description(spec: TypeSpec, out: bytearray) -> None:
    if isinstance(spec, ArrayOf):
        if spec.count is None or not 0 < spec.count <= 0xFFFF:
            raise EncodeError(f"a compact-array array description needs a count 1..65535, got {spec.count}")
        out.append(1)
        out += spec.count.to_bytes(2, "big")
        encode_type_description(spec.element, out)
    elif isinstance(spec, StructureOf):
        if not spec.fields:
            raise EncodeError("a compact-array structure description needs at least one element")
        out.append(2)
        out += length_octets(len(spec.fields))
        for field in spec.fields:
            encode_type_description(field, out)
    elif spec in _ALLOWED_LEAVES:
        out.append(spec)
    else:
        raise EncodeError(f"{spec!r} is not allowed in a compact-array description")


def decode_compact_array(buf: bytes, pos: int, end: int, depth: int, typed: bool) -> tuple[Any, int]:
    spec, pos = decode_type_description(buf, pos, end, depth)
    length, pos = decode_length(buf, pos, end)
    stop = pos + length
    if stop > end:
        raise DecodeError(f"truncated compact-array contents: {length} octets announced", pos)
    elements = _fast_contents(spec, buf, pos, stop)
    if elements is None:
        elements = []
        while pos < stop:
            value, pos = decode_untagged(spec, buf, pos, stop)
            elements.append(value)
    return (CompactArray(spec, elements) if typed else elements), stop


def _fast_contents(spec: TypeSpec, buf: bytes, pos: int, stop: int) -> list[Any] | None:
    if isinstance(spec, StructureOf):
        if not all(type(field) is DataTag and field in FIXED_DECODE for field in spec.fields):
            return None
        codes = [FIXED_DECODE[field] for field in spec.fields]  # type: ignore[index]
        scalar = False
    elif spec in FIXED_DECODE:
        codes = [FIXED_DECODE[spec]]
        scalar = True
    else:
        return None
    row = struct.Struct(">" + "".join(code for code, _size in codes))
    if (stop - pos) % row.size:
        raise DecodeError(f"compact-array contents of {stop - pos} octets is not a whole number of elements", pos)
    rows = list(row.iter_unpack(memoryview(buf)[pos:stop]))
    return [values[0] for values in rows] if scalar else rows


def decode_untagged(spec: TypeSpec, buf: bytes, pos: int, end: int) -> tuple[Any, int]:  # noqa: PLR0911, PLR0912 - one branch per kind
    """One element of compact-array contents, as native values."""
    if isinstance(spec, StructureOf):
        items = []
        for field in spec.fields:
            value, pos = decode_untagged(field, buf, pos, end)
            items.append(value)
        return tuple(items), pos
    if isinstance(spec, ArrayOf):
        assert spec.count is not None  # decode_type_description always sets it
        elements = []
        for _ in range(spec.count):
            value, pos = decode_untagged(spec.element, buf, pos, end)
            elements.append(value)
        return elements, pos
    fixed = _UNPACKERS.get(spec)
    if fixed is not None:
        unpack, size = fixed
        if pos + size > end:
            raise DecodeError(f"truncated {tag_name(spec)} in compact-array contents", pos)
        return unpack(buf, pos)[0], pos + size
    if spec in _DATE_TIMES:
        size, parse, _kind = _DATE_TIMES[spec]
        if pos + size > end:
            raise DecodeError(f"truncated {tag_name(spec)} in compact-array contents", pos)
        try:
            return parse(buf[pos : pos + size]), pos + size
        except DecodeError as exc:
            raise DecodeError(str(exc), pos) from None
    length, pos = decode_length(buf, pos, end)
    octets = (length + 7) // 8 if spec == 4 else length
    stop = pos + octets
    if stop > end:
        raise DecodeError(f"truncated {tag_name(spec)} in compact-array contents", pos)
    raw = buf[pos:stop]
    if spec == 9:
        return raw, stop
    if spec == 10:
        return raw.decode("latin-1"), stop
    if spec == 4:
        return BitString.from_octets(raw, length), stop
    try:
        return raw.decode("utf-8"), stop
    except UnicodeDecodeError:
        raise DecodeError("utf8-string is not UTF-8", pos) from None


def encode_untagged(spec: TypeSpec, value: Any, out: bytearray) -> None:  # noqa: PLR0912 - one branch per kind
    """``value`` (native) coded as ``spec`` without its tag; strings keep their length prefix."""
    if isinstance(spec, StructureOf):
        if not isinstance(value, tuple | list) or len(value) != len(spec.fields):
            raise EncodeError(f"a structure of {len(spec.fields)} elements needs as many values, got {value!r}")
        for field, item in zip(spec.fields, value, strict=True):
            encode_untagged(field, item, out)
    elif isinstance(spec, ArrayOf):
        if not isinstance(value, tuple | list) or (spec.count is not None and len(value) != spec.count):
            raise EncodeError(f"an array of {spec.count} elements needs as many values, got {value!r}")
        for item in value:
            encode_untagged(spec.element, item, out)
    elif spec in _PACKERS:
        if not isinstance(value, int | float):
            raise EncodeError(f"{tag_name(spec)} needs a number, got {value!r}")
        try:
            out += _PACKERS[spec](value)
        except struct.error as exc:
            raise EncodeError(f"{value!r} does not fit {tag_name(spec)}: {exc}") from None
    elif spec == 3:
        if type(value) is not bool:
            raise EncodeError(f"boolean needs a bool, got {value!r}")
        out.append(1 if value else 0)
    elif spec == 9:
        if not isinstance(value, bytes | bytearray):
            raise EncodeError(f"octet-string needs bytes, got {type(value).__name__}")
        out += length_octets(len(value))
        out += value
    elif spec == 10 or spec == 12:  # noqa: PLR1714
        if not isinstance(value, str):
            raise EncodeError(f"{tag_name(spec)} needs a str, got {type(value).__name__}")
        try:
            raw = value.encode("latin-1" if spec == 10 else "utf-8")
        except UnicodeEncodeError:
            raise EncodeError(f"visible-string holds only 8-bit characters (use Utf8String): {value!r}") from None
        out += length_octets(len(raw))
        out += raw
    elif spec == 4:
        bits = value if isinstance(value, BitString) else BitString(value)
        out += length_octets(len(bits))
        out += bits.to_octets()
    elif spec in _DATE_TIMES:
        kind = _DATE_TIMES[spec][2]
        if not isinstance(value, CosemDateTime | CosemDate | CosemTime) or not isinstance(value, kind):
            raise EncodeError(f"{tag_name(spec)} needs a {kind.__name__}, got {type(value).__name__}")
        out += value.to_bytes()
    else:
        raise EncodeError(f"cannot encode {value!r} as {spec!r}")
