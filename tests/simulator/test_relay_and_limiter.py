"""Relay and limiter behaviour: no consumption while open, trips logged and pushed, reconnection per mode."""

from __future__ import annotations

from datetime import datetime

from openprepaid.meters import event_codes as ec
from openprepaid.meters.event_codes import EswBit, EventLog
from openprepaid.simulator.disconnect_control import ControlState
from openprepaid.simulator.push import PushKind

from .conftest import DAY, HOUR, IST, ist, make_meter

DISCONNECT = "0.0.96.3.10.255"
LIMITER = "0.0.17.0.0.255"
BLOCK = "1.0.99.1.0.255"


def test_open_relay_means_zero_consumption_and_zero_interval_energy() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 18))
    meter.action(70, DISCONNECT, 1)
    before = meter.registers()
    meter.advance(ist(2025, 3, 3, 18))
    after = meter.registers()
    assert after[:5] == before[:5]  # import, export, VAh: nothing while open
    assert after[5] - before[5] == DAY  # but the meter stayed powered
    assert meter.get(3, "1.0.1.7.0.255", 2) == 0  # active power
    assert meter.get(3, "1.0.11.7.0.255", 2) == 0  # current
    assert meter.get(3, "1.0.12.7.0.255", 2) > 20_000  # voltage still there  # type: ignore[operator]
    rows = meter.get(7, BLOCK, 2)
    assert isinstance(rows, list)
    first, last = datetime(2025, 3, 2, 18, 15, tzinfo=IST), datetime(2025, 3, 3, 18, tzinfo=IST)
    open_rows = [r for r in rows if first <= r[0] <= last]
    assert len(open_rows) == 96
    assert all(r[2] == 0 and r[3] == 0 and r[5] == 0 for r in open_rows)  # kWh, kVAh, average current
    assert all(r[1] > 20_000 for r in open_rows)  # average voltage


def test_disconnect_mid_interval_prorates_that_interval() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 20, 5))
    meter.action(70, DISCONNECT, 1)
    meter.advance(ist(2025, 3, 2, 21))
    rows = {r[0]: r for r in meter.get(7, BLOCK, 2)}  # type: ignore[union-attr]
    full = meter.day(meter.slot_lt // DAY).import_wh[80]
    assert rows[datetime(2025, 3, 2, 20, 15, tzinfo=IST)][2] == full * 300 // 900
    assert rows[datetime(2025, 3, 2, 20, 30, tzinfo=IST)][2] == 0


def _tripping_meter(**kwargs: object):  # type: ignore[no-untyped-def]
    meter = make_meter(limiter_w=900, **kwargs)
    meter.advance(ist(2025, 3, 3))
    return meter


def test_limiter_trip_opens_the_relay_logs_and_pushes() -> None:
    meter = _tripping_meter(control_mode=4)
    control = meter.get(7, "0.0.99.98.6.255", 2)
    other = meter.get(7, "0.0.99.98.4.255", 2)
    assert isinstance(control, list) and isinstance(other, list)
    assert control[0][1] == ec.RELAY_DISCONNECTED
    assert other[0][1] == ec.OVERLOAD_OCCURRENCE
    assert other[0][0] == control[0][0]
    assert other[0][2] * 230 // 1000 > 900 * 0.9  # the snapshot current shows the overload  # type: ignore[operator]
    assert meter.get(70, DISCONNECT, 2) is False
    assert meter.get(70, DISCONNECT, 3) == ControlState.READY_FOR_RECONNECTION
    # a trip happens min_over_threshold_duration after the load rose above the threshold
    trip_lt = meter.events.entries(EventLog.CONTROL)[0][0]  # type: ignore[union-attr]
    assert trip_lt % 900 == meter.limiter.min_over_s  # type: ignore[union-attr]
    assert meter.slot_power_w(trip_lt) > 900
    pushes = meter.outbox.drain()
    relay = [p for p in pushes if p.kind is PushKind.RELAY_CHANGE]
    assert relay and relay[0].event_status_word is not None
    assert relay[0].event_status_word.bit(EswBit.RELAY_CHANGE)
    # mode 4 with no consumer action: stays off, nothing consumed
    before = meter.registers()[0]
    meter.advance(ist(2025, 3, 4))
    assert meter.registers()[0] == before


def test_after_a_trip_the_consumer_button_reconnects_and_overload_restores() -> None:
    meter = _tripping_meter(control_mode=4, manual_reconnect_delay_s=600)
    codes = meter.event_codes(EventLog.CONTROL)
    assert codes[:2] == [ec.RELAY_DISCONNECTED, ec.RELAY_CONNECTED]
    entries = meter.events.entries(EventLog.CONTROL)  # type: ignore[union-attr]
    assert entries[1][0] - entries[0][0] == 600
    assert meter.event_codes(EventLog.OTHER)[:2] == [ec.OVERLOAD_OCCURRENCE, ec.OVERLOAD_RESTORATION]


def test_mode_6_reconnects_locally_after_the_under_threshold_duration() -> None:
    meter = _tripping_meter(control_mode=6)
    entries = meter.events.entries(EventLog.CONTROL)  # type: ignore[union-attr]
    assert [e[1] for e in entries[:2]] == [ec.RELAY_DISCONNECTED, ec.RELAY_CONNECTED]
    assert entries[1][0] - entries[0][0] == meter.limiter.min_under_s  # type: ignore[union-attr]


def test_mode_0_cannot_disconnect_so_the_overload_is_only_logged_once() -> None:
    meter = _tripping_meter(control_mode=0)
    assert meter.event_codes(EventLog.CONTROL) == []
    other = meter.event_codes(EventLog.OTHER)
    assert other and other[0] == ec.OVERLOAD_OCCURRENCE
    assert other.count(ec.OVERLOAD_OCCURRENCE) - other.count(ec.OVERLOAD_RESTORATION) in (0, 1)
    assert meter.output_state is True


def test_limiter_settings_are_logged_as_transactions() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    meter.set(71, LIMITER, 4, 3000)
    meter.set(71, LIMITER, 4, 4000)
    meter.set(71, LIMITER, 4, 0)
    assert meter.event_codes(EventLog.TRANSACTION) == [
        ec.LOAD_LIMIT_SET,
        ec.LOAD_LIMIT_ENABLED,
        ec.LOAD_LIMIT_SET,
        ec.LOAD_LIMIT_SET,
        ec.LOAD_LIMIT_DISABLED,
    ]
    assert meter.get(71, LIMITER, 4) == 0
    assert meter.get(1, "0.0.96.2.0.255", 2) == 5  # programming count


def test_lowering_the_limit_below_the_present_load_trips_the_relay() -> None:
    meter = make_meter(limiter_w=20_000)
    meter.advance(ist(2025, 3, 2, 20))
    assert meter.output_state
    meter.set(71, LIMITER, 6, 30)
    meter.set(71, LIMITER, 4, 100)
    meter.advance(ist(2025, 3, 2, 20) + 29)
    assert meter.output_state
    meter.advance(ist(2025, 3, 2, 20) + 30)
    assert not meter.output_state


def test_emergency_profile_lowers_the_threshold_during_its_window() -> None:
    meter = make_meter(limiter_w=20_000)
    meter.advance(ist(2025, 3, 2, 17))
    start = datetime(2025, 3, 2, 19, tzinfo=IST)
    meter.set(71, LIMITER, 5, 100)
    meter.set(71, LIMITER, 8, (7, start, 2 * HOUR))
    meter.set(71, LIMITER, 9, [7])
    meter.advance(ist(2025, 3, 2, 18, 59))
    assert meter.get(71, LIMITER, 10) is False and meter.get(71, LIMITER, 3) == 20_000
    assert meter.output_state
    meter.advance(ist(2025, 3, 2, 19, 30))
    assert meter.get(71, LIMITER, 10) is True and meter.get(71, LIMITER, 3) == 100
    assert not meter.output_state


def test_relay_stuck_closed_ignores_a_disconnect_and_the_read_back_shows_it() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    meter.set_relay_stuck(True)
    meter.action(70, DISCONNECT, 1)
    assert meter.get(70, DISCONNECT, 3) == ControlState.DISCONNECTED
    assert meter.get(70, DISCONNECT, 2) is True  # output_state: still supplying
    before = meter.registers()[0]
    meter.advance(ist(2025, 3, 2, 12))
    assert meter.registers()[0] > before
    meter.set_relay_stuck(None)
    assert meter.get(70, DISCONNECT, 2) is False
    assert meter.event_codes(EventLog.CONTROL) == [ec.RELAY_DISCONNECTED]
