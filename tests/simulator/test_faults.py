"""Faults: outages with last gasp and first breath, tamper, clock drift, and communication parameters."""

from __future__ import annotations

from datetime import datetime

import pytest

from openprepaid.meters import event_codes as ec
from openprepaid.meters.event_codes import EswBit, EventLog
from openprepaid.meters.values import BitString
from openprepaid.simulator import faults
from openprepaid.simulator.errors import ConfigurationError, TemporaryFailureError
from openprepaid.simulator.faults import FaultRegistry, NetworkFaults
from openprepaid.simulator.push import PushKind

from .conftest import DAY, HOUR, IST, ist, make_meter

ESW = "0.0.94.91.18.255"


def test_outage_logs_101_and_102_pushes_last_gasp_and_first_breath_and_stops_consumption() -> None:
    meter = make_meter()
    faults.outage(meter, ist(2025, 3, 2, 20, 10), 50 * 60)
    meter.advance(ist(2025, 3, 2, 20, 30))
    assert not meter.powered
    with pytest.raises(TemporaryFailureError):
        meter.get(3, "1.0.1.8.0.255", 2)
    energy_at_cut = meter.registers()[0]
    meter.advance(ist(2025, 3, 2, 21))
    assert meter.registers()[0] == energy_at_cut
    meter.advance(ist(2025, 3, 2, 22))
    assert meter.powered
    log = meter.get(7, "0.0.99.98.2.255", 2)
    assert log == [
        (datetime(2025, 3, 2, 20, 10, tzinfo=IST), ec.POWER_FAIL),
        (datetime(2025, 3, 2, 21, 0, tzinfo=IST), ec.POWER_RESTORE),
    ]
    pushes = meter.outbox.drain()
    assert [p.kind for p in pushes] == [PushKind.LAST_GASP, PushKind.FIRST_BREATH]
    gasp, breath = pushes
    assert gasp.at == datetime(2025, 3, 2, 20, 10, tzinfo=IST) and gasp.true_at_s == ist(2025, 3, 2, 20, 10)
    assert gasp.event_status_word is not None and gasp.event_status_word.bit(EswBit.LAST_GASP)
    assert breath.event_status_word is not None and breath.event_status_word.bit(EswBit.FIRST_BREATH)
    assert gasp.values[0] == meter.serial and gasp.values[1] == bytes([0, 4, 25, 9, 0, 255])
    assert gasp.values[2] == gasp.at and gasp.values[3] == gasp.event_status_word
    # the intervals during the outage hold no energy and no voltage
    rows = {r[0]: r for r in meter.get(7, "1.0.99.1.0.255", 2)}  # type: ignore[union-attr]
    for minute in (30, 45):
        row = rows[datetime(2025, 3, 2, 20, minute, tzinfo=IST)]
        assert row[1] == 0 and row[2] == 0
    assert rows[datetime(2025, 3, 2, 21, 15, tzinfo=IST)][2] > 0


def test_a_second_failure_while_off_changes_nothing() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    meter.power_fail()
    meter.power_fail()
    meter.power_restore()
    meter.power_restore()
    assert meter.event_codes(EventLog.POWER) == [ec.POWER_FAIL, ec.POWER_RESTORE]


def test_magnet_tamper_sets_the_status_word_counts_and_pushes() -> None:
    meter = make_meter()
    faults.magnet(meter, ist(2025, 3, 2, 11), 10 * 60)
    meter.advance(ist(2025, 3, 2, 11, 5))
    word = meter.get(1, ESW, 2)
    assert isinstance(word, BitString) and word.bit(EswBit.MAGNET)
    assert meter.get(1, "0.0.94.91.0.255", 2) == 1  # cumulative tamper count
    meter.advance(ist(2025, 3, 2, 12))
    word = meter.get(1, ESW, 2)
    assert isinstance(word, BitString) and not word.bit(EswBit.MAGNET)
    assert meter.event_codes(EventLog.OTHER) == [ec.MAGNET_OCCURRENCE, ec.MAGNET_RESTORATION]
    log = meter.get(7, "0.0.99.98.4.255", 2)
    assert isinstance(log, list) and len(log[0]) == 7  # clock, code, current, voltage, PF, kWh, tamper count
    pushes = meter.outbox.drain()
    assert [p.kind for p in pushes] == [PushKind.TAMPER]
    assert pushes[0].event_status_word is not None and pushes[0].event_status_word.bit(EswBit.MAGNET)


def test_neutral_disturbance_and_cover_open() -> None:
    meter = make_meter()
    faults.neutral_disturbance(meter, ist(2025, 3, 2, 11), HOUR)
    faults.cover_open(meter, ist(2025, 3, 2, 13))
    faults.cover_open(meter, ist(2025, 3, 2, 14))
    meter.advance(ist(2025, 3, 2, 15))
    assert meter.event_codes(EventLog.OTHER) == [ec.NEUTRAL_DISTURBANCE_OCCURRENCE, ec.NEUTRAL_DISTURBANCE_RESTORATION]
    # the non-rollover log keeps the first cover opening only; the status bit stays set
    assert meter.get(7, "0.0.99.98.5.255", 2) == [(datetime(2025, 3, 2, 13, tzinfo=IST), ec.COVER_OPEN)]
    word = meter.get(1, ESW, 2)
    assert isinstance(word, BitString) and word.bit(EswBit.COVER_OPEN) and not word.bit(EswBit.NEUTRAL_DISTURBANCE)
    assert meter.get(1, "0.0.94.91.0.255", 2) == 3


def test_tamper_needs_supply_but_cover_opening_does_not() -> None:
    meter = make_meter()
    faults.outage(meter, ist(2025, 3, 2, 10), 2 * HOUR)
    faults.magnet(meter, ist(2025, 3, 2, 10, 30), 10 * 60)
    faults.cover_open(meter, ist(2025, 3, 2, 11))
    meter.advance(ist(2025, 3, 2, 13))
    assert meter.event_codes(EventLog.OTHER) == []
    assert meter.event_codes(EventLog.NON_ROLLOVER) == [ec.COVER_OPEN]


def test_the_esw_filter_decides_which_events_are_pushed() -> None:
    meter = make_meter()
    meter.advance(ist(2025, 3, 2, 9))
    meter.set(1, "0.0.94.91.26.255", 2, BitString.from_bits(128, {EswBit.COVER_OPEN}))
    assert meter.event_codes(EventLog.TRANSACTION) == [ec.ESW_FILTER_CHANGE]
    faults.magnet(meter, ist(2025, 3, 2, 10), 60)
    faults.cover_open(meter, ist(2025, 3, 2, 11))
    meter.advance(ist(2025, 3, 2, 12))
    assert [p.kind for p in meter.outbox.drain()] == [PushKind.TAMPER]
    assert meter.event_codes(EventLog.OTHER) == [ec.MAGNET_OCCURRENCE, ec.MAGNET_RESTORATION]


def test_clock_drift_and_silent_offset() -> None:
    meter = make_meter()
    faults.clock_drift(meter, ist(2025, 3, 2, 1), drift_ppm=500, offset_s=120)
    meter.advance(ist(2025, 3, 3, 1))
    clock = meter.get(8, "0.0.1.0.0.255", 2)
    assert clock == datetime(2025, 3, 3, 1, 2, 43, tzinfo=IST)  # 120 s offset + 43 s of drift in a day
    assert meter.event_codes(EventLog.TRANSACTION) == []  # a failing clock logs nothing


def test_random_outages_are_seeded_and_bounded() -> None:
    a, b = make_meter(index=1), make_meter(index=1)
    for m in (a, b):
        faults.random_outages([m], 3, ist(2025, 3, 2), per_day=2, mean_duration_s=600)
    for m in (a, b):
        m.advance(ist(2025, 3, 9))
    assert a.get(7, "0.0.99.98.2.255", 2) == b.get(7, "0.0.99.98.2.255", 2)
    codes = a.event_codes(EventLog.POWER)
    assert 4 <= codes.count(ec.POWER_FAIL) <= 30
    assert len(a._agenda or []) <= 2
    other = make_meter(index=2)
    faults.random_outages([other], 3, ist(2025, 3, 2), per_day=2, mean_duration_s=600)
    other.advance(ist(2025, 3, 9))
    assert other.get(7, "0.0.99.98.2.255", 2) != a.get(7, "0.0.99.98.2.255", 2)


def test_random_outages_stop_at_until() -> None:
    meter = make_meter()
    faults.random_outages([meter], 1, ist(2025, 3, 2), per_day=50, mean_duration_s=60, until_s=ist(2025, 3, 2, 1))
    meter.advance(ist(2025, 3, 3))
    entries = meter.events.entries(EventLog.POWER) if meter.events else []
    assert entries and all(lt < ist(2025, 3, 2, 1) + 19_800 + 3600 for lt, _, _ in entries)


@pytest.mark.parametrize(
    "call",
    [
        lambda m: faults.outage(m, ist(2025, 3, 2), 0),
        lambda m: faults.magnet(m, ist(2025, 3, 2), -5),
        lambda m: faults.outage(m, -10, 60),
        lambda m: faults.random_outages([m], 1, 0, per_day=-1, mean_duration_s=60),
        lambda m: faults.random_outages([m], 1, 0, per_day=1, mean_duration_s=0),
    ],
)
def test_impossible_faults_are_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError):
        call(make_meter())


def test_network_fault_parameters_and_offline_windows() -> None:
    registry = FaultRegistry(NetworkFaults(latency_s=(0.1, 0.4), drop_rate=0.01))
    registry.set_network(3, NetworkFaults(reset_rate=0.5, garble_rate=0.2))
    assert registry.network(1).drop_rate == 0.01
    assert registry.network(3).reset_rate == 0.5
    registry.set_network(3, None)
    assert registry.network(3).reset_rate == 0.0
    registry.add_offline(1, 1000, 500)
    assert registry.offline(1, 1000) and registry.offline(1, 1499) and not registry.offline(1, 1500)
    assert not registry.offline(2, 1200)
    registry.prune(2000)
    assert not registry.offline(1, 1200)
    with pytest.raises(ConfigurationError):
        registry.add_offline(1, 1000, 0)


@pytest.mark.parametrize(
    "kwargs",
    [{"latency_s": (0.5, 0.1)}, {"latency_s": (-1.0, 0.0)}, {"drop_rate": 1.5}, {"reset_rate": -0.1}],
)
def test_impossible_network_faults_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        NetworkFaults(**kwargs)  # type: ignore[arg-type]


def test_an_outage_during_history_is_lived_as_if_it_happened() -> None:
    meter = make_meter(born=ist(2025, 2, 20))
    faults.outage(meter, ist(2025, 2, 22, 3), DAY)
    meter.advance(ist(2025, 3, 2))
    assert meter.event_codes(EventLog.POWER) == [ec.POWER_FAIL, ec.POWER_RESTORE]
    daily = meter.get(7, "1.0.99.2.0.255", 2)
    assert isinstance(daily, list)
    by_day = {r[0].day: r[1] for r in daily}  # type: ignore[union-attr]
    assert by_day[23] - by_day[22] < by_day[22] - by_day[21]


def test_event_logs_are_bounded_fifo_buffers() -> None:
    meter = make_meter()
    depth = meter.meter_type.event_log_depth(EventLog.POWER)
    for k in range(depth + 7):
        faults.outage(meter, ist(2025, 3, 2) + k * 600, 60)
    meter.advance(ist(2025, 3, 4))
    assert meter.get(7, "0.0.99.98.2.255", 7) == depth
    assert meter.get(7, "0.0.99.98.2.255", 8) == depth
    rows = meter.get(7, "0.0.99.98.2.255", 2)
    assert isinstance(rows, list) and len(rows) == depth
    # the oldest entries went first: of 2 * (depth + 7) events the log keeps the last `depth`,
    # starting with the failure of outage number (2 * (depth + 7) - depth) / 2
    first_kept = ist(2025, 3, 2) + (2 * (depth + 7) - depth) // 2 * 600
    assert rows[0][0] == datetime.fromtimestamp(first_kept, IST) and rows[0][1] == ec.POWER_FAIL
    assert rows[-1][1] == ec.POWER_RESTORE
    assert meter.get(1, "0.0.96.11.2.255", 2) == ec.POWER_RESTORE
