"""IS 15959 associations: public client reads little, meter reader reads all, utility settings writes."""

from __future__ import annotations

from openprepaid.meters.access import (
    METER_READER,
    PUBLIC_CLIENT,
    UTILITY_SETTINGS,
    AttributeAccess,
    attribute_access,
    method_access,
)

DISCONNECT = "0.0.96.3.10.255"
CLOCK = "0.0.1.0.0.255"
ENERGY = "1.0.1.8.0.255"
BLOCK = "1.0.99.1.0.255"


def test_public_client_reads_clock_and_identity_only() -> None:
    assert attribute_access(PUBLIC_CLIENT, 8, CLOCK, 2) is AttributeAccess.READ_ONLY
    assert attribute_access(PUBLIC_CLIENT, 1, "0.0.96.1.0.255", 2) is AttributeAccess.READ_ONLY
    assert attribute_access(PUBLIC_CLIENT, 3, ENERGY, 2) is AttributeAccess.NO_ACCESS
    assert attribute_access(PUBLIC_CLIENT, 3, ENERGY, 1) is AttributeAccess.READ_ONLY  # logical names are public
    assert not method_access(PUBLIC_CLIENT, 70, DISCONNECT, 1)


def test_meter_reader_reads_everything_and_writes_nothing() -> None:
    assert attribute_access(METER_READER, 3, ENERGY, 2) is AttributeAccess.READ_ONLY
    assert attribute_access(METER_READER, 7, BLOCK, 2) is AttributeAccess.READ_ONLY
    assert attribute_access(METER_READER, 8, CLOCK, 2) is AttributeAccess.READ_ONLY
    assert not method_access(METER_READER, 70, DISCONNECT, 1)


def test_utility_settings_writes_writable_attributes_and_invokes_methods() -> None:
    assert attribute_access(UTILITY_SETTINGS, 8, CLOCK, 2) is AttributeAccess.READ_AND_WRITE
    assert attribute_access(UTILITY_SETTINGS, 70, DISCONNECT, 4) is AttributeAccess.READ_AND_WRITE
    assert attribute_access(UTILITY_SETTINGS, 70, DISCONNECT, 2) is AttributeAccess.READ_ONLY
    assert attribute_access(UTILITY_SETTINGS, 71, "0.0.17.0.0.255", 4) is AttributeAccess.READ_AND_WRITE
    assert attribute_access(UTILITY_SETTINGS, 3, ENERGY, 2) is AttributeAccess.READ_ONLY
    assert method_access(UTILITY_SETTINGS, 70, DISCONNECT, 1) and method_access(UTILITY_SETTINGS, 70, DISCONNECT, 2)
    assert not method_access(UTILITY_SETTINGS, 70, DISCONNECT, 3)
    assert not method_access(UTILITY_SETTINGS, 3, ENERGY, 1)  # no register reset
    assert not method_access(UTILITY_SETTINGS, 1, DISCONNECT, 1)  # wrong class


def test_unknown_clients_and_objects_get_nothing() -> None:
    assert attribute_access(99, 8, CLOCK, 2) is AttributeAccess.NO_ACCESS
    assert not method_access(UTILITY_SETTINGS, 1, "9.9.9.9.9.9", 1)
