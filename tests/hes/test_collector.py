"""One collection session: backfill by range exactly once, scalers per meter type, idempotent storage."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from openprepaid.hes.block_load_job import spans
from openprepaid.hes.collection_policy import CollectionJob
from openprepaid.hes.collector import Collector
from openprepaid.hes.profile_mapping import ProfileMappingError, block_rows
from openprepaid.hes.retry import NetworkError, ObjectUnavailableError
from openprepaid.hes.session import CaptureColumn, ProfileCapture
from openprepaid.hes.targets import TargetDirectory
from openprepaid.store.model import (
    BillingReading,
    BlockReading,
    DailyReading,
    InstantReading,
    Meter,
    MeterEvent,
    Outage,
)
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0, FakeSession, FakeSessionFactory

J = CollectionJob
PERIOD = timedelta(minutes=15)


@pytest.fixture
def setup(db, bus, clock, hes_sessions):
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    factory = FakeSessionFactory(clock)
    meter = factory.add(meter_id, serial="00SIM00000042")
    syncs = []

    async def request_sync(meter_id, drift_s):
        syncs.append((meter_id, drift_s))

    collector = Collector(db, bus, clock, max_backfill=timedelta(days=3), request_clock_sync=request_sync)
    return meter_id, meter, collector, TargetDirectory(db), syncs


def count(sessions, model, meter_id):
    with sessions() as session:
        return session.execute(select(func.count()).select_from(model).where(model.meter_id == meter_id)).scalar_one()


async def test_block_load_backfills_in_spans_and_scales(setup, hes_sessions, clock, bus, outcomes):
    meter_id, meter, collector, targets, _ = setup
    meter.fill_blocks(T0 - timedelta(days=2), 2 * 96 + 1)  # two days up to T0 inclusive
    target = await targets.get(meter_id)
    report = await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD])
    assert report.completed == [J.BLOCK_LOAD] and report.stored == {"block_load": 193}
    assert report.last_block_end_at == T0
    assert meter.calls.count("read_block_load") == 3  # 3 days back, one day per span
    with hes_sessions() as session:
        first = session.get(BlockReading, (meter_id, T0 - timedelta(days=2)))
    assert (first.import_wh, first.apparent_vah, first.export_wh) == (120, 130, 0)  # raw 12 x 10^1 Wh
    assert first.avg_voltage_v == pytest.approx(230.12) and first.avg_current_a == pytest.approx(1.5)
    await bus.drain()
    published = [p for s, p in outcomes.messages if s == f"op.readings.block.{meter_id}"]
    assert sum(len(p["rows"]) for p in published) == 193


async def test_a_gap_is_backfilled_exactly_once(setup, hes_sessions, clock):
    meter_id, meter, collector, targets, _ = setup
    target = await targets.get(meter_id)
    meter.fill_blocks(T0 - timedelta(hours=1), 5)
    await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD])
    assert count(hes_sessions, BlockReading, meter_id) == 5
    # The meter was unreachable for a day; it recorded 96 intervals meanwhile.
    meter.fill_blocks(T0 + PERIOD, 96)
    clock.set(T0 + timedelta(days=1))
    meter.block_rows_returned = 0
    report = await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD])
    assert report.stored == {"block_load": 96}
    assert meter.block_rows_returned == 97  # the range starts at the last stored interval: one overlap
    report = await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD])
    assert report.stored == {} and count(hes_sessions, BlockReading, meter_id) == 101


async def test_scalers_are_read_once_per_meter_type(setup, db, bus, clock, hes_sessions):
    meter_id, meter, collector, targets, _ = setup
    target = await targets.get(meter_id)
    meter.fill_blocks(T0 - PERIOD, 2)
    await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD, J.DAILY])
    assert meter.calls.count("read_scalers:block_load") == 1
    fresh = Collector(db, bus, clock)  # another process: the cache is in the meter type
    await fresh.collect(FakeSession(meter), target, [J.BLOCK_LOAD])
    assert meter.calls.count("read_scalers:block_load") == 1


async def test_name_plate_first_contact_and_identity(setup, hes_sessions, clock):
    meter_id, meter, collector, targets, _ = setup
    target = await targets.get(meter_id)
    report = await collector.collect(FakeSession(meter), target, [J.NAME_PLATE])
    assert report.completed == [J.NAME_PLATE]
    with hes_sessions() as session:
        row = session.get(Meter, meter_id)
        assert (row.firmware, row.first_seen_at, row.last_seen_at) == ("1.2.3", T0, T0)
    meter.serial = "SIM99999999"  # someone else's meter answers at that address
    clock.set(T0 + timedelta(hours=1))
    report = await collector.collect(FakeSession(meter), target, [J.NAME_PLATE, J.BLOCK_LOAD, J.DAILY])
    assert report.completed == []
    assert "MeterIdentityError" in report.failed[J.NAME_PLATE]
    assert report.failed[J.BLOCK_LOAD] == "not attempted: the session ended"
    assert "read_block_load" not in meter.calls
    with hes_sessions() as session:
        assert session.get(Meter, meter_id).first_seen_at == T0


async def test_clock_drift_above_the_limit_requests_a_sync(setup):
    meter_id, meter, collector, targets, syncs = setup
    target = await targets.get(meter_id)
    meter.clock_offset_s = -10
    report = await collector.collect(FakeSession(meter), target, [J.CLOCK_CHECK])
    assert report.clock_drift_s == -10 and syncs == []
    meter.clock_offset_s = 45
    report = await collector.collect(FakeSession(meter), target, [J.CLOCK_CHECK], clock_drift_max_s=30)
    assert report.clock_sync_requested and syncs == [(meter_id, 45)]


async def test_events_open_and_close_outages_once(setup, hes_sessions, bus, outcomes):
    meter_id, meter, collector, targets, _ = setup
    target = await targets.get(meter_id)
    fail_at, restore_at = T0 - timedelta(hours=3), T0 - timedelta(hours=1, seconds=-0.4)
    meter.events = {2: [(fail_at, 101), (restore_at, 102)], 4: [(T0 - timedelta(hours=2), 201)]}
    report = await collector.collect(FakeSession(meter), target, [J.EVENTS])
    assert report.stored == {"events": 3}
    again = await collector.collect(FakeSession(meter), target, [J.EVENTS])
    assert again.stored == {"events": 0}
    with hes_sessions() as session:
        outages = session.execute(select(Outage).where(Outage.meter_id == meter_id)).scalars().all()
        events = session.execute(select(MeterEvent).where(MeterEvent.meter_id == meter_id)).scalars().all()
    assert [(o.started_at, o.ended_at) for o in outages] == [(fail_at, restore_at.replace(microsecond=0))]
    assert {(e.log, e.code, e.source.value) for e in events} == {(2, 101, "log"), (2, 102, "log"), (4, 201, "log")}
    assert events[0].payload == {"1.0.12.7.0.255:2": 23000}
    await bus.drain()
    outage_messages = [p for s, p in outcomes.messages if s == f"op.events.outage.{meter_id}"]
    assert [p["state"] for p in outage_messages] == ["opened", "closed"]
    assert outage_messages[-1]["duration_s"] == 7200


async def test_daily_billing_and_instant_profiles(setup, hes_sessions, clock):
    meter_id, meter, collector, targets, _ = setup
    target = await targets.get(meter_id)
    midnight = T0.replace(hour=18, minute=30) - timedelta(days=1)  # 00:00 IST
    meter.daily = {midnight - timedelta(days=1): 100_000, midnight: 101_234}
    meter.billing = {midnight - timedelta(days=23): 90_000}
    report = await collector.collect(FakeSession(meter), target, [J.DAILY, J.BILLING, J.INSTANT])
    assert report.completed == [J.DAILY, J.BILLING, J.INSTANT]
    assert report.stored == {"daily": 2, "billing": 1, "instant": 1}
    assert report.last_daily_at == midnight
    with hes_sessions() as session:
        daily = session.get(DailyReading, (meter_id, midnight))
        billing = session.execute(select(BillingReading)).scalar_one()
        instant = session.execute(select(InstantReading)).scalar_one()
    assert daily.import_wh_total == 1_012_340 and daily.apparent_vah_total == 1_012_390
    assert billing.max_demand_w == 4200 and billing.max_demand_at == midnight - timedelta(days=26)
    assert billing.extra == {"1.0.1.8.1.255:2": 450000.0}
    assert instant.voltage_v == pytest.approx(230.5) and instant.power_factor == pytest.approx(0.99)
    assert instant.import_wh_total == 1_234_560 and instant.frequency_hz == pytest.approx(50.01)
    again = await collector.collect(FakeSession(meter), target, [J.DAILY, J.BILLING])
    assert again.stored == {}


async def test_bad_data_fails_one_job_and_a_dropped_link_ends_the_session(setup, hes_sessions):
    meter_id, meter, collector, targets, _ = setup
    target = await targets.get(meter_id)
    meter.events = {0: [(T0, "not-a-code")]}  # type: ignore[list-item]
    meter.daily = {T0 - timedelta(hours=5): 5}
    report = await collector.collect(FakeSession(meter), target, [J.EVENTS, J.DAILY])
    assert "ProfileMappingError" in report.failed[J.EVENTS]
    assert report.completed == [J.DAILY]
    meter.fail_next = [NetworkError("link dropped")]
    report = await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD, J.DAILY, J.INSTANT])
    assert report.completed == [] and set(report.failed) == {J.BLOCK_LOAD, J.DAILY, J.INSTANT}
    assert count(hes_sessions, InstantReading, meter_id) == 0


async def test_first_reads_go_together_and_a_refused_profile_fails_only_its_job(setup, hes_sessions):
    meter_id, meter, collector, targets, _ = setup
    target = await targets.get(meter_id)
    await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD, J.DAILY])  # scalers now cached
    meter.calls.clear()
    meter.fill_blocks(T0 - timedelta(hours=2), 9)
    meter.daily = {T0 - timedelta(hours=5): 5}
    meter.events = {2: [(T0 - timedelta(hours=1), 101)]}
    meter.fail_next = [ObjectUnavailableError("no block load here")]  # the first read of the batch
    report = await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD, J.EVENTS, J.DAILY])
    assert set(report.failed) == {J.BLOCK_LOAD} and "ObjectUnavailableError" in report.failed[J.BLOCK_LOAD]
    assert report.completed == [J.EVENTS, J.DAILY] and report.stored == {"events": 1, "daily": 1}
    # one batch: the block load, then the daily profile and the seven logs, before any job stored a row
    assert meter.calls == [
        "read_block_load",
        "read_daily",
        *(f"read_events:{log}" for log in range(7)),
    ]


def test_spans_cover_the_range_without_gaps():
    parts = list(spans(T0, T0 + timedelta(hours=50), timedelta(days=1)))
    assert parts[0][0] == T0 and parts[-1][1] == T0 + timedelta(hours=50)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
    assert list(spans(T0, T0, timedelta(days=1))) == [(T0, T0)]


def test_malformed_captures_are_refused():
    capture = ProfileCapture((CaptureColumn(3, "1.0.1.29.0.255"),), ((5,),))
    with pytest.raises(ProfileMappingError, match="no clock column"):
        block_rows(capture, {}, meter_id=1, capture_period_s=900, stamp="end", received_at=T0)
    capture = ProfileCapture((CaptureColumn(8, "0.0.1.0.0.255"), CaptureColumn(3, "1.0.1.29.0.255")), ((T0,),))
    with pytest.raises(ProfileMappingError, match="1 values for 2 columns"):
        block_rows(capture, {}, meter_id=1, capture_period_s=900, stamp="end", received_at=T0)
    capture = ProfileCapture(
        (CaptureColumn(8, "0.0.1.0.0.255"), CaptureColumn(3, "1.0.1.29.0.255")), ((T0, float("nan")),)
    )
    with pytest.raises(ProfileMappingError, match="finite"):
        block_rows(capture, {}, meter_id=1, capture_period_s=900, stamp="end", received_at=T0)
    capture = ProfileCapture((CaptureColumn(8, "0.0.1.0.0.255"), CaptureColumn(3, "1.0.1.29.0.255")), ((T0, 7),))
    [row] = block_rows(capture, {}, meter_id=1, capture_period_s=900, stamp="start", received_at=T0)
    assert row["interval_end_at"] == T0 + PERIOD
