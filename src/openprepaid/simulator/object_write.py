"""SET and ACTION on a virtual meter's objects (IEC 62056-5-3 services, IEC 62056-6-2 classes).

Writes that change the meter's configuration are logged as IS 15959 transaction events: clock
151, demand integration period 152, capture period 153 (which also restarts the block load
buffer), load limit 158 (and 159 / 160 when the limit function is switched on or off by a
threshold becoming non-zero or zero), ESW filter 165; a payment-mode change is logged in the
"other" log as 211 (post-paid) or 212 (pre-paid). Clock methods: 1 adjust_to_quarter,
2 adjust_to_measuring_period, 3 adjust_to_minute, 6 shift_time (±900 s). Disconnect control
methods 1 remote_disconnect and 2 remote_reconnect run the class 70 state machine; push setup
method 1 queues a push.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from openprepaid.meters import access
from openprepaid.meters import catalogue as cat
from openprepaid.meters import event_codes as ec
from openprepaid.meters.catalogue import CLASS_SHAPES, CosemObjectDef
from openprepaid.meters.event_codes import ESW_LENGTH
from openprepaid.meters.meter_types import CAPTURE_PERIODS_S
from openprepaid.meters.profiles import ProfileDef
from openprepaid.meters.values import BitString, Integer16, Integer32, Unsigned16, Unsigned32
from openprepaid.simulator.clock import to_epoch_s
from openprepaid.simulator.disconnect_control import MODES, Trigger
from openprepaid.simulator.errors import (
    ObjectUndefinedError,
    OtherReasonError,
    ReadWriteDeniedError,
    TypeUnmatchedError,
)
from openprepaid.simulator.object_access import check_attribute, push_config, resolve
from openprepaid.simulator.push import PushKind

if TYPE_CHECKING:
    from openprepaid.simulator.virtual_meter import VirtualMeter


def _int(value: object, kind: type[Unsigned16 | Unsigned32 | Integer16 | Integer32], what: str) -> int:
    if not kind.fits(value):
        raise TypeUnmatchedError(f"{what} must be a {kind.TYPE_NAME}, got {value!r}")
    assert isinstance(value, int)
    return value


def _aware(value: object, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise TypeUnmatchedError(f"{what} must be an aware date-time, got {value!r}")
    return value


def set_attribute(
    meter: VirtualMeter, class_id: int, obis: str, attribute: int, value: object, *, client_sap: int | None = None
) -> None:
    """Write one attribute; see the module docstring for the side effects."""
    entry = resolve(meter, class_id, obis)
    check_attribute(class_id, attribute)
    if isinstance(entry, ProfileDef) or attribute not in entry.writable:
        raise ReadWriteDeniedError(f"{obis} attribute {attribute} is read-only")
    if client_sap is not None and not access.attribute_access(client_sap, class_id, obis, attribute) & 2:
        raise ReadWriteDeniedError(f"client {client_sap} may not write {obis} attribute {attribute}")
    if class_id == cat.CLOCK:
        meter.set_clock(to_epoch_s(_aware(value, "the clock")))
    elif class_id == cat.DISCONNECT_CONTROL:
        mode = _int(value, Unsigned16, "control_mode")
        if mode not in MODES:
            raise OtherReasonError(f"control_mode {mode} outside 0..6")
        meter.control_mode = mode
    elif class_id == cat.LIMITER:
        _set_limiter(meter, attribute, value)
    elif class_id == cat.PUSH_SETUP:
        _set_push(meter, obis, attribute, value)
    else:
        _set_data(meter, entry, value)


def _set_data(meter: VirtualMeter, obj: CosemObjectDef, value: object) -> None:
    quantity = obj.quantity
    if quantity in ("capture_period", "demand_integration_period"):
        period = _int(value, Unsigned16, quantity)
        if period not in CAPTURE_PERIODS_S:
            raise OtherReasonError(f"{quantity} must be one of {CAPTURE_PERIODS_S} s")
        if quantity == "capture_period":
            meter.capture_period_s = period
            meter.block_start_lt = meter.slot_lt
            meter.log_event(ec.CAPTURE_PERIOD_CHANGE)
        else:
            meter.dip_s = period
            meter.dip_wh = meter.dip_vah = 0
            meter.log_event(ec.DEMAND_INTEGRATION_PERIOD_CHANGE)
    elif quantity == "esw_filter":
        if not isinstance(value, BitString) or value.length != ESW_LENGTH:
            raise TypeUnmatchedError(f"the ESW filter is a bit-string of {ESW_LENGTH}")
        meter.esw_filter = value.value
        meter.log_event(ec.ESW_FILTER_CHANGE)
    elif quantity == "payment_mode":
        mode = _int(value, Unsigned16, "payment mode")
        if mode not in (0, 1):
            raise OtherReasonError("payment mode is 1 (prepaid) or 0 (postpaid)")
        if mode != meter.payment_mode:
            meter.payment_mode = mode
            meter.log_event(ec.PREPAID_MODE if mode else ec.POSTPAID_MODE)
    elif quantity == "balance_display":
        meter.balance_paise = _int(value, Integer32, "the balance")
    else:  # pragma: no cover - the catalogue marks no other data object writable
        raise ReadWriteDeniedError(f"{obj.obis} is read-only")


def _set_limiter(meter: VirtualMeter, attribute: int, value: object) -> None:
    lim = meter.limiter
    assert lim is not None
    if attribute == 4:
        was = lim.threshold_normal_w
        lim.threshold_normal_w = _int(value, Unsigned32, "threshold_normal")
        meter.log_event(ec.LOAD_LIMIT_SET)
        if (was > 0) != (lim.threshold_normal_w > 0):
            meter.log_event(ec.LOAD_LIMIT_ENABLED if lim.threshold_normal_w else ec.LOAD_LIMIT_DISABLED)
    elif attribute == 5:
        lim.threshold_emergency_w = _int(value, Unsigned32, "threshold_emergency")
    elif attribute == 6:
        lim.min_over_s = _int(value, Unsigned32, "min_over_threshold_duration")
    elif attribute == 7:
        lim.min_under_s = _int(value, Unsigned32, "min_under_threshold_duration")
    elif attribute == 8:
        if not isinstance(value, tuple | list) or len(value) != 3:
            raise TypeUnmatchedError("emergency_profile is a structure {id, activation_time, duration}")
        profile_id = _int(value[0], Unsigned16, "emergency_profile_id")
        activation = to_epoch_s(_aware(value[1], "emergency_activation_time")) + meter.tz_s
        duration = _int(value[2], Unsigned32, "emergency_duration")
        lim.emergency_id, lim.emergency_activation_lt, lim.emergency_duration_s = profile_id, activation, duration
    else:
        if not isinstance(value, tuple | list):
            raise TypeUnmatchedError("emergency_profile_group_id_list is an array of long-unsigned")
        lim.group_ids = tuple(_int(v, Unsigned16, "group id") for v in value)
    lim.clear_over()
    meter.observe_power()


def _set_push(meter: VirtualMeter, obis: str, attribute: int, value: object) -> None:
    config = push_config(meter, obis)
    if attribute == 3:
        if not isinstance(value, tuple | list) or len(value) != 3:
            raise TypeUnmatchedError("send_destination_and_method is a structure {transport, destination, message}")
        destination = value[1]
        if not isinstance(destination, bytes | str):
            raise TypeUnmatchedError("destination is an octet-string")
        config.destination = destination.decode(errors="replace") if isinstance(destination, bytes) else destination
    elif attribute == 5:
        config.randomisation_s = _int(value, Unsigned16, "randomisation_start_interval")
    elif attribute == 6:
        retries = _int(value, Unsigned16, "number_of_retries")
        if retries > 255:
            raise TypeUnmatchedError("number_of_retries is an unsigned (0..255)")
        config.retries = retries
    else:
        config.repetition_delay_s = _int(value, Unsigned16, "repetition_delay")
    if meter.push_config is None:
        meter.push_config = {}
    meter.push_config[obis] = config


def invoke_method(
    meter: VirtualMeter, class_id: int, obis: str, method: int, params: object = None, *, client_sap: int | None = None
) -> object:
    """Invoke one method; returns its return parameters (None for every method modelled here)."""
    entry = resolve(meter, class_id, obis)
    if not 1 <= method <= CLASS_SHAPES[class_id][1]:
        raise ObjectUndefinedError(f"class {class_id} has no method {method}")
    if isinstance(entry, ProfileDef) or method not in entry.methods:
        raise ReadWriteDeniedError(f"method {method} of {obis} may not be invoked")
    if client_sap is not None and not access.method_access(client_sap, class_id, obis, method):
        raise ReadWriteDeniedError(f"client {client_sap} may not invoke {obis} method {method}")
    if class_id == cat.DISCONNECT_CONTROL:
        meter.apply_trigger(Trigger.REMOTE_DISCONNECT if method == 1 else Trigger.REMOTE_RECONNECT)
    elif class_id == cat.PUSH_SETUP:
        meter.push(PushKind.ON_DEMAND, None, obis)
    else:
        _clock_method(meter, method, params)
    return None


def _clock_method(meter: VirtualMeter, method: int, params: object) -> None:
    now = meter.clock_now_lt() - meter.tz_s
    local = now + meter.tz_s
    if method == 6:
        shift = _int(params, Integer16, "shift_time")
        if not -900 <= shift <= 900:
            raise OtherReasonError("shift_time is limited to ±900 s")
        meter.set_clock(now + shift)
        return
    if params is not None and not (isinstance(params, int) and not isinstance(params, bool)):
        raise TypeUnmatchedError("clock adjust methods take integer(0)")
    step = {1: 900, 2: meter.capture_period_s, 3: 60}[method]
    rounded = (local + step // 2) // step * step
    meter.set_clock(rounded - meter.tz_s)
