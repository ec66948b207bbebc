"""Class 70 state machine over every (control mode, state, trigger), against the Blue Book's mode list.

The expectations are written from the control_mode descriptions of IEC 62056-6-2 (class 70,
attribute 4), not from the implementation's table: for each mode, which disconnections (remote,
manual, local) and reconnections are possible and where they lead.
"""

from __future__ import annotations

import itertools

import pytest

from openprepaid.meters import event_codes as ec
from openprepaid.meters.event_codes import EventLog
from openprepaid.simulator.disconnect_control import ControlState, Trigger, next_state

from .conftest import HOUR, ist, make_meter

D, C, R = ControlState.DISCONNECTED, ControlState.CONNECTED, ControlState.READY_FOR_RECONNECTION
T = Trigger

# Every mode 1..6 allows remote disconnection from connected and from ready (b, c) and local disconnection (g).
_COMMON = {
    (C, T.REMOTE_DISCONNECT): D,
    (R, T.REMOTE_DISCONNECT): D,
    (C, T.LOCAL_DISCONNECT): R,
    (R, T.MANUAL_RECONNECT): C,
}
_MANUAL_DISCONNECT = {(C, T.MANUAL_DISCONNECT): R}
_REMOTE_TO_READY = {(D, T.REMOTE_RECONNECT): R}
_REMOTE_DIRECT = {(D, T.REMOTE_RECONNECT): C}
_LOCAL_RECONNECT = {(R, T.LOCAL_RECONNECT): C}

EXPECTED: dict[int, dict[tuple[ControlState, Trigger], ControlState]] = {
    0: {},  # always connected
    1: {**_COMMON, **_MANUAL_DISCONNECT, **_REMOTE_TO_READY},
    2: {**_COMMON, **_MANUAL_DISCONNECT, **_REMOTE_DIRECT},
    3: {**_COMMON, **_REMOTE_TO_READY},
    4: {**_COMMON, **_REMOTE_DIRECT},
    5: {**_COMMON, **_MANUAL_DISCONNECT, **_REMOTE_TO_READY, **_LOCAL_RECONNECT},
    6: {**_COMMON, **_REMOTE_TO_READY, **_LOCAL_RECONNECT},
}


@pytest.mark.parametrize(("mode", "state", "trigger"), list(itertools.product(range(7), ControlState, Trigger)))
def test_every_mode_state_and_trigger(mode: int, state: ControlState, trigger: Trigger) -> None:
    expected = EXPECTED[mode].get((state, trigger))
    result = next_state(mode, state, trigger)
    assert (result[1] if result else None) == expected


@pytest.mark.parametrize("mode", [-1, 7, 99])
def test_modes_outside_0_to_6_are_refused(mode: int) -> None:
    with pytest.raises(ValueError, match="control_mode"):
        next_state(mode, C, T.REMOTE_DISCONNECT)


def _meter_in(mode: int, state: ControlState):  # type: ignore[no-untyped-def]
    meter = make_meter(control_mode=mode)
    meter.advance(ist(2025, 3, 2, 8))
    meter.control_state = state
    meter.sync_output(True)
    return meter


@pytest.mark.parametrize(("mode", "state", "trigger"), list(itertools.product(range(7), ControlState, Trigger)))
def test_the_meter_follows_the_table_and_logs_output_changes(mode: int, state: ControlState, trigger: Trigger) -> None:
    meter = _meter_in(mode, state)
    before = meter.event_codes(EventLog.CONTROL)
    was_closed = meter.output_state
    changed = meter.apply_trigger(trigger)
    expected = EXPECTED[mode].get((state, trigger))
    assert changed == (expected is not None)
    assert meter.control_state == (expected if expected is not None else state)
    assert meter.output_state == (meter.control_state == C)
    new_codes = meter.event_codes(EventLog.CONTROL)[len(before) :]
    if was_closed and not meter.output_state:
        assert new_codes == [ec.RELAY_DISCONNECTED]
    elif not was_closed and meter.output_state:
        assert new_codes == [ec.RELAY_CONNECTED]
    else:
        assert new_codes == []


def test_remote_methods_through_the_object_surface_in_mode_2() -> None:
    meter = make_meter(control_mode=2)
    meter.advance(ist(2025, 3, 2, 9))
    meter.action(70, "0.0.96.3.10.255", 1)
    assert meter.get(70, "0.0.96.3.10.255", 2) is False
    assert meter.get(70, "0.0.96.3.10.255", 3) == 0
    meter.advance(ist(2025, 3, 2, 10))
    meter.action(70, "0.0.96.3.10.255", 2)
    assert meter.get(70, "0.0.96.3.10.255", 2) is True
    assert meter.get(70, "0.0.96.3.10.255", 3) == 1


def test_mode_1_remote_reconnect_waits_for_the_consumer_button() -> None:
    meter = make_meter(control_mode=1, manual_reconnect_delay_s=300)
    meter.advance(ist(2025, 3, 2, 9))
    meter.action(70, "0.0.96.3.10.255", 1)
    meter.action(70, "0.0.96.3.10.255", 2)
    assert meter.get(70, "0.0.96.3.10.255", 3) == 2  # ready_for_reconnection
    assert meter.output_state is False
    meter.advance(ist(2025, 3, 2, 9) + 299)
    assert meter.output_state is False
    meter.advance(ist(2025, 3, 2, 9) + HOUR)
    assert meter.output_state is True and meter.control_state == C


def test_mode_0_ignores_remote_disconnect() -> None:
    meter = make_meter(control_mode=0)
    meter.advance(ist(2025, 3, 2, 9))
    assert meter.action(70, "0.0.96.3.10.255", 1) is None
    assert meter.get(70, "0.0.96.3.10.255", 2) is True
    assert meter.event_codes(EventLog.CONTROL) == []
