"""Between decoded A-XDR values and the head-end's plain values.

Meters refuse a written value whose A-XDR type differs from the attribute's, so a write re-uses the
type tag of the value the meter reported (``retyped``). Typed integers decode to plain ``int``.
"""

from __future__ import annotations

from typing import Any

from openprepaid.cosem.axdr import encode_data
from openprepaid.cosem.axdr_types import (
    DataTag,
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
    TypedInt,
    Unsigned,
)
from openprepaid.cosem.errors import CosemError
from openprepaid.hes.retry import UnsupportedOperationError

_INTEGER_TYPES: dict[int, type[TypedInt]] = {
    DataTag.INTEGER: Integer,
    DataTag.LONG: Long,
    DataTag.DOUBLE_LONG: DoubleLong,
    DataTag.LONG64: Long64,
    DataTag.UNSIGNED: Unsigned,
    DataTag.LONG_UNSIGNED: LongUnsigned,
    DataTag.DOUBLE_LONG_UNSIGNED: DoubleLongUnsigned,
    DataTag.LONG64_UNSIGNED: Long64Unsigned,
    DataTag.ENUM: Enum,
}


def native_value(value: Any) -> Any:
    """Typed integers and floats as plain Python numbers; anything else unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def retyped(current: bytes, value: Any) -> bytes:
    """``value`` encoded with the A-XDR type of ``current`` (the attribute's encoded value as read)."""
    if not current:
        raise UnsupportedOperationError("the attribute has no value to take its type from")
    tag = current[0]
    try:
        if tag in _INTEGER_TYPES:
            return encode_data(_INTEGER_TYPES[tag](int(value)))
        if tag == DataTag.BOOLEAN:
            return encode_data(bool(value))
        if tag == DataTag.FLOAT32:
            return encode_data(Float32(float(value)))
        if tag == DataTag.FLOAT64:
            return encode_data(Float64(float(value)))
        if tag == DataTag.OCTET_STRING and isinstance(value, bytes):
            return encode_data(value)
        if tag == DataTag.VISIBLE_STRING and isinstance(value, str):
            return encode_data(value)
    except (CosemError, ValueError, TypeError) as exc:
        raise UnsupportedOperationError(f"{value!r} does not fit the attribute's type (tag {tag}): {exc}") from exc
    raise UnsupportedOperationError(f"cannot write {type(value).__name__} to an attribute of A-XDR type {tag}")
