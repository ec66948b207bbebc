"""Model values <-> A-XDR Data for the simulator's COSEM server (IEC 62056-6-2 clause 4.1.5).

The virtual meter speaks ``openprepaid.meters.values`` (``Unsigned32``, ``Enumerated``, its own
``BitString``, aware ``datetime`` for date-times ...); the codec speaks ``openprepaid.cosem.axdr``
(``DoubleLongUnsigned``, ``Enum``, a ``BitString`` of '0'/'1' ...). This module translates both ways:

* ``encode_value(value)``: a GET result or ACTION return value to encoded Data. A date-time
  becomes the 12-octet octet-string IS 15959 uses for clock values (IEC 62056-6-2 4.1.6.1:
  local date and time, deviation = UTC - local in minutes). Arrays of flat rows (every load
  profile) take ``encode_as`` with a type description built from the first row, so the codec
  packs the whole buffer with ``struct`` instead of walking every value.
* ``decode_value(data, date_times=...)``: SET values and ACTION parameters to model values; with
  ``date_times`` a 12-octet octet-string holding a fully specified date-time (or a date-time
  tagged 25) becomes an aware ``datetime``, as the clock and the limiter's emergency profile need.

Values the model cannot produce or the codec cannot carry raise ``ValueConversionError``.
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from typing import Any, Final

from openprepaid.cosem import axdr
from openprepaid.cosem.axdr_types import ArrayOf, DataTag, StructureOf, TypeSpec
from openprepaid.cosem.date_time import DATE_TIME_LENGTH, CosemDateTime
from openprepaid.cosem.errors import CosemError, DecodeError, EncodeError
from openprepaid.meters import values as mv
from openprepaid.simulator.errors import SimulatorError

_ROWS_FAST_MIN: Final = 4
_MINUTE: Final = timedelta(minutes=1)
_DATE_TIME_OCTETS: Final = struct.Struct(">HBBBBBBBhB")  # IEC 62056-6-2 4.1.6.1 date-time

_TO_COSEM: Final[dict[type, type[axdr.TypedInt]]] = {
    mv.Unsigned8: axdr.Unsigned,
    mv.Unsigned16: axdr.LongUnsigned,
    mv.Unsigned32: axdr.DoubleLongUnsigned,
    mv.Unsigned64: axdr.Long64Unsigned,
    mv.Integer8: axdr.Integer,
    mv.Integer16: axdr.Long,
    mv.Integer32: axdr.DoubleLong,
    mv.Integer64: axdr.Long64,
    mv.Enumerated: axdr.Enum,
}
_TO_MODEL: Final[dict[type, type[int]]] = {cosem: model for model, cosem in _TO_COSEM.items()}
_TO_MODEL[axdr.Bcd] = mv.Unsigned8
_LEAF_TAGS: Final[dict[type, DataTag]] = {model: cosem.TAG for model, cosem in _TO_COSEM.items()}
_LEAF_TAGS[bytes] = DataTag.OCTET_STRING
_LEAF_TAGS[str] = DataTag.VISIBLE_STRING


class ValueConversionError(SimulatorError):
    """A value that has no A-XDR form here (encoding) or no model form (decoding)."""


def date_time_octets(moment: datetime) -> bytes:
    """An aware datetime as the 12 octets of a COSEM date-time (clock status OK)."""
    try:
        return CosemDateTime.from_datetime(moment).to_bytes()
    except EncodeError as exc:
        raise ValueConversionError(f"{moment!r} is not a COSEM date-time: {exc}") from exc


def _column_octets(moment: datetime) -> bytes:
    """``date_time_octets`` for a profile's time column: the model's fixed offsets (no daylight
    saving, whole seconds) packed directly, ten times faster than building a ``CosemDateTime``."""
    offset = moment.utcoffset()
    if offset is None or moment.dst() or offset % _MINUTE:
        return date_time_octets(moment)
    return _DATE_TIME_OCTETS.pack(
        moment.year,
        moment.month,
        moment.day,
        moment.isoweekday(),
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 10_000,
        -offset // _MINUTE,
        0,
    )


def _bits(value: mv.BitString) -> axdr.BitString:
    return axdr.BitString(format(value.value, f"0{value.length}b") if value.length else "")


def to_cosem(value: object) -> Any:
    """A model value as the typed value ``axdr.encode_data`` takes."""
    kind = type(value)
    typed = _TO_COSEM.get(kind)
    if typed is not None:
        return typed(value)  # type: ignore[arg-type]
    if value is None or kind is bool or kind is bytes or kind is str:
        return value
    if kind is tuple:
        return tuple(map(to_cosem, value))  # type: ignore[call-overload]
    if kind is list:
        return list(map(to_cosem, value))  # type: ignore[call-overload]
    if isinstance(value, datetime):
        return date_time_octets(value)
    if kind is mv.BitString:
        return _bits(value)  # type: ignore[arg-type]
    raise ValueConversionError(f"the model produced {kind.__name__} {value!r}, which has no A-XDR type here")


def encode_value(value: object) -> bytes:
    """Encoded Data of a model value (see the module docstring)."""
    if type(value) is list and len(value) >= _ROWS_FAST_MIN and type(value[0]) is tuple:
        packed = _encode_rows(value)
        if packed is not None:
            return packed
    try:
        return axdr.encode_data(to_cosem(value))
    except EncodeError as exc:
        raise ValueConversionError(f"cannot encode {value!r}: {exc}") from exc


def _encode_rows(rows: list[Any]) -> bytes | None:
    """A profile buffer: one type description for every row, date-time columns turned to octets first."""
    fields: list[TypeSpec] = []
    date_columns: list[int] = []
    for column, item in enumerate(rows[0]):
        tag = _LEAF_TAGS.get(type(item))
        if tag is None:
            if not isinstance(item, datetime):
                return None  # nested or unusual column: the generic path
            tag = DataTag.OCTET_STRING
            date_columns.append(column)
        fields.append(tag)
    if date_columns:
        rows = [_with_octets(row, date_columns) for row in rows]
    try:
        return axdr.encode_as(ArrayOf(StructureOf(tuple(fields))), rows)
    except (EncodeError, ValueConversionError, TypeError):
        return None


def _with_octets(row: tuple[Any, ...], date_columns: list[int]) -> tuple[Any, ...]:
    items = list(row)
    for column in date_columns:
        moment = items[column]
        if not isinstance(moment, datetime):
            raise ValueConversionError("a date-time column holds something else")
        key = (moment, moment.tzinfo)  # equal instants in other zones have other local fields
        octets = _OCTETS.get(key)
        if octets is None:
            if len(_OCTETS) >= _OCTETS_LIMIT:
                _OCTETS.clear()
            octets = _OCTETS[key] = _column_octets(moment)
        items[column] = octets
    return tuple(items)


# Profile time columns repeat from meter to meter (the same interval stamps): memoised, bounded.
_OCTETS: dict[tuple[datetime, Any], bytes] = {}
_OCTETS_LIMIT: Final = 8_192


def decode_value(data: bytes, *, date_times: bool = False) -> object:
    """A SET value or ACTION parameter (encoded Data) as a model value."""
    try:
        value = axdr.decode_data(data, typed=True)
    except DecodeError as exc:
        raise ValueConversionError(f"undecodable Data: {exc}") from exc
    return to_model(value, date_times=date_times)


def to_model(value: object, *, date_times: bool = False) -> object:  # noqa: PLR0911 - one exit per kind
    """A typed decoded value (``decode_data(..., typed=True)``) as a model value."""
    kind = type(value)
    marker = _TO_MODEL.get(kind)
    if marker is not None:
        return marker(value)  # type: ignore[call-overload]
    if kind is tuple or kind is list:
        items = [to_model(item, date_times=date_times) for item in value]  # type: ignore[attr-defined]
        return tuple(items) if kind is tuple else items
    if kind is bytes and date_times and len(value) == DATE_TIME_LENGTH:  # type: ignore[arg-type]
        return _maybe_datetime(value)  # type: ignore[arg-type]
    if isinstance(value, CosemDateTime):
        return _as_datetime(value)
    if kind is axdr.BitString:
        bits = str(value)
        return mv.BitString(int(bits, 2) if bits else 0, len(bits))
    if kind is axdr.Utf8String:
        return str(value)
    if value is None or kind in (bool, bytes, str):
        return value
    raise ValueConversionError(f"{kind.__name__} {value!r} has no meaning for this meter")


def _maybe_datetime(octets: bytes) -> object:
    try:
        stamp = CosemDateTime.from_bytes(octets)
    except DecodeError:
        return octets
    return _as_datetime(stamp) if stamp.is_fully_specified else octets


def _as_datetime(stamp: CosemDateTime) -> datetime:
    try:
        return stamp.to_datetime()
    except CosemError as exc:
        raise ValueConversionError(f"date-time {stamp} is not a usable instant: {exc}") from exc
