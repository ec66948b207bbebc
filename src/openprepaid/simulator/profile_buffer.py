"""Profile generic buffers (IEC 62056-6-2 §4.3.6, class 7) of a virtual meter, with selective access.

A buffer is read whole or through a selective-access descriptor (IEC 62056-6-2 §4.3.6.2):
``RangeSelection`` (selector 1, range_descriptor: entries whose restricting column — the
profile's time column — lies in [from, to], optionally only some columns) or ``EntrySelection``
(selector 2, entry_descriptor: entries from_entry..to_entry and columns from_value..to_value,
1-based, 0 meaning "up to the last"). Entries are oldest first. The block load buffer is derived
on read, so a range selection only computes the days it covers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from openprepaid.meters.catalogue import CATALOGUE, lookup
from openprepaid.meters.event_codes import EventLog
from openprepaid.meters.profiles import CaptureColumn, ProfileDef, ProfileKind, event_snapshot_quantities
from openprepaid.meters.values import Enumerated, Integer8
from openprepaid.simulator import readings as rd
from openprepaid.simulator.clock import to_epoch_s
from openprepaid.simulator.errors import ObjectUnavailableError, OtherReasonError, TypeUnmatchedError
from openprepaid.simulator.load_model import DAY_S
from openprepaid.simulator.typed_values import converter_for

if TYPE_CHECKING:
    from openprepaid.simulator.virtual_meter import VirtualMeter


@dataclass(frozen=True, slots=True)
class RangeSelection:
    restricting: CaptureColumn
    from_at: datetime | None
    to_at: datetime | None
    columns: tuple[CaptureColumn, ...] = ()


@dataclass(frozen=True, slots=True)
class EntrySelection:
    from_entry: int = 1
    to_entry: int = 0
    from_column: int = 1
    to_column: int = 0


Selection = RangeSelection | EntrySelection
Row = Mapping[str, object]


class ProfileBuffer:
    """A profile's buffer: entries numbered 1..entries_in_use, oldest first."""

    monotonic = True

    def __init__(self, meter: VirtualMeter, profile: ProfileDef) -> None:
        self.meter = meter
        self.profile = profile

    def entries_in_use(self) -> int:
        raise NotImplementedError

    def profile_entries(self) -> int:
        raise NotImplementedError

    def capture_period_s(self) -> int:
        return 0

    def time_of(self, i: int) -> int:
        """Local time of entry ``i`` in the time column (monotonic buffers only need this)."""
        raise NotImplementedError

    def rows(self, first: int, last: int) -> Iterator[Row]:
        """Raw row dicts (``readings.column_key`` keys) of entries first..last (1-based, inclusive)."""
        raise NotImplementedError

    def indices_in(self, from_lt: int | None, to_lt: int | None) -> list[int]:
        lo = -(1 << 62) if from_lt is None else from_lt
        hi = 1 << 62 if to_lt is None else to_lt
        count = self.entries_in_use()
        if not self.monotonic:
            return [i for i in range(1, count + 1) if lo <= self.time_of(i) <= hi]
        first = _bisect(self.time_of, count, lo)
        last = _bisect(self.time_of, count, hi + 1) - 1
        return list(range(first, last + 1))


def _bisect(time_of: Callable[[int], int], count: int, t: int) -> int:
    """The first index in 1..count whose time is >= t (count + 1 if none)."""
    lo, hi = 1, count + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if time_of(mid) < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


class BlockLoadBuffer(ProfileBuffer):
    def _bounds(self) -> tuple[int, int, int]:
        period = self.meter.capture_period_s
        last = rd.last_block_end(self.meter)
        if last is None:
            return 0, 0, period
        first = max(rd.block_first_end(self.meter), last - (self.profile_entries() - 1) * period)
        return first, last, period

    def entries_in_use(self) -> int:
        first, last, period = self._bounds()
        return 0 if last == 0 else (last - first) // period + 1

    def profile_entries(self) -> int:
        return self.meter.meter_type.block_load_days * DAY_S // self.meter.capture_period_s

    def capture_period_s(self) -> int:
        return self.meter.capture_period_s

    def time_of(self, i: int) -> int:
        first, _, period = self._bounds()
        return first + (i - 1) * period

    def rows(self, first: int, last: int) -> Iterator[Row]:
        if first <= last:
            yield from rd.block_rows(self.meter, self.time_of(first), self.time_of(last))


class DailyLoadBuffer(ProfileBuffer):
    def entries_in_use(self) -> int:
        return len(self.meter.daily) // len(rd.DAILY_KEYS)

    def profile_entries(self) -> int:
        return self.meter.meter_type.daily_entries

    def capture_period_s(self) -> int:
        return DAY_S

    def time_of(self, i: int) -> int:
        return self.meter.daily[(i - 1) * len(rd.DAILY_KEYS)]

    def rows(self, first: int, last: int) -> Iterator[Row]:
        return (rd.daily_row(self.meter, i - 1) for i in range(first, last + 1))


class BillingBuffer(ProfileBuffer):
    def entries_in_use(self) -> int:
        return len(self.meter.billing) // len(rd.BILLING_KEYS)

    def profile_entries(self) -> int:
        return self.meter.meter_type.billing_entries

    def time_of(self, i: int) -> int:
        return self.meter.billing[(i - 1) * len(rd.BILLING_KEYS)]

    def rows(self, first: int, last: int) -> Iterator[Row]:
        return (rd.billing_row(self.meter, i - 1) for i in range(first, last + 1))


class EventLogBuffer(ProfileBuffer):
    monotonic = False  # a clock set backwards leaves later entries with earlier times

    def __init__(self, meter: VirtualMeter, profile: ProfileDef) -> None:
        super().__init__(meter, profile)
        self._decoded: list[tuple[int, int, tuple[int, ...]]] | None = None  # one read decodes once

    def _log(self) -> EventLog:
        assert self.profile.event_log is not None
        return self.profile.event_log

    def _entries(self) -> list[tuple[int, int, tuple[int, ...]]]:
        if self._decoded is None:
            events = self.meter.events
            self._decoded = events.entries(self._log()) if events is not None else []
        return self._decoded

    def entries_in_use(self) -> int:
        return len(self._entries())

    def profile_entries(self) -> int:
        return self.meter.meter_type.event_log_depth(self._log())

    def time_of(self, i: int) -> int:
        return self._entries()[i - 1][0]

    def rows(self, first: int, last: int) -> Iterator[Row]:
        keys = event_snapshot_quantities(self.meter.meter_type.phases)
        for lt, code, snapshot in self._entries()[first - 1 : last]:
            row: dict[str, object] = {"clock": lt, "event_code": code}
            row.update(zip(keys, snapshot, strict=False))
            yield row


class SingleRowBuffer(ProfileBuffer):
    """Instantaneous, name plate and scaler profiles: one entry, computed when read."""

    def __init__(self, meter: VirtualMeter, profile: ProfileDef, row: Callable[[], Row]) -> None:
        super().__init__(meter, profile)
        self._row = row

    def entries_in_use(self) -> int:
        return 1

    def profile_entries(self) -> int:
        return 1

    def time_of(self, i: int) -> int:
        return self.meter.clock_now_lt()

    def rows(self, first: int, last: int) -> Iterator[Row]:
        return iter([self._row()] if first <= 1 <= last else [])


def name_plate_values(meter: VirtualMeter) -> Row:
    mt = meter.meter_type
    return {
        "serial": meter.serial,
        "device_id": meter.serial,
        "manufacturer": mt.manufacturer,
        "firmware": mt.firmware,
        "meter_type_code": mt.name_plate_type,
        "category": mt.category_code,
        "current_rating": mt.current_rating,
        "year_of_manufacture": 2022 + meter.params.key % 4,
        "logical_device_name": ("OPS" + meter.serial).encode(),
    }


_BUFFER_CLASSES: dict[ProfileKind, type[ProfileBuffer]] = {
    ProfileKind.BLOCK_LOAD: BlockLoadBuffer,
    ProfileKind.DAILY_LOAD: DailyLoadBuffer,
    ProfileKind.BILLING: BillingBuffer,
    ProfileKind.EVENT_LOG: EventLogBuffer,
}


def buffer_for(meter: VirtualMeter, profile: ProfileDef) -> ProfileBuffer:
    kind = profile.kind
    buffer_class = _BUFFER_CLASSES.get(kind)
    if buffer_class is not None:
        return buffer_class(meter, profile)
    if kind is ProfileKind.NAME_PLATE:
        return SingleRowBuffer(meter, profile, lambda: name_plate_values(meter))
    if kind is ProfileKind.SCALER:
        return SingleRowBuffer(meter, profile, lambda: {})
    return SingleRowBuffer(meter, profile, lambda: rd.present_values(meter))


# -- typing rows -------------------------------------------------------------------------------------


_KEY_TYPES = {
    "clock": "date-time",
    "billing_date": "date-time",
    "event_code": "long-unsigned",
    "relay_output": "boolean",
    "limiter_threshold": "double-long-unsigned",
}


def _converter(column: CaptureColumn, tz_s: int) -> Callable[[object], object]:
    if column.attribute == 3:
        obj = lookup(column.obis)
        scaler_unit = (Integer8(obj.scaler or 0), Enumerated(int(obj.unit or 255)))
        return lambda _value: scaler_unit
    key = rd.column_key(column)
    value_type = _KEY_TYPES.get(key) or ("date-time" if key.endswith("_time") else CATALOGUE[column.obis].value_type)
    return converter_for(value_type, tz_s)


def read_buffer(
    meter: VirtualMeter, profile: ProfileDef, selection: Selection | None = None
) -> list[tuple[object, ...]]:
    """The buffer (attribute 2) as typed rows, whole or through ``selection``."""
    buffer = buffer_for(meter, profile)
    columns = profile.columns
    count = buffer.entries_in_use()
    if selection is None:
        indices: Sequence[int] = range(1, count + 1)
        picked = list(range(len(columns)))
    elif isinstance(selection, RangeSelection):
        indices = _range_indices(buffer, selection, meter.tz_s)
        picked = _pick_columns(columns, selection.columns)
    else:
        indices, picked = _entry_indices(selection, count, len(columns))
    if not indices:
        return []
    pairs = [
        (_converter(columns[k], meter.tz_s), rd.column_key(columns[k]) if columns[k].attribute != 3 else "")
        for k in picked
    ]
    return [tuple([conv(row.get(key, 0)) for conv, key in pairs]) for row in _rows_at(buffer, indices)]


def _rows_at(buffer: ProfileBuffer, indices: Sequence[int]) -> Iterator[Row]:
    if buffer.monotonic or list(indices) == list(range(indices[0], indices[-1] + 1)):
        yield from buffer.rows(indices[0], indices[-1])
        return
    for i in indices:
        yield from buffer.rows(i, i)


def _range_indices(buffer: ProfileBuffer, selection: RangeSelection, tz_s: int) -> list[int]:
    time_column = buffer.profile.time_column
    if time_column is None or (
        selection.restricting.class_id,
        selection.restricting.obis,
        selection.restricting.attribute,
    ) != (time_column.class_id, time_column.obis, time_column.attribute):
        raise ObjectUnavailableError(f"{buffer.profile.obis} cannot be restricted on {selection.restricting}")
    bounds: list[int | None] = []
    for at in (selection.from_at, selection.to_at):
        if at is None:
            bounds.append(None)
        elif not isinstance(at, datetime) or at.tzinfo is None:
            raise TypeUnmatchedError("range bounds must be aware datetimes")
        else:
            bounds.append(to_epoch_s(at) + tz_s)
    return buffer.indices_in(bounds[0], bounds[1])


def _pick_columns(columns: tuple[CaptureColumn, ...], wanted: tuple[CaptureColumn, ...]) -> list[int]:
    if not wanted:
        return list(range(len(columns)))
    index = {(c.class_id, c.obis, c.attribute): k for k, c in enumerate(columns)}
    picked = []
    for column in wanted:
        k = index.get((column.class_id, column.obis, column.attribute))
        if k is None:
            raise ObjectUnavailableError(f"column {column} is not captured by this profile")
        picked.append(k)
    return picked


def _entry_indices(selection: EntrySelection, count: int, width: int) -> tuple[list[int], list[int]]:
    values = (selection.from_entry, selection.to_entry, selection.from_column, selection.to_column)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise TypeUnmatchedError("entry selection bounds must be integers")
    if selection.from_entry < 1 or selection.to_entry < 0 or selection.from_column < 1 or selection.to_column < 0:
        raise OtherReasonError("entry and column numbers start at 1 (0 means 'to the last' for the upper bounds)")
    if selection.from_column > width:
        raise OtherReasonError(f"the profile has {width} columns")
    last_entry = count if selection.to_entry == 0 else min(selection.to_entry, count)
    last_column = width if selection.to_column == 0 else min(selection.to_column, width)
    if last_column < selection.from_column:
        raise OtherReasonError("to_selected_value is before from_selected_value")
    return list(range(selection.from_entry, last_entry + 1)), list(range(selection.from_column - 1, last_column))
