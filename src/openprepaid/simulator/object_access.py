"""The generic COSEM object surface of a virtual meter: GET by (class id, OBIS, attribute).

This is what a COSEM server (IEC 62056-5-3 GET / SET / ACTION services) calls for a meter:

* ``get_attribute(meter, class_id, obis, attribute, selection=None, client_sap=None)``
* ``set_attribute(...)`` and ``invoke_method(...)`` in ``object_write``
* ``object_list(meter_type)`` for the association's object_list (class 15 attribute 2)

Values follow ``openprepaid.meters.values``. Refusals raise ``errors.DataAccessError`` subclasses
carrying the Data-Access-Result. With ``client_sap`` given, the IS 15959 access rights of that
association (``openprepaid.meters.access``) apply; ``None`` means unrestricted (tests, tools).
A meter without supply answers nothing (temporary-failure): a real one would not be reachable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from openprepaid.meters import access
from openprepaid.meters import catalogue as cat
from openprepaid.meters.catalogue import CLASS_SHAPES, CosemObjectDef
from openprepaid.meters.event_codes import ESW_LENGTH, EventLog
from openprepaid.meters.meter_types import MeterType
from openprepaid.meters.profiles import INSTANTANEOUS_OBIS, ProfileDef
from openprepaid.meters.values import (
    BitString,
    Enumerated,
    Integer8,
    Integer16,
    Unsigned8,
    Unsigned16,
    Unsigned32,
    obis_to_bytes,
)
from openprepaid.simulator import readings as rd
from openprepaid.simulator.clock import to_datetime
from openprepaid.simulator.errors import (
    ObjectClassInconsistentError,
    ObjectUndefinedError,
    OtherReasonError,
    ReadWriteDeniedError,
    TemporaryFailureError,
)
from openprepaid.simulator.limiter import LIMITER_MONITORED_OBIS
from openprepaid.simulator.profile_buffer import Selection, buffer_for, name_plate_values, read_buffer
from openprepaid.simulator.push import PushConfig
from openprepaid.simulator.typed_values import typed

if TYPE_CHECKING:
    from openprepaid.simulator.virtual_meter import VirtualMeter

#: date-time with every field "not specified" (IEC 62056-6-2 §4.1.6.1), as its 12 octets.
DATE_TIME_NOT_SPECIFIED = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0xFF])
DISCONNECT_SCRIPT_TABLE_OBIS = "0.0.10.0.106.255"

CosemEntry = CosemObjectDef | ProfileDef


@dataclass(frozen=True, slots=True)
class ObjectDescriptor:
    """One object_list element: class, version, logical name and how many attributes and methods."""

    class_id: int
    version: int
    obis: str
    attributes: int
    methods: int


@cache
def object_index(meter_type: MeterType) -> dict[str, CosemEntry]:
    index: dict[str, CosemEntry] = {o.obis: o for o in meter_type.objects}
    index.update({p.obis: p for p in meter_type.profiles})
    return index


def class_of(entry: CosemEntry) -> int:
    return cat.PROFILE_GENERIC if isinstance(entry, ProfileDef) else entry.class_id


@cache
def object_list(meter_type: MeterType) -> tuple[ObjectDescriptor, ...]:
    """Every object a meter of this type serves (association objects are the server's to add)."""
    return tuple(
        ObjectDescriptor(class_of(e), cat.CLASS_VERSIONS[class_of(e)], obis, *CLASS_SHAPES[class_of(e)])
        for obis, e in object_index(meter_type).items()
    )


def resolve(meter: VirtualMeter, class_id: int, obis: str) -> CosemEntry:
    entry = object_index(meter.meter_type).get(obis)
    if entry is None:
        raise ObjectUndefinedError(f"meter {meter.serial} has no object {obis}")
    if class_of(entry) != class_id:
        raise ObjectClassInconsistentError(f"{obis} is class {class_of(entry)}, not {class_id}")
    if not meter.powered:
        raise TemporaryFailureError(f"meter {meter.serial} has no supply")
    return entry


def check_attribute(class_id: int, attribute: int) -> None:
    if not 1 <= attribute <= CLASS_SHAPES[class_id][0]:
        raise ObjectUndefinedError(f"class {class_id} has no attribute {attribute}")


def get_attribute(
    meter: VirtualMeter,
    class_id: int,
    obis: str,
    attribute: int,
    *,
    selection: Selection | None = None,
    client_sap: int | None = None,
) -> object:
    """The value of one attribute (see module docstring); ``selection`` only for a profile's buffer."""
    entry = resolve(meter, class_id, obis)
    check_attribute(class_id, attribute)
    if client_sap is not None and not access.attribute_access(client_sap, class_id, obis, attribute) & 1:
        raise ReadWriteDeniedError(f"client {client_sap} may not read {obis} attribute {attribute}")
    if attribute == 1:
        return obis_to_bytes(obis)
    if isinstance(entry, ProfileDef):
        return _get_profile(meter, entry, attribute, selection)
    if selection is not None:
        raise OtherReasonError("selective access is only supported on a profile's buffer")
    special = _SPECIAL_CLASSES.get(class_id)
    if special is not None:
        return special(meter, obis, attribute)
    return _get_value(meter, entry, attribute)


def _get_value(meter: VirtualMeter, obj: CosemObjectDef, attribute: int) -> object:
    if attribute == 3:
        return (Integer8(obj.scaler or 0), Enumerated(int(obj.unit or 255)))
    if attribute == 4:  # extended register status
        return Unsigned8(0)
    if attribute == 5:
        return typed("date-time", rd.present_values(meter, with_block=False)[f"{obj.quantity}_time"], meter.tz_s)
    if obj.class_id == cat.DATA:
        return typed(obj.value_type, _data_value(meter, obj.quantity), meter.tz_s)
    values = rd.present_values(meter, with_block=obj.quantity.startswith("block_"))
    return typed(obj.value_type, values.get(obj.quantity, 0), meter.tz_s)


def _data_value(meter: VirtualMeter, quantity: str) -> object:
    if quantity.startswith("event_code_"):
        log = EventLog(int(quantity.rsplit("_", 1)[1]))
        return meter.events.last_code(log) if meter.events is not None else 0
    simple: dict[str, object] = {
        "tamper_count": meter.tamper_count,
        "billing_count": meter.billing_count,
        "programming_count": meter.programming_count,
        "demand_integration_period": meter.dip_s,
        "capture_period": meter.capture_period_s,
        "esw": meter.esw_bits(),
        "esw_filter": BitString(meter.esw_filter, ESW_LENGTH),
        "payment_mode": meter.payment_mode,
        "balance_display": meter.balance_paise,
    }
    if quantity in simple:
        return simple[quantity]
    return name_plate_values(meter)[quantity]


def _get_profile(meter: VirtualMeter, profile: ProfileDef, attribute: int, selection: Selection | None) -> object:
    if attribute == 2:
        return read_buffer(meter, profile, selection)
    if selection is not None:
        raise OtherReasonError("selective access is only supported on a profile's buffer")
    buffer = buffer_for(meter, profile)
    if attribute == 3:
        return [
            (Unsigned16(c.class_id), obis_to_bytes(c.obis), Integer8(c.attribute), Unsigned16(c.data_index))
            for c in profile.columns
        ]
    values: tuple[object, ...] = (
        Unsigned32(buffer.capture_period_s()),
        Enumerated(1),  # sort_method: fifo
        (Unsigned16(0), bytes(6), Integer8(0), Unsigned16(0)),  # sort_object: none
        Unsigned32(buffer.entries_in_use()),
        Unsigned32(buffer.profile_entries()),
    )
    return values[attribute - 4]


def _get_disconnect_control(meter: VirtualMeter, _obis: str, attribute: int) -> object:
    values: tuple[object, ...] = (
        meter.output_state,
        Enumerated(meter.control_state),
        Enumerated(meter.control_mode),
    )
    return values[attribute - 2]


def _get_clock(meter: VirtualMeter, _obis: str, attribute: int) -> object:
    values: tuple[object, ...] = (
        to_datetime(meter.clock_now_lt() - meter.tz_s, meter.tz_s),
        Integer16(-meter.tz_s // 60),  # deviation: UTC = local + deviation (IEC 62056-6-2 date-time)
        Unsigned8(0),  # clock status: valid
        DATE_TIME_NOT_SPECIFIED,
        DATE_TIME_NOT_SPECIFIED,
        Integer8(0),
        False,  # no daylight saving in the modelled zones
        Enumerated(1),  # internal crystal
    )
    return values[attribute - 2]


def _get_limiter(meter: VirtualMeter, _obis: str, attribute: int) -> object:
    lim = meter.limiter
    assert lim is not None  # the limiter object only exists on meters with a relay
    start = lim.emergency_activation_lt
    activation: object = DATE_TIME_NOT_SPECIFIED if start is None else to_datetime(start - meter.tz_s, meter.tz_s)
    script = obis_to_bytes(DISCONNECT_SCRIPT_TABLE_OBIS)
    values: tuple[object, ...] = (
        (Unsigned16(cat.REGISTER), obis_to_bytes(LIMITER_MONITORED_OBIS), Integer8(2)),
        Unsigned32(lim.threshold_active(meter.lived_lt)),
        Unsigned32(lim.threshold_normal_w),
        Unsigned32(lim.threshold_emergency_w),
        Unsigned32(lim.min_over_s),
        Unsigned32(lim.min_under_s),
        (Unsigned16(lim.emergency_id), activation, Unsigned32(lim.emergency_duration_s)),
        [Unsigned16(g) for g in lim.group_ids],
        lim.emergency_active(meter.lived_lt),
        ((script, Unsigned16(1)), (script, Unsigned16(2))),
    )
    return values[attribute - 2]


def push_object_list(obis: str) -> list[tuple[Unsigned16, bytes, Integer8, Unsigned16]]:
    """IS 15959 push object list: device ID, the push setup itself, clock, then ESW or instantaneous data."""
    last = (cat.DATA, cat.ESW_OBIS, 2) if obis == cat.ALERT_PUSH_OBIS else (cat.PROFILE_GENERIC, INSTANTANEOUS_OBIS, 2)
    items = [(cat.DATA, cat.DEVICE_ID_OBIS, 2), (cat.PUSH_SETUP, obis, 1), (cat.CLOCK, cat.CLOCK_OBIS, 2), last]
    return [(Unsigned16(c), obis_to_bytes(o), Integer8(a), Unsigned16(0)) for c, o, a in items]


def push_config(meter: VirtualMeter, obis: str) -> PushConfig:
    config = meter.push_config.get(obis) if meter.push_config else None
    return config if config is not None else PushConfig(destination=meter.outbox.default_destination)


def _get_push(meter: VirtualMeter, obis: str, attribute: int) -> object:
    config = push_config(meter, obis)
    values: tuple[object, ...] = (
        push_object_list(obis),
        (Enumerated(0), config.destination.encode(), Enumerated(0)),  # TCP, destination, A-XDR APDU
        [],  # communication window: always
        Unsigned16(config.randomisation_s),
        Unsigned8(config.retries),
        Unsigned16(config.repetition_delay_s),
    )
    return values[attribute - 2]


_SPECIAL_CLASSES: dict[int, Callable[[VirtualMeter, str, int], object]] = {
    cat.CLOCK: _get_clock,
    cat.DISCONNECT_CONTROL: _get_disconnect_control,
    cat.LIMITER: _get_limiter,
    cat.PUSH_SETUP: _get_push,
}
