"""IS 15959 profiles (class 7 Profile generic) and their capture columns, per phase count and relay.

IS 15959-1 / -2 define, for three-phase and single-phase meters, the instantaneous profile
1.0.94.91.0.255, block load profile 1.0.99.1.0.255, daily load profile 1.0.99.2.0.255, billing
profile 1.0.98.1.0.255, the seven event logs 0.0.99.98.0-6.255 and the name plate
0.0.94.91.10.255. Each measured profile has a scaler profile (1.0.94.91.3/4/5/6/7.255) whose
single entry holds the scaler_unit (attribute 3) of every register column, in column order.

A capture column is IEC 62056-6-2's capture_object_definition: (class_id, logical name,
attribute index, data index). Time columns are the clock (class 8, attribute 2); the billing
profile's time column is the billing date (class 3, attribute 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from openprepaid.meters.catalogue import (
    CLOCK,
    CLOCK_OBIS,
    DISCONNECT_CONTROL,
    DISCONNECT_CONTROL_OBIS,
    LIMITER,
    LIMITER_OBIS,
    by_quantity,
    lookup,
)
from openprepaid.meters.event_codes import EventLog


@dataclass(frozen=True, slots=True)
class CaptureColumn:
    class_id: int
    obis: str
    attribute: int
    data_index: int = 0


class ProfileKind(StrEnum):
    INSTANTANEOUS = "instantaneous"
    BLOCK_LOAD = "block_load"
    DAILY_LOAD = "daily_load"
    BILLING = "billing"
    EVENT_LOG = "event_log"
    SCALER = "scaler"
    NAME_PLATE = "name_plate"


@dataclass(frozen=True, slots=True)
class ProfileDef:
    obis: str
    name: str
    kind: ProfileKind
    columns: tuple[CaptureColumn, ...]
    scaler_profile: str | None = None
    event_log: EventLog | None = None
    scales: str | None = None  # for a scaler profile: the profile whose registers it describes

    @property
    def time_column(self) -> CaptureColumn | None:
        """The column a range selection restricts on (None for profiles without a time column)."""
        first = self.columns[0] if self.columns else None
        if first is not None and (first.class_id == CLOCK or first.obis == "0.0.0.1.2.255"):
            return first
        return None


CLOCK_COLUMN = CaptureColumn(CLOCK, CLOCK_OBIS, 2)

INSTANTANEOUS_OBIS = "1.0.94.91.0.255"
BLOCK_LOAD_OBIS = "1.0.99.1.0.255"
DAILY_LOAD_OBIS = "1.0.99.2.0.255"
BILLING_OBIS = "1.0.98.1.0.255"
NAME_PLATE_OBIS = "0.0.94.91.10.255"
INSTANTANEOUS_SCALER_OBIS = "1.0.94.91.3.255"
BLOCK_LOAD_SCALER_OBIS = "1.0.94.91.4.255"
DAILY_LOAD_SCALER_OBIS = "1.0.94.91.5.255"
BILLING_SCALER_OBIS = "1.0.94.91.6.255"
EVENT_SCALER_OBIS = "1.0.94.91.7.255"


def column(quantity: str, attribute: int = 2) -> CaptureColumn:
    obj = by_quantity(quantity)
    return CaptureColumn(obj.class_id, obj.obis, attribute)


def _columns(*quantities: str) -> tuple[CaptureColumn, ...]:
    return tuple(column(q) for q in quantities)


def _per_phase(prefix: str, phases: int) -> tuple[str, ...]:
    return (prefix,) if phases == 1 else (f"{prefix}_r", f"{prefix}_y", f"{prefix}_b")


def _reactive(phases: int, prefix: str = "") -> tuple[str, ...]:
    return () if phases == 1 else (f"{prefix}lag_varh", f"{prefix}lead_varh")


def instantaneous_columns(phases: int, has_relay: bool) -> tuple[CaptureColumn, ...]:
    pf = ("pf",) if phases == 1 else ("pf_r", "pf_y", "pf_b", "pf")
    neutral = ("neutral_current",) if phases == 1 else ()
    cols = (
        CLOCK_COLUMN,
        *_columns(*_per_phase("voltage", phases), *_per_phase("current", phases), *neutral, *pf),
        *_columns("frequency", "apparent_power", "active_power", "import_wh", "import_vah"),
        column("md_w"),
        column("md_w", 5),
        column("md_va"),
        column("md_va", 5),
        *_columns("power_on_minutes", "tamper_count", "billing_count", "programming_count"),
        *_columns("export_wh", "export_vah", *_reactive(phases)),
    )
    if has_relay:
        cols += (CaptureColumn(DISCONNECT_CONTROL, DISCONNECT_CONTROL_OBIS, 2), CaptureColumn(LIMITER, LIMITER_OBIS, 4))
    return cols


def block_load_columns(phases: int) -> tuple[CaptureColumn, ...]:
    quantities: tuple[str, ...]
    if phases == 1:
        quantities = ("block_voltage", "block_import_wh", "block_import_vah", "block_export_wh", "block_current")
    else:
        quantities = (
            *_per_phase("block_current", 3),
            *_per_phase("block_voltage", 3),
            "block_import_wh",
            *_reactive(3, "block_"),
            "block_import_vah",
            "block_export_wh",
            "block_export_vah",
        )
    return (CLOCK_COLUMN, *_columns(*quantities))


def daily_load_columns(phases: int) -> tuple[CaptureColumn, ...]:
    return (CLOCK_COLUMN, *_columns("import_wh", "import_vah", "export_wh", "export_vah", *_reactive(phases)))


def billing_columns(phases: int) -> tuple[CaptureColumn, ...]:
    return (
        *_columns("billing_date", "billing_avg_pf", "import_wh", "import_vah"),
        column("md_w"),
        column("md_w", 5),
        column("md_va"),
        column("md_va", 5),
        *_columns("billing_power_on_minutes", "export_wh", "export_vah", *_reactive(phases)),
    )


#: Event logs whose entries carry a snapshot of the electrical state (IS 15959-2 event capture).
SNAPSHOT_LOGS = frozenset({EventLog.VOLTAGE, EventLog.CURRENT, EventLog.OTHER})


def event_snapshot_quantities(phases: int) -> tuple[str, ...]:
    pf = ("pf",) if phases == 1 else ("pf_r", "pf_y", "pf_b")
    return (*_per_phase("current", phases), *_per_phase("voltage", phases), *pf, "import_wh", "tamper_count")


def event_log_columns(log: EventLog, phases: int) -> tuple[CaptureColumn, ...]:
    code = CaptureColumn(1, log.event_code_obis, 2)
    if log in SNAPSHOT_LOGS:
        return (CLOCK_COLUMN, code, *_columns(*event_snapshot_quantities(phases)))
    return (CLOCK_COLUMN, code)


NAME_PLATE_COLUMNS = _columns(
    "serial",
    "device_id",
    "manufacturer",
    "firmware",
    "meter_type_code",
    "category",
    "current_rating",
    "year_of_manufacture",
)


def scaler_columns(columns: tuple[CaptureColumn, ...]) -> tuple[CaptureColumn, ...]:
    """attribute 3 (scaler_unit) of every register value column (attribute 2), in order."""
    return tuple(
        CaptureColumn(c.class_id, c.obis, 3) for c in columns if c.attribute == 2 and lookup(c.obis).has_scaler_unit
    )


@cache
def profiles_for(phases: int, has_relay: bool) -> tuple[ProfileDef, ...]:
    """All profiles of a meter with ``phases`` phases (1 or 3), with or without a relay."""
    inst = instantaneous_columns(phases, has_relay)
    block = block_load_columns(phases)
    daily = daily_load_columns(phases)
    billing = billing_columns(phases)
    events = [
        ProfileDef(
            log.obis,
            f"Event log - {log.name.lower()}",
            ProfileKind.EVENT_LOG,
            event_log_columns(log, phases),
            EVENT_SCALER_OBIS,
            log,
        )
        for log in EventLog
    ]
    snapshot_scalers = scaler_columns(event_log_columns(EventLog.VOLTAGE, phases))
    return (
        ProfileDef(
            INSTANTANEOUS_OBIS, "Instantaneous profile", ProfileKind.INSTANTANEOUS, inst, INSTANTANEOUS_SCALER_OBIS
        ),
        ProfileDef(BLOCK_LOAD_OBIS, "Block load profile", ProfileKind.BLOCK_LOAD, block, BLOCK_LOAD_SCALER_OBIS),
        ProfileDef(DAILY_LOAD_OBIS, "Daily load profile", ProfileKind.DAILY_LOAD, daily, DAILY_LOAD_SCALER_OBIS),
        ProfileDef(BILLING_OBIS, "Billing profile", ProfileKind.BILLING, billing, BILLING_SCALER_OBIS),
        *events,
        ProfileDef(NAME_PLATE_OBIS, "Name plate details", ProfileKind.NAME_PLATE, NAME_PLATE_COLUMNS),
        ProfileDef(
            INSTANTANEOUS_SCALER_OBIS,
            "Instantaneous scaler profile",
            ProfileKind.SCALER,
            scaler_columns(inst),
            scales=INSTANTANEOUS_OBIS,
        ),
        ProfileDef(
            BLOCK_LOAD_SCALER_OBIS,
            "Block load scaler profile",
            ProfileKind.SCALER,
            scaler_columns(block),
            scales=BLOCK_LOAD_OBIS,
        ),
        ProfileDef(
            DAILY_LOAD_SCALER_OBIS,
            "Daily load scaler profile",
            ProfileKind.SCALER,
            scaler_columns(daily),
            scales=DAILY_LOAD_OBIS,
        ),
        ProfileDef(
            BILLING_SCALER_OBIS,
            "Billing scaler profile",
            ProfileKind.SCALER,
            scaler_columns(billing),
            scales=BILLING_OBIS,
        ),
        ProfileDef(
            EVENT_SCALER_OBIS,
            "Event log scaler profile",
            ProfileKind.SCALER,
            snapshot_scalers,
            scales=EventLog.VOLTAGE.obis,
        ),
    )
