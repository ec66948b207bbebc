"""A-XDR Data encoding (IEC 62056-6-2 clause 4.1.5, Green Book 9.5): Python values to bytes.

``encode_data(value)`` takes explicitly typed values (see ``openprepaid.cosem.axdr`` for the mapping):
a plain ``int`` or ``float`` is refused because its A-XDR width would be a guess. ``encode_as(spec,
value)`` takes native values and a type description (``DataTag`` / ``ArrayOf`` / ``StructureOf``),
the way a server that knows its capture objects encodes a profile buffer. Both take the fixed-row
fast path (``axdr_layout``) for homogeneous arrays. Values that do not fit raise ``EncodeError``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from openprepaid.cosem.axdr_compact import encode_type_description, encode_untagged
from openprepaid.cosem.axdr_layout import FIXED_ENCODE, OCTET_STRING, Field, layout_for
from openprepaid.cosem.axdr_length import MAX_DEPTH, length_octets
from openprepaid.cosem.axdr_types import (
    INT_TYPES,
    ArrayOf,
    BitString,
    CompactArray,
    DataTag,
    DontCare,
    Float32,
    Float64,
    StructureOf,
    TypeSpec,
    Utf8String,
)
from openprepaid.cosem.date_time import CosemDate, CosemDateTime, CosemTime
from openprepaid.cosem.errors import EncodeError

_FAST_MIN_ROWS: Final = 4  # below this the generic coder is as quick as building a layout

# exact type -> encoder of (tag + value) for the fixed-size typed scalars
_SCALARS: dict[type, Callable[[Any], bytes]] = {
    kind: partial(struct.Struct(">B" + FIXED_ENCODE[kind.TAG][0]).pack, kind.TAG) for kind in INT_TYPES.values()
}
_SCALARS[Float32] = partial(struct.Struct(">Bf").pack, DataTag.FLOAT32)
_SCALARS[Float64] = partial(struct.Struct(">Bd").pack, DataTag.FLOAT64)
_TAG_OF_TYPE: Final[dict[type, int]] = {
    **{kind: kind.TAG for kind in INT_TYPES.values()},
    Float32: DataTag.FLOAT32,
    Float64: DataTag.FLOAT64,
}
_DATE_TIME_TAGS: Final[dict[type, bytes]] = {CosemDateTime: b"\x19", CosemDate: b"\x1a", CosemTime: b"\x1b"}


def encode_data(value: Any) -> bytes:
    """The A-XDR encoding of one explicitly typed Data value."""
    out = bytearray()
    _encode(value, out, 0)
    return bytes(out)


def _encode(value: Any, out: bytearray, depth: int) -> None:  # noqa: PLR0912 - one branch per Data type
    kind = type(value)
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        try:
            out += scalar(value)
        except (struct.error, OverflowError) as exc:
            raise EncodeError(f"{value!r} does not fit its type: {exc}") from None
    elif kind is bytes or kind is bytearray:
        out.append(9)
        out += length_octets(len(value))
        out += value
    elif kind is list or kind is tuple:
        _encode_sequence(value, out, depth)
    elif kind is str:
        out.append(10)
        encode_untagged(DataTag.VISIBLE_STRING, value, out)
    elif value is None:
        out.append(0)
    elif kind is bool:
        out += b"\x03\x01" if value else b"\x03\x00"
    elif kind in _DATE_TIME_TAGS:
        out += _DATE_TIME_TAGS[kind]
        out += value.to_bytes()
    elif kind is Utf8String:
        out.append(12)
        encode_untagged(DataTag.UTF8_STRING, value, out)
    elif kind is BitString:
        out.append(4)
        encode_untagged(DataTag.BIT_STRING, value, out)
    elif kind is CompactArray:
        out.append(19)
        encode_type_description(value.description, out)
        contents = bytearray()
        for element in value.elements:
            encode_untagged(value.description, element, contents)
        out += length_octets(len(contents))
        out += contents
    elif kind is DontCare:
        out.append(255)
    else:
        raise EncodeError(
            f"cannot encode {kind.__name__} {value!r} as A-XDR Data: wrap ints (Unsigned, LongUnsigned, ...) "
            "and floats (Float32, Float64) in the type they have on the wire"
        )


def _encode_sequence(value: list[Any] | tuple[Any, ...], out: bytearray, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise EncodeError(f"Data nested deeper than {MAX_DEPTH}")
    is_array = type(value) is list
    out.append(1 if is_array else 2)
    out += length_octets(len(value))
    if type(value) is list and len(value) >= _FAST_MIN_ROWS:
        packed = _typed_rows(value)
        if packed is not None:
            out += packed
            return
    depth += 1
    for item in value:
        _encode(item, out, depth)


def _typed_rows(rows: list[Any]) -> bytearray | None:  # noqa: PLR0911 - each way out is a shape
    """Homogeneous rows of typed scalars / octet-strings packed in one go, or None."""
    first = rows[0]
    if type(first) is tuple:
        signature = tuple(map(type, first))
        if set(map(type, rows)) != {tuple} or set(map(tuple, map(partial(map, type), rows))) != {signature}:
            return None
        fields: list[Field] = []
        for column, kind in enumerate(signature):
            if kind is bytes:
                fields.append((OCTET_STRING, len(first[column])))
            elif kind in _TAG_OF_TYPE:
                fields.append((_TAG_OF_TYPE[kind], -1))
            else:
                return None
        if not fields or len(fields) > 127 or any(length >= 0x80 for _tag, length in fields):
            return None
        try:
            return layout_for(tuple(fields), False).encode(rows)
        except EncodeError:
            return None  # e.g. octet-strings of several lengths: the generic coder handles them
    kind = type(first)
    if kind in _TAG_OF_TYPE and set(map(type, rows)) == {kind}:
        return layout_for(((_TAG_OF_TYPE[kind], -1),), True).encode(rows)
    return None


def encode_as(spec: TypeSpec, value: Any) -> bytes:
    """``value`` given as native values (ints, floats, bytes, str, lists, tuples) encoded as ``spec``."""
    out = bytearray()
    _encode_as(spec, value, out, 0)
    return bytes(out)


def _encode_as(spec: TypeSpec, value: Any, out: bytearray, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise EncodeError(f"type description nested deeper than {MAX_DEPTH}")
    if isinstance(spec, ArrayOf):
        _encode_array_as(spec, value, out, depth)
    elif isinstance(spec, StructureOf):
        if not isinstance(value, list | tuple) or len(value) != len(spec.fields):
            raise EncodeError(f"a structure of {len(spec.fields)} elements needs as many values, got {value!r}")
        out.append(2)
        out += length_octets(len(value))
        for field, item in zip(spec.fields, value, strict=True):
            _encode_as(field, item, out, depth + 1)
    elif spec == DataTag.NULL_DATA:
        if value is not None:
            raise EncodeError(f"null-data needs None, got {value!r}")
        out.append(0)
    elif spec == DataTag.DONT_CARE:
        out.append(255)
    elif spec == DataTag.COMPACT_ARRAY:
        if not isinstance(value, CompactArray):
            raise EncodeError(f"compact-array needs a CompactArray, got {type(value).__name__}")
        _encode(value, out, depth)
    else:
        out.append(spec)
        encode_untagged(spec, value, out)


def _encode_array_as(spec: ArrayOf, value: Any, out: bytearray, depth: int) -> None:
    if not isinstance(value, list | tuple):
        raise EncodeError(f"an array needs a list, got {type(value).__name__}")
    if spec.count is not None and len(value) != spec.count:
        raise EncodeError(f"the array needs {spec.count} elements, got {len(value)}")
    out.append(1)
    out += length_octets(len(value))
    if len(value) >= _FAST_MIN_ROWS:
        packed = _spec_rows(spec.element, value)
        if packed is not None:
            out += packed
            return
    for item in value:
        _encode_as(spec.element, item, out, depth + 1)


def _spec_rows(element: TypeSpec, rows: list[Any] | tuple[Any, ...]) -> bytearray | None:
    """Rows of natives packed by a layout built from the element type, or None if it has no fixed shape."""
    first = rows[0]
    if isinstance(element, StructureOf):
        if not isinstance(first, tuple | list) or len(first) != len(element.fields) or not element.fields:
            return None
        fields: list[Field] = []
        for column, field in enumerate(element.fields):
            if field == OCTET_STRING and isinstance(first[column], bytes) and len(first[column]) < 0x80:
                fields.append((OCTET_STRING, len(first[column])))
            elif type(field) is DataTag and field in FIXED_ENCODE:
                fields.append((field, -1))
            else:
                return None
        if len(fields) > 127:
            return None
        layout = layout_for(tuple(fields), False)
        if type(first) is not tuple:
            rows = [tuple(row) for row in rows]
    elif type(element) is DataTag and element in FIXED_ENCODE:
        layout = layout_for(((element, -1),), True)
    else:
        return None
    try:
        return layout.encode(rows)
    except EncodeError:
        return None  # the generic coder gives the precise error, or copes with strings of several lengths
