"""The IS 15959 object catalogue: OBIS code -> name, interface class, unit, default scaler, value type.

IS 15959-1 (three-phase) and IS 15959-2 (single-phase) list the objects of an Indian DLMS meter;
IEC 62056-6-2 defines the interface classes (1 Data, 3 Register, 4 Extended register, 7 Profile
generic, 8 Clock, 40 Push setup, 70 Disconnect control, 71 Limiter). A register's raw value times
10**scaler is the quantity in its unit (domain.md §4: read scalers once per meter type).

``quantity`` names what a virtual meter computes for the object; it is this project's key, not
part of the standard. ``value_type`` is the COSEM type name of attribute 2 for classes 1, 3 and 4
(see ``openprepaid.meters.values``). ``writable`` and ``methods`` list what the utility-settings
association may write or invoke; ``openprepaid.meters.access`` narrows that per client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from openprepaid.meters.errors import UnknownObjectError
from openprepaid.meters.event_codes import EventLog
from openprepaid.meters.units import Unit
from openprepaid.meters.values import check_obis

DATA = 1
REGISTER = 3
EXTENDED_REGISTER = 4
PROFILE_GENERIC = 7
CLOCK = 8
ASSOCIATION_LN = 15
PUSH_SETUP = 40
DISCONNECT_CONTROL = 70
LIMITER = 71

#: Interface class versions this model implements (IEC 62056-6-2).
CLASS_VERSIONS: Mapping[int, int] = MappingProxyType(
    {
        DATA: 0,
        REGISTER: 0,
        EXTENDED_REGISTER: 0,
        PROFILE_GENERIC: 1,
        CLOCK: 0,
        PUSH_SETUP: 0,
        DISCONNECT_CONTROL: 0,
        LIMITER: 0,
    }
)

#: Number of attributes and methods per interface class (IEC 62056-6-2).
CLASS_SHAPES: Mapping[int, tuple[int, int]] = MappingProxyType(
    {
        DATA: (2, 0),
        REGISTER: (3, 1),
        EXTENDED_REGISTER: (5, 1),
        PROFILE_GENERIC: (8, 2),
        CLOCK: (9, 6),
        PUSH_SETUP: (7, 1),
        DISCONNECT_CONTROL: (4, 2),
        LIMITER: (11, 0),
    }
)


@dataclass(frozen=True, slots=True)
class CosemObjectDef:
    obis: str
    name: str
    class_id: int
    quantity: str
    value_type: str = ""
    unit: Unit | None = None
    scaler: int | None = None
    writable: frozenset[int] = frozenset()
    methods: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        check_obis(self.obis)

    @property
    def version(self) -> int:
        return CLASS_VERSIONS[self.class_id]

    @property
    def has_scaler_unit(self) -> bool:
        return self.class_id in (REGISTER, EXTENDED_REGISTER)


def _data(obis: str, name: str, quantity: str, value_type: str, writable: bool = False) -> CosemObjectDef:
    return CosemObjectDef(obis, name, DATA, quantity, value_type, writable=frozenset({2}) if writable else frozenset())


def _reg(obis: str, name: str, quantity: str, unit_scaler: tuple[Unit, int], value_type: str) -> CosemObjectDef:
    unit, scaler = unit_scaler
    return CosemObjectDef(obis, name, REGISTER, quantity, value_type, unit, scaler)


def _md(obis: str, name: str, quantity: str, unit: Unit) -> CosemObjectDef:
    return CosemObjectDef(obis, name, EXTENDED_REGISTER, quantity, "double-long-unsigned", unit, 0)


_U32 = "double-long-unsigned"
_U16 = "long-unsigned"
_I16 = "long"
_I32 = "double-long"
_STR = "visible-string"

_OBJECTS: list[CosemObjectDef] = [
    # Abstract objects (IS 15959 general and name plate)
    CosemObjectDef("0.0.1.0.0.255", "Clock", CLOCK, "clock", writable=frozenset({2}), methods=frozenset({1, 2, 3, 6})),
    _data("0.0.42.0.0.255", "Logical device name", "logical_device_name", "octet-string"),
    _data("0.0.96.1.0.255", "Meter serial number", "serial", _STR),
    _data("0.0.96.1.1.255", "Manufacturer name", "manufacturer", _STR),
    _data("0.0.96.1.2.255", "Device ID", "device_id", _STR),
    _data("1.0.0.2.0.255", "Firmware version for meter", "firmware", _STR),
    _data("0.0.94.91.9.255", "Meter type", "meter_type_code", "unsigned"),
    _data("0.0.94.91.11.255", "Category", "category", _STR),
    _data("0.0.94.91.12.255", "Current rating", "current_rating", _STR),
    _data("0.0.96.1.4.255", "Meter year of manufacture", "year_of_manufacture", _U16),
    _data("0.0.94.91.0.255", "Cumulative tamper count", "tamper_count", _U32),
    _data("0.0.0.1.0.255", "Cumulative billing count", "billing_count", _U32),
    _data("0.0.96.2.0.255", "Cumulative programming count", "programming_count", _U32),
    _data("1.0.0.8.0.255", "Demand integration period (s)", "demand_integration_period", _U16, writable=True),
    _data("1.0.0.8.4.255", "Profile capture period (s)", "capture_period", _U16, writable=True),
    _data("0.0.94.91.18.255", "Event status word", "esw", "bit-string"),
    _data("0.0.94.91.26.255", "Event status word filter", "esw_filter", "bit-string", writable=True),
    _data("0.0.94.96.20.255", "Payment mode (1 prepaid, 0 postpaid)", "payment_mode", "unsigned", writable=True),
    _data("0.0.94.96.24.255", "Current balance for display (paise)", "balance_display", _I32, writable=True),
    *[
        _data(log.event_code_obis, f"Event code - {log.name.lower()}", f"event_code_{log.value}", _U16)
        for log in EventLog
    ],
    # Instantaneous quantities
    _reg("1.0.12.7.0.255", "Voltage", "voltage", (Unit.V, -2), _U32),
    _reg("1.0.32.7.0.255", "Voltage R-N", "voltage_r", (Unit.V, -2), _U32),
    _reg("1.0.52.7.0.255", "Voltage Y-N", "voltage_y", (Unit.V, -2), _U32),
    _reg("1.0.72.7.0.255", "Voltage B-N", "voltage_b", (Unit.V, -2), _U32),
    _reg("1.0.11.7.0.255", "Phase current", "current", (Unit.A, -3), _U32),
    _reg("1.0.31.7.0.255", "Current R", "current_r", (Unit.A, -3), _U32),
    _reg("1.0.51.7.0.255", "Current Y", "current_y", (Unit.A, -3), _U32),
    _reg("1.0.71.7.0.255", "Current B", "current_b", (Unit.A, -3), _U32),
    _reg("1.0.91.7.0.255", "Neutral current", "neutral_current", (Unit.A, -3), _U32),
    _reg("1.0.13.7.0.255", "Signed power factor", "pf", (Unit.COUNT, -3), _I16),
    _reg("1.0.33.7.0.255", "Power factor R", "pf_r", (Unit.COUNT, -3), _I16),
    _reg("1.0.53.7.0.255", "Power factor Y", "pf_y", (Unit.COUNT, -3), _I16),
    _reg("1.0.73.7.0.255", "Power factor B", "pf_b", (Unit.COUNT, -3), _I16),
    _reg("1.0.14.7.0.255", "Frequency", "frequency", (Unit.HZ, -2), _U16),
    _reg("1.0.9.7.0.255", "Apparent power", "apparent_power", (Unit.VA, 0), _U32),
    _reg("1.0.1.7.0.255", "Signed active power", "active_power", (Unit.W, 0), _I32),
    # Cumulative energies
    _reg("1.0.1.8.0.255", "Cumulative energy kWh import", "import_wh", (Unit.WH, 0), _U32),
    _reg("1.0.2.8.0.255", "Cumulative energy kWh export", "export_wh", (Unit.WH, 0), _U32),
    _reg("1.0.9.8.0.255", "Cumulative energy kVAh import", "import_vah", (Unit.VAH, 0), _U32),
    _reg("1.0.10.8.0.255", "Cumulative energy kVAh export", "export_vah", (Unit.VAH, 0), _U32),
    _reg("1.0.5.8.0.255", "Cumulative energy kvarh lag (Q1)", "lag_varh", (Unit.VARH, 0), _U32),
    _reg("1.0.8.8.0.255", "Cumulative energy kvarh lead (Q4)", "lead_varh", (Unit.VARH, 0), _U32),
    _md("1.0.1.6.0.255", "Maximum demand kW", "md_w", Unit.W),
    _md("1.0.9.6.0.255", "Maximum demand kVA", "md_va", Unit.VA),
    _reg("0.0.94.91.14.255", "Cumulative power-on duration", "power_on_minutes", (Unit.MINUTE, 0), _U32),
    _reg("0.0.94.91.13.255", "Billing period power-on duration", "billing_power_on_minutes", (Unit.MINUTE, 0), _U32),
    _reg("0.0.0.1.2.255", "Billing date", "billing_date", (Unit.COUNT, 0), "date-time"),
    _reg("1.0.13.0.0.255", "Average power factor for billing period", "billing_avg_pf", (Unit.COUNT, -3), _U16),
    # Block-load quantities (the value of the last completed capture period)
    _reg("1.0.12.27.0.255", "Average voltage", "block_voltage", (Unit.V, -2), _U32),
    _reg("1.0.32.27.0.255", "Average voltage R-N", "block_voltage_r", (Unit.V, -2), _U32),
    _reg("1.0.52.27.0.255", "Average voltage Y-N", "block_voltage_y", (Unit.V, -2), _U32),
    _reg("1.0.72.27.0.255", "Average voltage B-N", "block_voltage_b", (Unit.V, -2), _U32),
    _reg("1.0.11.27.0.255", "Average current", "block_current", (Unit.A, -3), _U32),
    _reg("1.0.31.27.0.255", "Average current R", "block_current_r", (Unit.A, -3), _U32),
    _reg("1.0.51.27.0.255", "Average current Y", "block_current_y", (Unit.A, -3), _U32),
    _reg("1.0.71.27.0.255", "Average current B", "block_current_b", (Unit.A, -3), _U32),
    _reg("1.0.1.29.0.255", "Block energy kWh import", "block_import_wh", (Unit.WH, 0), _U32),
    _reg("1.0.2.29.0.255", "Block energy kWh export", "block_export_wh", (Unit.WH, 0), _U32),
    _reg("1.0.9.29.0.255", "Block energy kVAh import", "block_import_vah", (Unit.VAH, 0), _U32),
    _reg("1.0.10.29.0.255", "Block energy kVAh export", "block_export_vah", (Unit.VAH, 0), _U32),
    _reg("1.0.5.29.0.255", "Block energy kvarh lag", "block_lag_varh", (Unit.VARH, 0), _U32),
    _reg("1.0.8.29.0.255", "Block energy kvarh lead", "block_lead_varh", (Unit.VARH, 0), _U32),
    # Control objects (whole-current meters only)
    CosemObjectDef(
        "0.0.96.3.10.255",
        "Disconnect control",
        DISCONNECT_CONTROL,
        "disconnect_control",
        writable=frozenset({4}),
        methods=frozenset({1, 2}),
    ),
    CosemObjectDef("0.0.17.0.0.255", "Limiter", LIMITER, "limiter", writable=frozenset({4, 5, 6, 7, 8, 9})),
    # Push setups
    CosemObjectDef(
        "0.0.25.9.0.255",
        "Periodic push setup",
        PUSH_SETUP,
        "periodic_push",
        writable=frozenset({3, 5, 6, 7}),
        methods=frozenset({1}),
    ),
    CosemObjectDef(
        "0.4.25.9.0.255",
        "Alert push setup",
        PUSH_SETUP,
        "alert_push",
        writable=frozenset({3, 5, 6, 7}),
        methods=frozenset({1}),
    ),
]

CATALOGUE: Mapping[str, CosemObjectDef] = MappingProxyType({o.obis: o for o in _OBJECTS})
assert len(CATALOGUE) == len(_OBJECTS), "duplicate OBIS code in the catalogue"

BY_QUANTITY: Mapping[str, CosemObjectDef] = MappingProxyType({o.quantity: o for o in _OBJECTS})

CLOCK_OBIS = "0.0.1.0.0.255"
DISCONNECT_CONTROL_OBIS = "0.0.96.3.10.255"
LIMITER_OBIS = "0.0.17.0.0.255"
ALERT_PUSH_OBIS = "0.4.25.9.0.255"
PERIODIC_PUSH_OBIS = "0.0.25.9.0.255"
ESW_OBIS = "0.0.94.91.18.255"
ESW_FILTER_OBIS = "0.0.94.91.26.255"
PAYMENT_MODE_OBIS = "0.0.94.96.20.255"
BALANCE_DISPLAY_OBIS = "0.0.94.96.24.255"
CAPTURE_PERIOD_OBIS = "1.0.0.8.4.255"
DEMAND_INTEGRATION_PERIOD_OBIS = "1.0.0.8.0.255"
DEVICE_ID_OBIS = "0.0.96.1.2.255"


def lookup(obis: str) -> CosemObjectDef:
    """The catalogue entry for ``obis``; ``UnknownObjectError`` if IS 15959 (as modelled) has none."""
    try:
        return CATALOGUE[obis]
    except KeyError:
        raise UnknownObjectError(f"no object {obis} in the IS 15959 catalogue") from None


def by_quantity(quantity: str) -> CosemObjectDef:
    try:
        return BY_QUANTITY[quantity]
    except KeyError:
        raise UnknownObjectError(f"no catalogue object for quantity {quantity!r}") from None
