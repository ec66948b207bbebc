"""Raw model values -> typed COSEM attribute values (``openprepaid.meters.values``).

Unsigned registers roll over at their type's width, as a meter's counters do; signed values are
clamped; times (local meter seconds) become aware datetimes in the meter's UTC offset.
"""

from __future__ import annotations

from collections.abc import Callable

from openprepaid.meters.event_codes import ESW_LENGTH
from openprepaid.meters.values import (
    BitString,
    Enumerated,
    Integer8,
    Integer16,
    Integer32,
    Integer64,
    Unsigned8,
    Unsigned16,
    Unsigned32,
    Unsigned64,
)
from openprepaid.simulator.clock import to_datetime

INTEGER_TYPE_BY_NAME = {
    t.TYPE_NAME: t
    for t in (Unsigned8, Unsigned16, Unsigned32, Unsigned64, Integer8, Integer16, Integer32, Integer64, Enumerated)
}


def _as_int(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise TypeError(f"expected an integer, got {raw!r}")
    return raw


def typed(value_type: str, raw: object, tz_s: int = 0) -> object:
    """``raw`` as a value of the COSEM type named ``value_type`` (see the module docstring)."""
    int_type = INTEGER_TYPE_BY_NAME.get(value_type)
    if int_type is not None:
        value = _as_int(raw)
        if int_type.MIN == 0 and int_type is not Enumerated:
            return int_type(value % (int_type.MAX + 1))
        return int_type(min(max(value, int_type.MIN), int_type.MAX))
    if value_type == "date-time":
        return to_datetime(_as_int(raw) - tz_s, tz_s)
    convert = _OTHER_TYPES.get(value_type)
    if convert is None:
        raise ValueError(f"unknown COSEM value type {value_type!r}")
    return convert(raw)


_DATE_TIMES: dict[tuple[int, int], object] = {}
_DATE_TIMES_LIMIT = 8_192


def converter_for(value_type: str, tz_s: int = 0) -> Callable[[object], object]:
    """``lambda raw: typed(value_type, raw, tz_s)``, specialised once for a whole profile column: integers
    are made in range by construction (no second range check), date-times memoised (bounded; every
    meter's profile repeats the same interval stamps). Same values, same errors."""
    int_type = INTEGER_TYPE_BY_NAME.get(value_type)
    make = int.__new__
    if int_type is not None and int_type.MIN == 0 and int_type is not Enumerated:
        modulus = int_type.MAX + 1

        def unsigned(raw: object) -> object:
            return make(int_type, (raw if type(raw) is int else _as_int(raw)) % modulus)

        return unsigned
    if int_type is not None:
        low, high = int_type.MIN, int_type.MAX

        def clamped(raw: object) -> object:
            return make(int_type, min(max(raw if type(raw) is int else _as_int(raw), low), high))

        return clamped
    if value_type == "date-time":

        def date_time(raw: object) -> object:
            key = (raw if type(raw) is int else _as_int(raw), tz_s)
            moment = _DATE_TIMES.get(key)
            if moment is None:
                if len(_DATE_TIMES) >= _DATE_TIMES_LIMIT:
                    _DATE_TIMES.clear()
                moment = _DATE_TIMES[key] = to_datetime(key[0] - tz_s, tz_s)
            return moment

        return date_time
    return lambda raw: typed(value_type, raw, tz_s)


def _octets(raw: object) -> bytes:
    return raw if isinstance(raw, bytes) else str(raw).encode()


def _bits(raw: object) -> BitString:
    return raw if isinstance(raw, BitString) else BitString(_as_int(raw), ESW_LENGTH)


_OTHER_TYPES: dict[str, Callable[[object], object]] = {
    "boolean": bool,
    "visible-string": str,
    "octet-string": _octets,
    "bit-string": _bits,
}
