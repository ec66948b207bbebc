"""The generic object surface a COSEM server uses: GET / SET / ACTION by (class id, OBIS, attribute)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from openprepaid.meters import event_codes as ec
from openprepaid.meters.access import METER_READER, PUBLIC_CLIENT, UTILITY_SETTINGS
from openprepaid.meters.catalogue import CLASS_SHAPES
from openprepaid.meters.event_codes import EventLog
from openprepaid.meters.meter_types import METER_TYPES, THREE_PHASE_LT_CT
from openprepaid.meters.values import INTEGER_TYPES, BitString, Integer8, Unsigned16, obis_to_bytes
from openprepaid.simulator.disconnect_control import Trigger
from openprepaid.simulator.errors import (
    DataAccessError,
    ObjectClassInconsistentError,
    ObjectUndefinedError,
    OtherReasonError,
    ReadWriteDeniedError,
    TypeUnmatchedError,
)
from openprepaid.simulator.load_model import Category

from .conftest import IST, ist, make_meter

CLOCK = "0.0.1.0.0.255"
DISCONNECT = "0.0.96.3.10.255"
PUSH = "0.4.25.9.0.255"


def _plain(value: object) -> bool:
    """Values are built only from the documented Python types."""
    if value is None or isinstance(value, bool | bytes | str | datetime | BitString):
        return not isinstance(value, datetime) or value.tzinfo is not None
    if isinstance(value, int):
        return isinstance(value, INTEGER_TYPES)
    if isinstance(value, tuple | list):
        return all(_plain(v) for v in value)
    return False


@pytest.mark.parametrize("code", list(METER_TYPES))
def test_every_attribute_of_every_object_can_be_read_and_is_typed(code: str) -> None:
    meter_type = METER_TYPES[code]
    category = Category.DOMESTIC if meter_type.phases == 1 else Category.INDUSTRIAL
    meter = make_meter(meter_type=meter_type, category=category)
    meter.advance(ist(2025, 3, 3, 10, 7))
    listed = meter.object_list()
    assert len({d.obis for d in listed}) == len(listed)
    for descriptor in listed:
        assert (descriptor.attributes, descriptor.methods) == CLASS_SHAPES[descriptor.class_id]
        for attribute in range(1, descriptor.attributes + 1):
            value = meter.get(descriptor.class_id, descriptor.obis, attribute)
            assert _plain(value), (descriptor.obis, attribute, value)
        assert meter.get(descriptor.class_id, descriptor.obis, 1) == obis_to_bytes(descriptor.obis)


def test_register_values_and_scalers() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 20))
    voltage = meter.get(3, "1.0.12.7.0.255", 2)
    assert isinstance(voltage, int) and 21_000 < voltage < 25_000
    assert meter.get(3, "1.0.12.7.0.255", 3) == (Integer8(-2), 35)
    assert meter.get(3, "1.0.1.8.0.255", 3) == (0, 30)
    assert meter.get(4, "1.0.1.6.0.255", 4) == 0
    assert isinstance(meter.get(4, "1.0.1.6.0.255", 5), datetime)
    power = meter.get(3, "1.0.1.7.0.255", 2)
    current = meter.get(3, "1.0.11.7.0.255", 2)
    pf = meter.get(3, "1.0.13.7.0.255", 2)
    assert isinstance(power, int) and isinstance(current, int) and isinstance(pf, int)
    # P = V * I * PF within rounding
    assert abs(power - voltage / 100 * current / 1000 * pf / 1000) < 0.02 * power + 5


def test_clock_attributes_and_time_zone() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 6, 30, 15))
    assert meter.get(8, CLOCK, 2) == datetime(2025, 3, 2, 6, 30, 15, tzinfo=IST)
    assert meter.get(8, CLOCK, 3) == -330
    assert meter.get(8, CLOCK, 9) == 1


def test_setting_the_clock_logs_151_and_moves_the_time() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    meter.set(8, CLOCK, 2, datetime(2025, 3, 2, 9, 5, tzinfo=IST))
    assert meter.get(8, CLOCK, 2) == datetime(2025, 3, 2, 9, 5, tzinfo=IST)
    log = meter.get(7, "0.0.99.98.3.255", 2)
    assert log == [(datetime(2025, 3, 2, 9, tzinfo=IST), ec.RTC_CHANGE)]
    assert meter.get(1, "0.0.96.11.3.255", 2) == ec.RTC_CHANGE  # last transaction event code
    meter.advance(ist(2025, 3, 2, 10))
    assert meter.get(8, CLOCK, 2) == datetime(2025, 3, 2, 10, 5, tzinfo=IST)


def test_setting_the_clock_backwards_keeps_profiles_consistent() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    registers = meter.registers()
    meter.set(8, CLOCK, 2, datetime(2025, 3, 2, 8, 30, tzinfo=IST))
    meter.advance(ist(2025, 3, 2, 9, 20))  # the meter reads 8:50: it has lived until 9:00 already
    assert meter.registers() == registers
    meter.advance(ist(2025, 3, 3, 1))
    rows = meter.get(7, "1.0.99.1.0.255", 2)
    daily = meter.get(7, "1.0.99.2.0.255", 2)
    assert isinstance(rows, list) and isinstance(daily, list)
    assert sum(r[2] for r in rows if r[0] <= daily[1][0]) == daily[1][1] - daily[0][1]


def test_clock_methods() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9, 7, 40))
    meter.action(8, CLOCK, 6, 20)
    assert meter.get(8, CLOCK, 2) == datetime(2025, 3, 2, 9, 8, tzinfo=IST)
    meter.action(8, CLOCK, 3, 0)
    assert meter.get(8, CLOCK, 2) == datetime(2025, 3, 2, 9, 8, tzinfo=IST)
    meter.action(8, CLOCK, 1, 0)
    assert meter.get(8, CLOCK, 2) == datetime(2025, 3, 2, 9, 15, tzinfo=IST)
    assert meter.event_codes(EventLog.TRANSACTION) == [ec.RTC_CHANGE] * 3
    with pytest.raises(OtherReasonError):
        meter.action(8, CLOCK, 6, 901)
    with pytest.raises(TypeUnmatchedError):
        meter.action(8, CLOCK, 6, "20")
    with pytest.raises(TypeUnmatchedError):
        meter.action(8, CLOCK, 1, "zero")
    with pytest.raises(ReadWriteDeniedError):
        meter.action(8, CLOCK, 4)  # adjust_to_preset_time is not offered


def test_capture_period_change_restarts_the_block_buffer_and_logs_153() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 3, 10, 20))
    assert meter.get(7, "1.0.99.1.0.255", 7) == 96 + 41
    meter.set(1, "1.0.0.8.4.255", 2, 1800)
    assert meter.get(1, "1.0.0.8.4.255", 2) == 1800
    assert meter.get(7, "1.0.99.1.0.255", 4) == 1800
    assert meter.get(7, "1.0.99.1.0.255", 7) == 0
    meter.advance(ist(2025, 3, 3, 11, 1))
    rows = meter.get(7, "1.0.99.1.0.255", 2)
    assert [r[0] for r in rows] == [datetime(2025, 3, 3, 10, 30, tzinfo=IST), datetime(2025, 3, 3, 11, tzinfo=IST)]  # type: ignore[union-attr]
    assert meter.event_codes(EventLog.TRANSACTION) == [ec.CAPTURE_PERIOD_CHANGE]
    with pytest.raises(OtherReasonError):
        meter.set(1, "1.0.0.8.4.255", 2, 600)
    meter.set(1, "1.0.0.8.0.255", 2, 900)
    assert meter.dip_s == 900 and meter.event_codes(EventLog.TRANSACTION)[-1] == ec.DEMAND_INTEGRATION_PERIOD_CHANGE


def test_payment_mode_and_balance_display() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    assert meter.get(1, "0.0.94.96.20.255", 2) == 1
    meter.set(1, "0.0.94.96.20.255", 2, 0)
    meter.set(1, "0.0.94.96.20.255", 2, 0)
    meter.set(1, "0.0.94.96.20.255", 2, 1)
    assert meter.event_codes(EventLog.OTHER) == [ec.POSTPAID_MODE, ec.PREPAID_MODE]
    meter.set(1, "0.0.94.96.24.255", 2, -12_345)
    assert meter.get(1, "0.0.94.96.24.255", 2) == -12_345
    with pytest.raises(TypeUnmatchedError):
        meter.set(1, "0.0.94.96.24.255", 2, "₹12")
    with pytest.raises(OtherReasonError):
        meter.set(1, "0.0.94.96.20.255", 2, 2)


def test_push_setup_destination_and_on_demand_push() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    objects = meter.get(40, PUSH, 2)
    assert isinstance(objects, list) and [o[1] for o in objects] == [
        obis_to_bytes("0.0.96.1.2.255"),
        obis_to_bytes(PUSH),
        obis_to_bytes(CLOCK),
        obis_to_bytes("0.0.94.91.18.255"),
    ]
    meter.set(40, PUSH, 3, (0, b"10.0.0.5:4059", 0))
    meter.set(40, PUSH, 6, 5)
    assert meter.get(40, PUSH, 3) == (0, b"10.0.0.5:4059", 0)
    assert meter.get(40, PUSH, 6) == 5
    meter.action(40, PUSH, 1, 0)
    (push,) = meter.outbox.drain()
    assert push.destination == "10.0.0.5:4059" and push.push_setup_obis == PUSH
    with pytest.raises(TypeUnmatchedError):
        meter.set(40, PUSH, 3, b"10.0.0.5")
    with pytest.raises(TypeUnmatchedError):
        meter.set(40, PUSH, 6, 300)
    with pytest.raises(ReadWriteDeniedError):
        meter.set(40, PUSH, 2, [])


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda m: m.get(3, "1.0.99.99.0.255", 2), ObjectUndefinedError),
        (lambda m: m.get(1, "1.0.1.8.0.255", 2), ObjectClassInconsistentError),
        (lambda m: m.get(3, "1.0.1.8.0.255", 4), ObjectUndefinedError),
        (lambda m: m.get(3, "1.0.1.8.0.255", 0), ObjectUndefinedError),
        (lambda m: m.set(3, "1.0.1.8.0.255", 2, 0), ReadWriteDeniedError),
        (lambda m: m.set(7, "1.0.99.1.0.255", 4, 1800), ReadWriteDeniedError),
        (lambda m: m.set(8, CLOCK, 2, "2025-03-02"), TypeUnmatchedError),
        (lambda m: m.set(8, CLOCK, 2, datetime(2025, 3, 2)), TypeUnmatchedError),
        (lambda m: m.set(70, DISCONNECT, 4, 7), OtherReasonError),
        (lambda m: m.set(70, DISCONNECT, 4, True), TypeUnmatchedError),
        (lambda m: m.set(71, "0.0.17.0.0.255", 4, -1), TypeUnmatchedError),
        (lambda m: m.set(71, "0.0.17.0.0.255", 8, (1, 2)), TypeUnmatchedError),
        (lambda m: m.set(71, "0.0.17.0.0.255", 9, 5), TypeUnmatchedError),
        (lambda m: m.set(1, "0.0.94.91.26.255", 2, BitString(0, 64)), TypeUnmatchedError),
        (lambda m: m.action(70, DISCONNECT, 3), ObjectUndefinedError),
        (lambda m: m.action(3, "1.0.1.8.0.255", 1), ReadWriteDeniedError),
        (lambda m: m.action(7, "1.0.99.1.0.255", 1), ReadWriteDeniedError),
        (lambda m: m.get(3, "1.0.1.8.0.255", 2, object()), OtherReasonError),
    ],
)
def test_refusals_carry_the_data_access_result(call, error: type[DataAccessError]) -> None:  # type: ignore[no-untyped-def]
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    with pytest.raises(error) as caught:
        call(meter)
    assert caught.value.result_name and 1 <= caught.value.result_code <= 250


def test_result_codes_are_the_dlms_numbers() -> None:
    # IEC 62056-5-3 Data-Access-Result
    assert (ObjectUndefinedError.result_code, ObjectUndefinedError.result_name) == (4, "object-undefined")
    assert (ReadWriteDeniedError.result_code, TypeUnmatchedError.result_code) == (3, 12)
    assert (ObjectClassInconsistentError.result_code, OtherReasonError.result_code) == (9, 250)


def test_meters_without_a_relay_have_no_disconnect_control() -> None:
    meter = make_meter(meter_type=THREE_PHASE_LT_CT, category=Category.INDUSTRIAL)
    meter.advance(ist(2025, 3, 2, 9))
    with pytest.raises(ObjectUndefinedError):
        meter.get(70, DISCONNECT, 2)
    with pytest.raises(ObjectUndefinedError):
        meter.action(70, DISCONNECT, 1)
    assert not meter.apply_trigger(Trigger.REMOTE_DISCONNECT)


def test_access_rights_per_association() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    assert isinstance(meter.get(8, CLOCK, 2, client_sap=PUBLIC_CLIENT), datetime)
    with pytest.raises(ReadWriteDeniedError):
        meter.get(3, "1.0.1.8.0.255", 2, client_sap=PUBLIC_CLIENT)
    assert isinstance(meter.get(3, "1.0.1.8.0.255", 2, client_sap=METER_READER), int)
    with pytest.raises(ReadWriteDeniedError):
        meter.set(8, CLOCK, 2, datetime(2025, 3, 2, 9, tzinfo=IST), client_sap=METER_READER)
    with pytest.raises(ReadWriteDeniedError):
        meter.action(70, DISCONNECT, 1, client_sap=METER_READER)
    meter.action(70, DISCONNECT, 1, client_sap=UTILITY_SETTINGS)
    assert meter.get(70, DISCONNECT, 2, client_sap=UTILITY_SETTINGS) is False
    meter.set(8, CLOCK, 2, datetime(2025, 3, 2, 9, tzinfo=IST) + timedelta(seconds=3), client_sap=UTILITY_SETTINGS)


def test_name_plate_profile() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    (row,) = meter.get(7, "0.0.94.91.10.255", 2)  # type: ignore[misc]
    assert row[0] == meter.serial == meter.get(1, "0.0.96.1.0.255", 2)
    assert row[4] == 5 and isinstance(row[4], int)
    assert meter.get(1, "0.0.96.1.4.255", 2) == Unsigned16(row[7])
