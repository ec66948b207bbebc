"""A meter whose clock runs ahead: its intervals stamped in the future are set aside, not stored.

``BufferMeter`` keeps a block-load buffer like a real meter (entries in the order recorded, a stamp
that the meter uses twice held twice) and stamps each interval with its own clock (real time plus
``clock_offset_s``). It answers a range with everything it holds from the range's start (some meters
ignore the upper bound), so stamps beyond the head-end's clock reach the collector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from openprepaid.hes.collection_policy import CollectionFacts, CollectionJob, CollectionPolicy, due_jobs
from openprepaid.hes.collector import Collector
from openprepaid.hes.session import ProfileCapture
from openprepaid.hes.targets import TargetDirectory
from openprepaid.store.model import Alert, BlockReading, Meter
from openprepaid.store.repository import block_marks
from tests.hes.conftest import add_meter
from tests.hes.fakes import BLOCK_COLUMNS, T0, FakeMeter, FakeSession, FakeSessionFactory

J = CollectionJob
PERIOD = timedelta(minutes=15)
AHEAD = timedelta(hours=2)
UTC_ZONE = T0.tzinfo


@dataclass
class BufferMeter:
    """The block-load buffer of a meter: (stamp, raw import) in the order the meter recorded them."""

    meter: FakeMeter
    entries: list[tuple[datetime, int]] = field(default_factory=list)

    def record(self, first_real_end: datetime, count: int, raw_import: int) -> None:
        """``count`` intervals ending at first_real_end, +15 min, ... stamped by the meter's clock."""
        offset = timedelta(seconds=self.meter.clock_offset_s)
        for index in range(count):
            self.entries.append((first_real_end + index * PERIOD + offset, raw_import))


class BufferSession(FakeSession):
    def __init__(self, meter: FakeMeter, buffer: BufferMeter) -> None:
        super().__init__(meter)
        self.buffer = buffer
        self.ranges: list[tuple[datetime, datetime]] = []

    async def read_block_load(self, from_at: datetime, to_at: datetime) -> ProfileCapture:
        self._call("read_block_load")
        self.ranges.append((from_at, to_at))
        rows = tuple((at, 23012, raw, raw + 1, 0, 1500) for at, raw in self.buffer.entries if at >= from_at)
        return ProfileCapture(BLOCK_COLUMNS, rows)  # type: ignore[arg-type]


@pytest.fixture
def ahead_setup(db, bus, clock, hes_sessions):  # type: ignore[no-untyped-def]
    meter_id = add_meter(hes_sessions, serial="SIM00000077")
    meter = FakeSessionFactory(clock).add(meter_id, serial="SIM00000077")
    syncs: list[tuple[int, float]] = []

    async def request_sync(meter_id: int, drift_s: float) -> None:
        syncs.append((meter_id, drift_s))

    collector = Collector(db, bus, clock, max_backfill=timedelta(days=2), request_clock_sync=request_sync)
    return meter_id, meter, BufferMeter(meter), collector, TargetDirectory(db), syncs


def stored_rows(sessions, meter_id: int) -> dict[datetime, int]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        statement = select(BlockReading.interval_end_at, BlockReading.import_wh).where(
            BlockReading.meter_id == meter_id
        )
        return dict(session.execute(statement).all())  # type: ignore[arg-type]


def alerts(sessions, meter_id: int) -> list[Alert]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        found = block_marks.block_ahead_alerts(session, meter_id)
        session.expunge_all()
        return found


def read_to(sessions, meter_id: int) -> datetime | None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.execute(select(Meter.block_load_read_to).where(Meter.id == meter_id)).scalar_one()


async def test_meter_two_hours_ahead_is_set_aside_synced_and_read_again_with_nothing_lost_or_doubled(
    ahead_setup, hes_sessions, clock, bus, outcomes
):
    meter_id, meter, buffer, collector, targets, syncs = ahead_setup
    target = await targets.get(meter_id)
    # Correct stamps for a day up to T0 - 4 h, then the clock jumps 2 h ahead (a wrong RTC setting).
    buffer.record(T0 - timedelta(days=1), 81, raw_import=10)
    meter.clock_offset_s = AHEAD.total_seconds()
    buffer.record(T0 - timedelta(hours=3, minutes=45), 16, raw_import=20)  # stamped T0-1h45 .. T0+2h

    report = await collector.collect(BufferSession(meter, buffer), target, [J.BLOCK_LOAD])
    # Stamps up to now are stored (wrong by 2 h, but nothing can tell them apart); the 8 in the future are not.
    rows = stored_rows(hes_sessions, meter_id)
    assert max(rows) == T0 and all(at <= T0 for at in rows)
    assert report.block_set_aside == 8 and report.last_block_end_at == T0
    assert report.block_read_to is None or report.block_read_to <= T0
    assert (read_to(hes_sessions, meter_id) or T0) <= T0
    # They are kept aside in an alert with their values; the clock is checked at once and a sync asked.
    (alert,) = alerts(hes_sessions, meter_id)
    assert alert.kind == "block_load_clock_ahead" and alert.state == "open"
    assert alert.details["count"] == 8 and alert.details["source"] == "read"
    assert alert.details["first_end_at"] == (T0 + PERIOD).isoformat()
    assert alert.details["last_end_at"] == (T0 + AHEAD).isoformat()
    assert [item["import_wh"] for item in alert.details["intervals"]] == [200] * 8
    assert J.CLOCK_CHECK in report.completed and report.clock_drift_s == pytest.approx(7200)
    assert syncs == [(meter_id, pytest.approx(7200))]
    await bus.drain()
    events = [body for subject, body in outcomes.messages if subject == f"op.events.meter.{meter_id}"]
    assert [(body["kind"], body["set_aside"]) for body in events] == [("block_load_clock_ahead", 8)]

    # The clock sync runs (the command worker); the meter then stamps true time, using 8 stamps again.
    await FakeSession(meter).sync_clock(clock.now())
    clock.set(T0 + timedelta(hours=4))
    buffer.record(T0 + PERIOD, 16, raw_import=30)  # T0+15min .. T0+4h, correct stamps
    report = await collector.collect(BufferSession(meter, buffer), target, [J.BLOCK_LOAD, J.CLOCK_CHECK])
    rows = stored_rows(hes_sessions, meter_id)
    after = {at: wh for at, wh in rows.items() if at > T0}
    # Every correct interval is stored, once, with the meter's later (correct) entry for a doubled stamp.
    assert sorted(after) == [T0 + PERIOD * n for n in range(1, 17)]
    assert set(after.values()) == {300}
    assert report.stored == {"block_load": 16} and report.block_set_aside == 8  # the 8 earlier entries
    (alert,) = alerts(hes_sessions, meter_id)  # merged by stamp into the same alert
    assert alert.details["count"] == 8 and [item["import_wh"] for item in alert.details["intervals"]] == [200] * 8
    assert syncs == [(meter_id, pytest.approx(7200))]  # the clock is right now: no second sync

    # A third collection stores nothing twice.
    clock.set(T0 + timedelta(hours=8))
    report = await collector.collect(BufferSession(meter, buffer), target, [J.BLOCK_LOAD])
    assert report.stored == {} and stored_rows(hes_sessions, meter_id) == rows


async def test_a_session_whose_clock_check_ran_does_not_check_twice(ahead_setup, hes_sessions, clock):
    meter_id, meter, buffer, collector, targets, syncs = ahead_setup
    target = await targets.get(meter_id)
    meter.clock_offset_s = AHEAD.total_seconds()
    buffer.record(T0 - timedelta(hours=1), 5, raw_import=20)  # stamped T0+1h .. T0+2h
    session = BufferSession(meter, buffer)
    report = await collector.collect(session, target, [J.CLOCK_CHECK, J.BLOCK_LOAD])
    assert report.completed == [J.CLOCK_CHECK, J.BLOCK_LOAD] and report.block_set_aside == 5
    assert meter.calls.count("read_clock") == 1 and len(syncs) == 1
    assert stored_rows(hes_sessions, meter_id) == {}
    # Read again before the sync ran: the same intervals, the same alert (merged), nothing stored.
    report = await collector.collect(BufferSession(meter, buffer), target, [J.CLOCK_CHECK, J.BLOCK_LOAD])
    assert report.block_set_aside == 5 and len(alerts(hes_sessions, meter_id)) == 1
    assert stored_rows(hes_sessions, meter_id) == {}


async def test_restart_with_future_rows_already_stored_resumes_from_a_sane_point(
    ahead_setup, hes_sessions, clock, outcomes
):
    meter_id, meter, buffer, collector, targets, syncs = ahead_setup
    target = await targets.get(meter_id)
    # Stored by an earlier version: correct rows up to T0 - 1 h, then 8 stamped T0+15min .. T0+2h,
    # and a read mark beyond now.
    good = [T0 - timedelta(hours=5) + PERIOD * n for n in range(17)]  # .. T0 - 1 h
    bad = [T0 + PERIOD * n for n in range(1, 9)]
    with hes_sessions.begin() as session:
        session.execute(
            insert(BlockReading),
            [
                {
                    "meter_id": meter_id,
                    "interval_end_at": at,
                    "capture_period_s": 900,
                    "import_wh": wh,
                    "received_at": T0,
                }
                for ats, wh in ((good, 100), (bad, 200))
                for at in ats
            ],
        )
        session.execute(update(Meter).where(Meter.id == meter_id).values(block_load_read_to=T0 + timedelta(hours=1)))
    # The scheduler does not wait for real time to pass the bad stamps: block load is due.
    facts = CollectionFacts(meter_id, last_block_end_at=T0 + AHEAD, block_read_to=T0 + timedelta(hours=1))
    assert J.BLOCK_LOAD in due_jobs(facts, CollectionPolicy(), T0, UTC_ZONE)  # type: ignore[arg-type]

    buffer.record(T0 - timedelta(hours=1) + PERIOD, 4, raw_import=30)  # the meter is right now: .. T0
    session = BufferSession(meter, buffer)
    report = await collector.collect(session, target, [J.BLOCK_LOAD])
    assert session.ranges[0][0] == T0 - timedelta(hours=1)  # from the newest sane stored interval
    assert all(start <= T0 for start, _ in session.ranges)
    rows = stored_rows(hes_sessions, meter_id)
    assert [at for at in rows if T0 - timedelta(hours=1) < at <= T0] == [
        T0 - timedelta(minutes=45) + PERIOD * n for n in range(4)
    ]
    assert report.block_stored_ahead == 8 and report.last_block_end_at == T0
    (alert,) = alerts(hes_sessions, meter_id)
    assert alert.details["source"] == "stored" and alert.details["count"] == 8
    assert "still in reading_block" in alert.message
    assert J.CLOCK_CHECK in report.completed and syncs == []  # the clock is right: nothing to sync
    # Running again raises nothing new (the same alert, merged).
    await collector.collect(BufferSession(meter, buffer), target, [J.BLOCK_LOAD])
    assert len(alerts(hes_sessions, meter_id)) == 1
