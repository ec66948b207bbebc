"""The IS 15959 catalogue, profiles and meter types (domain.md §4)."""

from __future__ import annotations

import pytest

from openprepaid.meters import catalogue as cat
from openprepaid.meters.catalogue import CATALOGUE, lookup
from openprepaid.meters.errors import UnknownObjectError
from openprepaid.meters.event_codes import EventLog
from openprepaid.meters.meter_types import (
    METER_TYPES,
    SINGLE_PHASE_WHOLE_CURRENT,
    THREE_PHASE_HT_CT_PT,
    THREE_PHASE_LT_CT,
    THREE_PHASE_WHOLE_CURRENT,
    Connection,
    MeterType,
    meter_type,
)
from openprepaid.meters.profiles import CLOCK_COLUMN, CaptureColumn, ProfileKind, profiles_for
from openprepaid.meters.units import Unit


@pytest.mark.parametrize(
    ("obis", "class_id"),
    [
        # domain.md §4 table
        ("0.0.1.0.0.255", 8),
        ("0.0.96.3.10.255", 70),
        ("0.0.17.0.0.255", 71),
        ("0.0.25.9.0.255", 40),
        ("0.4.25.9.0.255", 40),
        ("0.0.94.91.18.255", 1),
        ("0.0.94.91.26.255", 1),
        ("0.0.94.96.20.255", 1),
        ("0.0.94.96.24.255", 1),
        ("0.0.96.1.0.255", 1),
        ("0.0.96.1.1.255", 1),
        ("1.0.0.2.0.255", 1),
        ("1.0.0.8.4.255", 1),
        ("1.0.1.8.0.255", 3),
        ("1.0.2.8.0.255", 3),
        ("1.0.9.8.0.255", 3),
        ("1.0.12.7.0.255", 3),
        ("1.0.11.7.0.255", 3),
        ("1.0.91.7.0.255", 3),
        ("1.0.13.7.0.255", 3),
        ("1.0.14.7.0.255", 3),
        ("1.0.1.7.0.255", 3),
        ("1.0.1.6.0.255", 4),
    ],
)
def test_domain_objects_have_their_class(obis: str, class_id: int) -> None:
    assert lookup(obis).class_id == class_id


@pytest.mark.parametrize(
    ("obis", "unit", "unit_number"),
    [
        # IEC 62056-6-2 Table 4 (unit enumeration): Wh 30, VAh 31, varh 32, W 27, VA 28, V 35, A 33, Hz 44
        ("1.0.1.8.0.255", Unit.WH, 30),
        ("1.0.9.8.0.255", Unit.VAH, 31),
        ("1.0.5.8.0.255", Unit.VARH, 32),
        ("1.0.1.7.0.255", Unit.W, 27),
        ("1.0.9.7.0.255", Unit.VA, 28),
        ("1.0.12.7.0.255", Unit.V, 35),
        ("1.0.11.7.0.255", Unit.A, 33),
        ("1.0.14.7.0.255", Unit.HZ, 44),
        ("0.0.94.91.14.255", Unit.MINUTE, 6),
    ],
)
def test_register_units_are_the_dlms_numbers(obis: str, unit: Unit, unit_number: int) -> None:
    obj = lookup(obis)
    assert obj.unit is unit and int(unit) == unit_number
    assert obj.scaler is not None and obj.has_scaler_unit


def test_every_register_has_a_unit_scaler_and_value_type() -> None:
    for obj in CATALOGUE.values():
        if obj.class_id in (cat.REGISTER, cat.EXTENDED_REGISTER):
            assert obj.unit is not None and obj.scaler is not None and obj.value_type, obj.obis
        if obj.class_id == cat.DATA:
            assert obj.value_type, obj.obis


def test_unknown_obis_raises() -> None:
    with pytest.raises(UnknownObjectError):
        lookup("1.0.99.99.99.255")
    with pytest.raises(UnknownObjectError):
        cat.by_quantity("no-such-quantity")


def _all_columns(phases: int, relay: bool) -> list[CaptureColumn]:
    return [c for p in profiles_for(phases, relay) for c in p.columns]


@pytest.mark.parametrize(("phases", "relay"), [(1, True), (3, True), (3, False)])
def test_every_capture_column_is_a_catalogued_object_of_the_same_class(phases: int, relay: bool) -> None:
    for column in _all_columns(phases, relay):
        obj = lookup(column.obis)
        assert obj.class_id == column.class_id, column
        assert 1 <= column.attribute <= cat.CLASS_SHAPES[column.class_id][0]


def test_single_phase_block_load_columns_per_domain_md() -> None:
    block = next(p for p in profiles_for(1, True) if p.kind is ProfileKind.BLOCK_LOAD)
    assert block.obis == "1.0.99.1.0.255"
    assert [c.obis for c in block.columns] == [
        "0.0.1.0.0.255",
        "1.0.12.27.0.255",
        "1.0.1.29.0.255",
        "1.0.9.29.0.255",
        "1.0.2.29.0.255",
        "1.0.11.27.0.255",
    ]
    assert block.scaler_profile == "1.0.94.91.4.255"


def test_profiles_and_their_scaler_profiles() -> None:
    profiles = {p.obis: p for p in profiles_for(3, True)}
    expected = {
        "1.0.94.91.0.255": "1.0.94.91.3.255",
        "1.0.99.1.0.255": "1.0.94.91.4.255",
        "1.0.99.2.0.255": "1.0.94.91.5.255",
        "1.0.98.1.0.255": "1.0.94.91.6.255",
    }
    for obis, scaler_obis in expected.items():
        assert profiles[obis].scaler_profile == scaler_obis
        scaler = profiles[scaler_obis]
        assert scaler.kind is ProfileKind.SCALER and scaler.scales == obis
        registers = [c.obis for c in profiles[obis].columns if c.attribute == 2 and lookup(c.obis).has_scaler_unit]
        assert [c.obis for c in scaler.columns] == registers
        assert all(c.attribute == 3 for c in scaler.columns)
    for log in EventLog:
        assert profiles[log.obis].event_log is log
        assert profiles[log.obis].columns[:2] == (CLOCK_COLUMN, CaptureColumn(1, log.event_code_obis, 2))


def test_time_columns() -> None:
    profiles = {p.obis: p for p in profiles_for(1, True)}
    assert profiles["1.0.99.1.0.255"].time_column == CLOCK_COLUMN
    assert profiles["1.0.98.1.0.255"].time_column == CaptureColumn(3, "0.0.0.1.2.255", 2)
    assert profiles["1.0.94.91.3.255"].time_column is None


def test_meter_types_relays_and_objects() -> None:
    assert set(METER_TYPES) == {"1P-WC", "3P-WC", "3P-LTCT", "3P-HTCTPT"}
    for t in (SINGLE_PHASE_WHOLE_CURRENT, THREE_PHASE_WHOLE_CURRENT):
        obis = {o.obis for o in t.objects}
        assert t.has_relay and "0.0.96.3.10.255" in obis and "0.0.17.0.0.255" in obis
    for t in (THREE_PHASE_LT_CT, THREE_PHASE_HT_CT_PT):
        obis = {o.obis for o in t.objects}
        assert not t.has_relay and "0.0.96.3.10.255" not in obis and "0.0.17.0.0.255" not in obis
        assert t.connection in (Connection.CT, Connection.CT_PT)
    single = {o.quantity for o in SINGLE_PHASE_WHOLE_CURRENT.objects}
    three = {o.quantity for o in THREE_PHASE_WHOLE_CURRENT.objects}
    assert "voltage" in single and "voltage_r" not in single and "neutral_current" in single
    assert "voltage_r" in three and "voltage" not in three and "lag_varh" in three
    assert meter_type("1P-WC") is SINGLE_PHASE_WHOLE_CURRENT
    with pytest.raises(UnknownObjectError):
        meter_type("9P")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"phases": 2},
        {"capture_period_s": 600},
        {"demand_integration_period_s": 1000},
        {"has_relay": False},
        {"event_log_entries": (1, 2, 3)},
        {"event_log_entries": (100, 100, 100, 50, 100, 0, 50)},
    ],
)
def test_impossible_meter_types_are_refused(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {
        "code": "X",
        "description": "x",
        "phases": 1,
        "connection": Connection.WHOLE_CURRENT,
        "has_relay": True,
    }
    with pytest.raises(ValueError):
        MeterType(**{**base, **kwargs})  # type: ignore[arg-type]
