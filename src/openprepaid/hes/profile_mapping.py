"""From captured profile rows to stored readings: scalers applied, columns mapped by OBIS.

IS 15959-1 profiles (domain.md §4): block load 1.0.99.1.0.255 (clock, average voltage 1.0.12.27,
block energies 1.0.1.29 / 1.0.9.29 / 1.0.2.29, average current 1.0.11.27; 3-phase meters carry per
phase 1.0.32/52/72.27 and 1.0.31/51/71.27), daily 1.0.99.2.0.255 (cumulative 1.0.1.8 / 1.0.2.8 /
1.0.9.8), billing 1.0.98.1.0.255 (billing date 0.0.0.1.2.255, cumulative energies, maximum demand
1.0.1.6.0.255 value and time), instantaneous 1.0.94.91.0.255, event logs 0.0.99.98.x.255 (clock,
event code 0.0.96.11.x.255, snapshot values). Scalers (IEC 62056-6-2 scaler_unit): value x 10**scaler.
Energies become integer Wh (half-up); electrical quantities floats. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from openprepaid.hes.retry import NonRetryableError
from openprepaid.hes.session import CLOCK, CaptureColumn, CosemValue, ProfileCapture, ScalerUnit, event_code_obis

BILLING_DATE = "0.0.0.1.2.255"
BLOCK_FIELDS = {
    "1.0.1.29.0.255": "import_wh",
    "1.0.2.29.0.255": "export_wh",
    "1.0.9.29.0.255": "apparent_vah",
}
PHASE_VOLTAGES = ("1.0.32.27.0.255", "1.0.52.27.0.255", "1.0.72.27.0.255")
PHASE_CURRENTS = ("1.0.31.27.0.255", "1.0.51.27.0.255", "1.0.71.27.0.255")
TOTAL_FIELDS = {
    "1.0.1.8.0.255": "import_wh_total",
    "1.0.2.8.0.255": "export_wh_total",
    "1.0.9.8.0.255": "apparent_vah_total",
}
INSTANT_FIELDS = {
    "1.0.12.7.0.255": "voltage_v",
    "1.0.11.7.0.255": "current_a",
    "1.0.13.7.0.255": "power_factor",
    "1.0.14.7.0.255": "frequency_hz",
    "1.0.1.7.0.255": "active_power_w",
}
MAX_DEMAND = "1.0.1.6.0.255"
IMPORT_TOTAL = "1.0.1.8.0.255"
MAX_ENERGY_WH = 10**15  # anything larger is a decoding fault, not a reading


class ProfileMappingError(NonRetryableError):
    """A capture that cannot be stored: no clock column, a value of the wrong kind, out of range."""


Scalers = Mapping[str, ScalerUnit]


def scalers_to_json(scalers: Scalers) -> dict[str, list[int]]:
    return {obis: [unit.scaler, unit.unit] for obis, unit in scalers.items()}


def scalers_from_json(data: Mapping[str, Any]) -> dict[str, ScalerUnit]:
    try:
        return {str(obis): ScalerUnit(int(pair[0]), int(pair[1])) for obis, pair in data.items()}
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise ProfileMappingError(f"cached scalers are malformed: {exc}") from exc


def _scaled(value: CosemValue, obis: str, scalers: Scalers) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileMappingError(f"{obis}: expected a number, got {type(value).__name__}")
    unit = scalers.get(obis)
    try:
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        return number.scaleb(unit.scaler) if unit else number
    except InvalidOperation as exc:
        raise ProfileMappingError(f"{obis}: not a finite number") from exc


def energy_wh(value: CosemValue, obis: str, scalers: Scalers) -> int | None:
    scaled = _scaled(value, obis, scalers)
    if scaled is None:
        return None
    if not scaled.is_finite():
        raise ProfileMappingError(f"{obis}: not a finite number")
    wh = int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if abs(wh) > MAX_ENERGY_WH:
        raise ProfileMappingError(f"{obis}: {wh} Wh is out of range")
    return wh


def quantity(value: CosemValue, obis: str, scalers: Scalers) -> float | None:
    scaled = _scaled(value, obis, scalers)
    if scaled is None or not scaled.is_finite():
        return None
    return float(scaled)


def _index(columns: Sequence[CaptureColumn]) -> dict[tuple[str, int], int]:
    return {(column.obis, column.attribute): position for position, column in enumerate(columns)}


def _stamp(row: Sequence[CosemValue], position: int, what: str) -> datetime:
    value = row[position]
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ProfileMappingError(f"{what}: expected an aware date-time, got {value!r}")
    if value.tzinfo is UTC and not value.microsecond:
        return value  # the session layer's stamps are UTC already (and datetimes are immutable)
    return value.astimezone(UTC).replace(microsecond=0)


def _clock_position(index: Mapping[tuple[str, int], int], *alternatives: str) -> int:
    for obis in (CLOCK, *alternatives):
        if (obis, 2) in index:
            return index[(obis, 2)]
    raise ProfileMappingError("the capture has no clock column")


def _checked_rows(capture: ProfileCapture) -> tuple[tuple[CosemValue, ...], ...]:
    width = len(capture.columns)
    for row in capture.rows:
        if len(row) != width:
            raise ProfileMappingError(f"a row has {len(row)} values for {width} columns")
    return capture.rows


def _mean(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


def block_rows(
    capture: ProfileCapture,
    scalers: Scalers,
    *,
    meter_id: int,
    capture_period_s: int,
    stamp: str,
    received_at: datetime,
) -> list[dict[str, Any]]:
    """``reading_block`` rows; ``stamp`` says whether the clock column is the interval's end or start."""
    index = _index(capture.columns)
    clock = _clock_position(index)
    shift = timedelta(seconds=capture_period_s) if stamp == "start" else timedelta(0)
    imported, exported, apparent = (_Column(index, obis, scalers) for obis in BLOCK_FIELDS)
    voltage = _Column(index, "1.0.12.27.0.255", scalers)
    current = _Column(index, "1.0.11.27.0.255", scalers)
    phase_voltages = [_Column(index, obis, scalers) for obis in PHASE_VOLTAGES]
    phase_currents = [_Column(index, obis, scalers) for obis in PHASE_CURRENTS]
    rows = []
    for row in _checked_rows(capture):
        import_wh = imported.energy(row)
        if import_wh is None:
            raise ProfileMappingError("block load row without import energy 1.0.1.29.0.255")
        volts = voltage.quantity(row)
        if volts is None:
            volts = _mean([column.quantity(row) for column in phase_voltages])
        amps = current.quantity(row)
        if amps is None:
            amps = _mean([column.quantity(row) for column in phase_currents])
        rows.append(
            {
                "meter_id": meter_id,
                "interval_end_at": _stamp(row, clock, "block load clock") + shift,
                "capture_period_s": capture_period_s,
                "import_wh": import_wh,
                "export_wh": exported.energy(row) or 0,
                "apparent_vah": apparent.energy(row) or 0,
                "avg_voltage_v": volts,
                "avg_current_a": amps,
                "received_at": received_at,
            }
        )
    return rows


class _Column:
    """One register column of a capture with its scaler: plain integers (the usual case) are scaled with
    integer arithmetic, giving exactly what ``energy_wh`` / ``quantity`` give; anything else goes their way."""

    __slots__ = ("obis", "position", "scaler", "scalers")

    def __init__(self, index: Mapping[tuple[str, int], int], obis: str, scalers: Scalers) -> None:
        self.obis = obis
        self.position = index.get((obis, 2))
        self.scalers = scalers
        unit = scalers.get(obis)
        self.scaler = unit.scaler if unit else 0
        if not -_FAST_SCALER_LIMIT <= self.scaler <= _FAST_SCALER_LIMIT:
            self.scaler = None  # type: ignore[assignment]

    def _value(self, row: Sequence[CosemValue]) -> CosemValue:
        return None if self.position is None else row[self.position]

    def energy(self, row: Sequence[CosemValue]) -> int | None:
        value, scaler = self._value(row), self.scaler
        if type(value) is not int or scaler is None:
            return energy_wh(value, self.obis, self.scalers)
        wh: int
        if scaler >= 0:
            wh = value * 10**scaler
        else:  # half-up (ties away from zero), as Decimal.quantize(ROUND_HALF_UP)
            whole, rest = divmod(abs(value), 10**-scaler)
            whole += 2 * rest >= 10**-scaler
            wh = whole if value >= 0 else -whole
        if abs(wh) > MAX_ENERGY_WH:
            raise ProfileMappingError(f"{self.obis}: {wh} Wh is out of range")
        return wh

    def quantity(self, row: Sequence[CosemValue]) -> float | None:
        value, scaler = self._value(row), self.scaler
        if type(value) is not int or scaler is None:
            return quantity(value, self.obis, self.scalers)
        # int / int and float(int) are correctly rounded, like float() of the exact Decimal
        return float(value * 10**scaler) if scaler >= 0 else value / 10**-scaler


_FAST_SCALER_LIMIT = 20


def _totals(row: Sequence[CosemValue], index: Mapping[tuple[str, int], int], scalers: Scalers) -> dict[str, int]:
    totals: dict[str, int] = {}
    for obis, name in TOTAL_FIELDS.items():
        position = index.get((obis, 2))
        wh = None if position is None else energy_wh(row[position], obis, scalers)
        totals[name] = wh or 0
    if (IMPORT_TOTAL, 2) not in index:
        raise ProfileMappingError(f"snapshot without cumulative import {IMPORT_TOTAL}")
    return totals


def daily_rows(
    capture: ProfileCapture, scalers: Scalers, *, meter_id: int, received_at: datetime
) -> list[dict[str, Any]]:
    index = _index(capture.columns)
    clock = _clock_position(index)
    return [
        {
            "meter_id": meter_id,
            "captured_at": _stamp(row, clock, "daily clock"),
            **_totals(row, index, scalers),
            "received_at": received_at,
        }
        for row in _checked_rows(capture)
    ]


def billing_rows(
    capture: ProfileCapture, scalers: Scalers, *, meter_id: int, received_at: datetime
) -> list[dict[str, Any]]:
    index = _index(capture.columns)
    clock = _clock_position(index, BILLING_DATE)
    known = {(obis, 2) for obis in TOTAL_FIELDS} | {(CLOCK, 2), (BILLING_DATE, 2), (MAX_DEMAND, 2), (MAX_DEMAND, 5)}
    rows = []
    for row in _checked_rows(capture):
        demand_position = index.get((MAX_DEMAND, 2))
        demand_at_position = index.get((MAX_DEMAND, 5))
        demand = None if demand_position is None else quantity(row[demand_position], MAX_DEMAND, scalers)
        extra = {
            f"{obis}:{attribute}": _extra_value(row[position], obis, scalers)
            for (obis, attribute), position in index.items()
            if (obis, attribute) not in known
        }
        rows.append(
            {
                "meter_id": meter_id,
                "billing_at": _stamp(row, clock, "billing date"),
                **_totals(row, index, scalers),
                "max_demand_w": None if demand is None else round(demand),
                "max_demand_at": None
                if demand_at_position is None or row[demand_at_position] is None
                else _stamp(row, demand_at_position, "maximum demand time"),
                "extra": extra,
                "received_at": received_at,
            }
        )
    return rows


def _extra_value(value: CosemValue, obis: str, scalers: Scalers) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return quantity(value, obis, scalers)
    return value


def instant_rows(
    capture: ProfileCapture, scalers: Scalers, *, meter_id: int, received_at: datetime
) -> list[dict[str, Any]]:
    index = _index(capture.columns)
    clock = _clock_position(index)
    rows = []
    for row in _checked_rows(capture):
        mapped: dict[str, Any] = dict.fromkeys(INSTANT_FIELDS.values())
        values: dict[str, Any] = {}
        for (obis, attribute), position in index.items():
            if (obis, attribute) == (CLOCK, 2):
                continue
            if obis in INSTANT_FIELDS and attribute == 2:
                mapped[INSTANT_FIELDS[obis]] = quantity(row[position], obis, scalers)
            else:
                values[f"{obis}:{attribute}"] = _extra_value(row[position], obis, scalers)
        total_position = index.get((IMPORT_TOTAL, 2))
        rows.append(
            {
                "meter_id": meter_id,
                "captured_at": _stamp(row, clock, "instantaneous clock"),
                **mapped,
                "import_wh_total": None
                if total_position is None
                else energy_wh(row[total_position], IMPORT_TOTAL, scalers),
                "values": values,
                "received_at": received_at,
            }
        )
    return rows


def event_rows(
    capture: ProfileCapture, *, meter_id: int, log: int, source: str, received_at: datetime
) -> list[dict[str, Any]]:
    """``meter_event`` rows keyed (meter, log, occurred_at to the second, code)."""
    index = _index(capture.columns)
    clock = _clock_position(index)
    code_position = index.get((event_code_obis(log), 2))
    if code_position is None:
        raise ProfileMappingError(f"event log {log} capture has no event code column {event_code_obis(log)}")
    rows = []
    for row in _checked_rows(capture):
        code = row[code_position]
        if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code < 65536:
            raise ProfileMappingError(f"event code {code!r} is not an unsigned integer")
        payload = {
            f"{obis}:{attribute}": _extra_value(row[position], obis, {})
            for (obis, attribute), position in index.items()
            if position not in {clock, code_position}
        }
        rows.append(
            {
                "meter_id": meter_id,
                "log": log,
                "occurred_at": _stamp(row, clock, "event clock"),
                "code": code,
                "source": source,
                "payload": payload,
                "received_at": received_at,
            }
        )
    return rows
