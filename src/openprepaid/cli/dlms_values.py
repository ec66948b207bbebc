"""Typed values on the command line (``enum:1``, ``long-unsigned:230``, ``octet-string:0A0B``, ``date-time:ISO``)
and decoded COSEM values as JSON (octet-strings as hex, 12-octet clock values as ISO date-times)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from openprepaid.cosem.axdr_types import (
    BitString,
    DoubleLong,
    DoubleLongUnsigned,
    Enum,
    Integer,
    Long,
    Long64,
    Long64Unsigned,
    LongUnsigned,
    Unsigned,
    Utf8String,
)
from openprepaid.cosem.date_time import CosemDate, CosemDateTime, CosemTime
from openprepaid.cosem.errors import CosemError, DecodeError


class ValueSyntaxError(ValueError):
    """A ``TYPE:VALUE`` argument that does not parse."""


def _date_time(text: str) -> bytes:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueSyntaxError(f"date-time {text!r} needs a UTC offset, e.g. 2026-11-24T10:00:00+05:30")
    return CosemDateTime.from_datetime(moment).to_bytes()


_PARSERS: dict[str, Callable[[str], Any]] = {
    "null": lambda text: None,
    "boolean": lambda text: {"true": True, "1": True, "false": False, "0": False}[text.lower()],
    "integer": lambda text: Integer(int(text)),
    "long": lambda text: Long(int(text)),
    "double-long": lambda text: DoubleLong(int(text)),
    "long64": lambda text: Long64(int(text)),
    "unsigned": lambda text: Unsigned(int(text)),
    "long-unsigned": lambda text: LongUnsigned(int(text)),
    "double-long-unsigned": lambda text: DoubleLongUnsigned(int(text)),
    "long64-unsigned": lambda text: Long64Unsigned(int(text)),
    "enum": lambda text: Enum(int(text)),
    "octet-string": bytes.fromhex,
    "visible-string": str,
    "utf8-string": Utf8String,
    "date-time": _date_time,
}
VALUE_TYPES = tuple(_PARSERS)


def parse_typed_value(text: str) -> Any:
    kind, separator, value = text.partition(":")
    if not separator and kind != "null":
        raise ValueSyntaxError(f"{text!r}: write TYPE:VALUE, TYPE one of {', '.join(VALUE_TYPES)}")
    parser = _PARSERS.get(kind)
    if parser is None:
        raise ValueSyntaxError(f"unknown type {kind!r}; use one of {', '.join(VALUE_TYPES)}")
    try:
        return parser(value)
    except (ValueError, KeyError, CosemError) as exc:
        raise ValueSyntaxError(f"{text!r} is not a valid {kind}: {exc}") from exc


def to_json(value: Any) -> Any:  # noqa: PLR0911 - one exit per kind of value
    """A decoded A-XDR value as JSON-friendly data."""
    if isinstance(value, bytes):
        if len(value) == 12:
            try:
                stamp = CosemDateTime.from_bytes(value)
            except DecodeError:
                return value.hex()
            return stamp.to_datetime().isoformat() if stamp.is_fully_specified else value.hex()
        return value.hex()
    if isinstance(value, CosemDateTime):
        return value.to_datetime().isoformat() if value.is_fully_specified else value.to_bytes().hex()
    if isinstance(value, CosemDate | CosemTime):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, BitString):
        return str(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return repr(value)
