"""Meter types: what a class of IS 15959 meter measures, stores and can switch.

Whole-current meters (IS 16444-1, single- and three-phase) carry a load switch, so they have the
disconnect control (class 70) and limiter (class 71) objects; CT and CT-PT meters (IS 15959-1/-3)
have no relay and neither object (domain.md §4). Buffer depths and the name-plate "meter type"
code are make-specific; the defaults here are typical and every field can be overridden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from types import MappingProxyType

from openprepaid.meters.catalogue import CATALOGUE, DISCONNECT_CONTROL, LIMITER, CosemObjectDef
from openprepaid.meters.errors import UnknownObjectError
from openprepaid.meters.event_codes import EventLog
from openprepaid.meters.profiles import ProfileDef, profiles_for

#: Capture periods a meter accepts (s): whole 15-minute multiples that divide a day.
CAPTURE_PERIODS_S = (900, 1800, 3600)

_THREE_PHASE_ONLY = frozenset(
    {
        "voltage_r",
        "voltage_y",
        "voltage_b",
        "current_r",
        "current_y",
        "current_b",
        "pf_r",
        "pf_y",
        "pf_b",
        "lag_varh",
        "lead_varh",
        "block_voltage_r",
        "block_voltage_y",
        "block_voltage_b",
        "block_current_r",
        "block_current_y",
        "block_current_b",
        "block_lag_varh",
        "block_lead_varh",
    }
)
_SINGLE_PHASE_ONLY = frozenset({"voltage", "current", "neutral_current", "block_voltage", "block_current"})

#: Entries per event log, indexed by ``EventLog`` value (voltage, current, power, transaction, other,
#: non-rollover, control). The non-rollover log keeps only the first cover opening.
DEFAULT_EVENT_LOG_ENTRIES = (100, 100, 100, 50, 100, 1, 50)


class Connection(StrEnum):
    WHOLE_CURRENT = "whole_current"
    CT = "ct"
    CT_PT = "ct_pt"


@dataclass(frozen=True, slots=True)
class MeterType:
    code: str
    description: str
    phases: int
    connection: Connection
    has_relay: bool
    capture_period_s: int = 900
    demand_integration_period_s: int = 1800
    nominal_voltage_v: int = 230  # phase-to-neutral, primary-referred for CT-PT meters
    current_rating: str = "5-30 A"
    name_plate_type: int = 5
    category_code: str = "C1"
    manufacturer: str = "openprepaid simulator"
    firmware: str = "OPS-1.0.0"
    block_load_days: int = 35
    daily_entries: int = 35
    billing_entries: int = 12
    event_log_entries: tuple[int, ...] = DEFAULT_EVENT_LOG_ENTRIES

    def __post_init__(self) -> None:
        if self.phases not in (1, 3):
            raise ValueError(f"phases must be 1 or 3, not {self.phases}")
        if self.capture_period_s not in CAPTURE_PERIODS_S:
            raise ValueError(f"capture period {self.capture_period_s} s not in {CAPTURE_PERIODS_S}")
        if self.demand_integration_period_s not in CAPTURE_PERIODS_S:
            raise ValueError(f"demand integration period {self.demand_integration_period_s} s not supported")
        if self.has_relay != (self.connection is Connection.WHOLE_CURRENT):
            raise ValueError("only whole-current meters have a relay")
        if len(self.event_log_entries) != len(EventLog) or min(self.event_log_entries) < 1:
            raise ValueError("event_log_entries needs a positive depth for each of the seven logs")

    def event_log_depth(self, log: EventLog) -> int:
        return self.event_log_entries[log]

    @property
    def profiles(self) -> tuple[ProfileDef, ...]:
        return profiles_for(self.phases, self.has_relay)

    @property
    def objects(self) -> tuple[CosemObjectDef, ...]:
        """The non-profile objects of this type (association objects are the server's)."""
        return objects_for(self)


@cache
def objects_for(meter_type: MeterType) -> tuple[CosemObjectDef, ...]:
    excluded = _SINGLE_PHASE_ONLY if meter_type.phases == 3 else _THREE_PHASE_ONLY
    return tuple(
        o
        for o in CATALOGUE.values()
        if o.quantity not in excluded and (meter_type.has_relay or o.class_id not in (DISCONNECT_CONTROL, LIMITER))
    )


SINGLE_PHASE_WHOLE_CURRENT = MeterType(
    "1P-WC",
    "Single-phase whole-current smart meter with load switch (IS 16444-1)",
    1,
    Connection.WHOLE_CURRENT,
    True,
    current_rating="10-60 A",
    name_plate_type=5,
)
THREE_PHASE_WHOLE_CURRENT = MeterType(
    "3P-WC",
    "Three-phase whole-current smart meter with load switch (IS 16444-1)",
    3,
    Connection.WHOLE_CURRENT,
    True,
    current_rating="10-100 A",
    name_plate_type=6,
)
THREE_PHASE_LT_CT = MeterType(
    "3P-LTCT",
    "Three-phase LT CT-operated meter, no load switch (IS 15959-1)",
    3,
    Connection.CT,
    False,
    current_rating="-/5 A",
    name_plate_type=6,
    category_code="B1",
)
THREE_PHASE_HT_CT_PT = MeterType(
    "3P-HTCTPT",
    "Three-phase HT CT-PT-operated meter, no load switch (IS 15959-1)",
    3,
    Connection.CT_PT,
    False,
    capture_period_s=1800,
    nominal_voltage_v=6351,
    current_rating="-/1 A",
    name_plate_type=7,
    category_code="A1",
)

METER_TYPES: Mapping[str, MeterType] = MappingProxyType(
    {
        t.code: t
        for t in (SINGLE_PHASE_WHOLE_CURRENT, THREE_PHASE_WHOLE_CURRENT, THREE_PHASE_LT_CT, THREE_PHASE_HT_CT_PT)
    }
)


def meter_type(code: str) -> MeterType:
    try:
        return METER_TYPES[code]
    except KeyError:
        raise UnknownObjectError(f"unknown meter type {code!r}") from None
