"""Block-load read progress in a collection: a meter with nothing to give is not asked again and again.

Each span read records how far the meter was read (``meter.block_load_read_to``), also where it held
nothing, in the unit of work of the span's rows; the next collection resumes from the later of that
and the newest stored interval. Spans are counted on the fake meter (``FakeSession``).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from openprepaid.hes.collection_policy import CollectionJob
from openprepaid.hes.collector import Collector
from openprepaid.hes.database import Database
from openprepaid.hes.group_commit import GroupCommitDatabase
from openprepaid.hes.retry import NetworkError
from openprepaid.hes.session import ProfileCapture
from openprepaid.hes.targets import TargetDirectory
from openprepaid.store.model import BlockReading
from openprepaid.store.repository import hes as hes_repo
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0, FakeMeter, FakeSession, FakeSessionFactory

J = CollectionJob
PERIOD = timedelta(minutes=15)
DAY = timedelta(days=1)
SETTLED = PERIOD + timedelta(minutes=5)  # a capture period and the default clock tolerance before now


class RecordingSession(FakeSession):
    """Records every block-load range asked; the link drops at the read number ``drop_at`` (1-based)."""

    def __init__(self, meter: FakeMeter, *, drop_at: int | None = None, whole_buffer: bool = False) -> None:
        super().__init__(meter)
        self.ranges: list[tuple[datetime, datetime]] = []
        self.drop_at = drop_at
        self.whole_buffer = whole_buffer  # a meter that answers a range with everything it holds

    async def read_block_load(self, from_at: datetime, to_at: datetime) -> ProfileCapture:
        self.ranges.append((from_at, to_at))
        if self.drop_at is not None and len(self.ranges) == self.drop_at:
            raise NetworkError("link dropped")
        if self.whole_buffer:
            from_at = datetime.min.replace(tzinfo=from_at.tzinfo)
        return await super().read_block_load(from_at, to_at)


class ProcessCrashError(Exception):
    """The head-end process dies (not a fault the collector handles)."""


class CrashingDatabase(Database):
    """Runs each unit of work in a transaction; the unit number ``crash_at`` dies before its commit."""

    def __init__(self, sessions, crash_at: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__(sessions)
        self.crash_at = crash_at
        self.units = 0

    def run_sync(self, work):  # type: ignore[no-untyped-def]
        self.units += 1
        with self._sessions.begin() as session:
            result = work(session)
            if self.units == self.crash_at:
                raise ProcessCrashError
            return result


@pytest.fixture
def meter_setup(db, bus, clock, hes_sessions):  # type: ignore[no-untyped-def]
    meter_id = add_meter(hes_sessions, serial="SIM00000042")
    meter = FakeSessionFactory(clock).add(meter_id, serial="00SIM00000042")
    return meter_id, meter, TargetDirectory(db)


def collector(db, bus, clock, **options) -> Collector:  # type: ignore[no-untyped-def]
    options.setdefault("max_backfill", timedelta(days=3))
    return Collector(db, bus, clock, **options)


def stored(sessions, meter_id: int) -> list[datetime]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        statement = select(BlockReading.interval_end_at).where(BlockReading.meter_id == meter_id)
        return sorted(session.execute(statement).scalars())


def read_to(sessions, meter_id: int) -> datetime | None:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return hes_repo.collection_marks(session, meter_id, ()).block_read_to


async def test_a_never_read_empty_meter_is_asked_once_per_range_then_only_for_new_time(
    meter_setup, db, bus, clock, hes_sessions
):
    meter_id, meter, targets = meter_setup
    target = await targets.get(meter_id)
    first = RecordingSession(meter)
    report = await collector(db, bus, clock).collect(first, target, [J.BLOCK_LOAD])
    assert report.completed == [J.BLOCK_LOAD] and report.stored == {}
    assert first.ranges == [(T0 - 3 * DAY, T0 - 2 * DAY), (T0 - 2 * DAY, T0 - DAY), (T0 - DAY, T0)]
    assert report.block_read_to == read_to(hes_sessions, meter_id) == T0 - SETTLED
    # Four hours later, by another head-end process: one span, from where the last one stopped.
    clock.set(T0 + timedelta(hours=4))
    second = RecordingSession(meter)
    await collector(db, bus, clock).collect(second, target, [J.BLOCK_LOAD])
    assert second.ranges == [(T0 - SETTLED, T0 + timedelta(hours=4))]
    assert read_to(hes_sessions, meter_id) == T0 + timedelta(hours=4) - SETTLED
    # The meter starts recording (a new installation is commissioned): its intervals are read once.
    meter.fill_blocks(T0 + timedelta(hours=4, minutes=15), 15)  # up to T0 + 7 h 45 min
    clock.set(T0 + timedelta(hours=8))
    third = RecordingSession(meter)
    report = await collector(db, bus, clock).collect(third, target, [J.BLOCK_LOAD])
    assert third.ranges == [(T0 + timedelta(hours=4) - SETTLED, T0 + timedelta(hours=8))]
    assert report.stored == {"block_load": 15} and report.last_block_end_at == T0 + timedelta(hours=7, minutes=45)
    # rows up to now say more than the settled instant: no extra write, the resume point moves with the rows
    assert read_to(hes_sessions, meter_id) == T0 + timedelta(hours=4) - SETTLED
    with hes_sessions() as session:
        marks = hes_repo.collection_marks(session, meter_id, range(7))
    assert marks.block_resume_at == T0 + timedelta(hours=7, minutes=45)


async def test_a_collection_cut_off_after_k_spans_resumes_at_span_k_plus_1(meter_setup, db, bus, clock, hes_sessions):
    meter_id, meter, targets = meter_setup
    target = await targets.get(meter_id)
    meter.fill_blocks(T0 - 2 * DAY + PERIOD, 2 * 96)  # the meter was born two days ago
    reader = collector(db, bus, clock, max_backfill=timedelta(days=6))
    cut = RecordingSession(meter, drop_at=5)  # four spans read, the fifth is lost with the link
    report = await reader.collect(cut, target, [J.BLOCK_LOAD])
    assert "NetworkError" in report.failed[J.BLOCK_LOAD]
    assert read_to(hes_sessions, meter_id) == T0 - 2 * DAY and stored(hes_sessions, meter_id) == []
    resumed = RecordingSession(meter)
    report = await reader.collect(resumed, target, [J.BLOCK_LOAD])
    assert resumed.ranges == [(T0 - 2 * DAY, T0 - DAY), (T0 - DAY, T0)]  # spans 5 and 6 only
    assert report.stored == {"block_load": 192} and len(stored(hes_sessions, meter_id)) == 192
    # Cut off again in the middle of the meter's data: the next session starts at the last stored interval.
    meter.fill_blocks(T0 + PERIOD, 2 * 96)
    clock.set(T0 + 2 * DAY)
    dropped = RecordingSession(meter, drop_at=2)
    await reader.collect(dropped, target, [J.BLOCK_LOAD])
    assert stored(hes_sessions, meter_id)[-1] == T0 + DAY
    again = RecordingSession(meter)
    await reader.collect(again, target, [J.BLOCK_LOAD])
    assert again.ranges == [(T0 + DAY, T0 + 2 * DAY)]
    assert len(stored(hes_sessions, meter_id)) == 4 * 96


async def test_a_crash_between_spans_records_no_progress_for_the_span_not_stored(
    meter_setup, bus, clock, hes_sessions, outcomes
):
    meter_id, meter, _ = meter_setup
    meter.fill_blocks(T0 - DAY + PERIOD, 96)
    meter.fill_blocks(T0 - 3 * DAY + PERIOD, 40)  # ... and a morning three days ago
    # units: 1 the meter seen, 2-3 the scalers read and cached, 4-6 the spans: the third dies at its commit
    crashing = CrashingDatabase(hes_sessions, crash_at=6)
    target = await TargetDirectory(crashing).get(meter_id)
    crashing.units = 0
    with pytest.raises(ProcessCrashError):
        await collector(crashing, bus, clock).collect(RecordingSession(meter), target, [J.BLOCK_LOAD])
    # spans 1 and 2 (the morning, then an empty day) are committed with their progress; span 3 is not
    assert len(stored(hes_sessions, meter_id)) == 40 and read_to(hes_sessions, meter_id) == T0 - DAY
    restarted = Database(hes_sessions)
    resumed = RecordingSession(meter)
    report = await collector(restarted, bus, clock).collect(resumed, target, [J.BLOCK_LOAD])
    assert resumed.ranges == [(T0 - DAY, T0)] and report.stored == {"block_load": 96}
    assert len(stored(hes_sessions, meter_id)) == 136
    await bus.drain()
    published = [p for s, p in outcomes.messages if s == f"op.readings.block.{meter_id}"]
    assert sum(len(p["rows"]) for p in published) == 136  # each interval published once


async def test_three_days_offline_are_backfilled_exactly_once(meter_setup, db, bus, clock, hes_sessions):
    meter_id, meter, targets = meter_setup
    target = await targets.get(meter_id)
    reader = collector(db, bus, clock)
    meter.fill_blocks(T0 - timedelta(hours=2), 9)
    await reader.collect(RecordingSession(meter), target, [J.BLOCK_LOAD])
    assert stored(hes_sessions, meter_id)[-1] == T0
    # Unreachable for three days (the modem, not the supply): the meter kept recording, with a power
    # cut of six hours on the second day in which it recorded nothing.
    meter.fill_blocks(T0 + PERIOD, 3 * 96)
    outage = [T0 + DAY + n * PERIOD for n in range(1, 25)]
    for end in outage:
        del meter.blocks[end]
    clock.set(T0 + 3 * DAY + timedelta(minutes=5))
    back = RecordingSession(meter)
    report = await reader.collect(back, target, [J.BLOCK_LOAD])
    assert back.ranges[0][0] == T0 and len(back.ranges) == 4
    assert report.stored == {"block_load": 3 * 96 - 24}
    assert stored(hes_sessions, meter_id) == sorted(meter.blocks)  # everything it holds, nothing else
    again = RecordingSession(meter)
    report = await reader.collect(again, target, [J.BLOCK_LOAD])
    assert report.stored == {} and again.ranges == [(T0 + 3 * DAY, T0 + 3 * DAY + timedelta(minutes=5))]


async def test_a_meter_whose_clock_is_behind_keeps_its_late_intervals(meter_setup, db, bus, clock, hes_sessions):
    meter_id, meter, targets = meter_setup
    target = await targets.get(meter_id)
    reader = collector(db, bus, clock)
    # The meter's clock is 40 min behind: at T0 it has closed the intervals up to its own T0 - 40 min
    # (stamped T0 - 45 min), the next ones come late; an outage left it nothing before that day.
    meter.clock_offset_s = -2400
    meter.fill_blocks(T0 - timedelta(hours=2), 6)  # up to T0 - 45 min
    report = await reader.collect(RecordingSession(meter), target, [J.CLOCK_CHECK, J.BLOCK_LOAD])
    assert report.clock_drift_s == -2400
    assert stored(hes_sessions, meter_id)[-1] == T0 - timedelta(minutes=45)
    assert (read_to(hes_sessions, meter_id) or T0 - 3 * DAY) < T0 - timedelta(minutes=45)  # not past what is stored
    meter.fill_blocks(T0 - timedelta(minutes=30), 3)  # stamped late by its clock: T0 - 30 min .. T0
    clock.set(T0 + timedelta(hours=1))
    report = await reader.collect(RecordingSession(meter), target, [J.BLOCK_LOAD])
    assert report.stored == {"block_load": 3} and stored(hes_sessions, meter_id) == sorted(meter.blocks)


async def test_a_reset_profile_and_a_meter_answering_with_its_whole_buffer_lose_nothing(
    meter_setup, db, bus, clock, hes_sessions, caplog
):
    meter_id, meter, targets = meter_setup
    target = await targets.get(meter_id)
    reader = collector(db, bus, clock)
    meter.fill_blocks(T0 - timedelta(hours=5), 5)  # up to T0 - 4 h; nothing since (supply off)
    await reader.collect(RecordingSession(meter), target, [J.BLOCK_LOAD])
    assert read_to(hes_sessions, meter_id) == T0 - SETTLED
    # The profile is cleared (e.g. its capture period was written): the meter holds only what came after.
    meter.blocks.clear()
    meter.fill_blocks(T0 + timedelta(minutes=45), 10)
    clock.set(T0 + timedelta(hours=4))
    report = await reader.collect(RecordingSession(meter), target, [J.BLOCK_LOAD])
    assert report.stored == {"block_load": 10}
    assert stored(hes_sessions, meter_id)[-1] == T0 + timedelta(hours=3)
    assert read_to(hes_sessions, meter_id) == T0 + timedelta(hours=4) - SETTLED
    # The meter's clock is set back and it records again in a range it had answered empty; it answers
    # a range with its whole buffer: what is newer than the newest stored interval is kept and stored.
    meter.fill_blocks(T0 + timedelta(hours=3, minutes=15), 2)
    clock.set(T0 + timedelta(hours=8))
    report = await reader.collect(RecordingSession(meter, whole_buffer=True), target, [J.BLOCK_LOAD])
    assert report.stored == {"block_load": 2}
    assert stored(hes_sessions, meter_id)[5:] == sorted(meter.blocks)  # after the 5 read before the reset
    assert "2 block-load intervals in a range it had answered empty" in caplog.text


async def test_a_start_stamping_meter_type_records_progress_in_interval_ends(meter_setup, db, bus, clock, hes_sessions):
    meter_id, meter, targets = meter_setup
    target = replace(await targets.get(meter_id), block_stamp="start")
    reader = collector(db, bus, clock)
    meter.fill_blocks(T0 - timedelta(hours=1), 4)  # stamps T0-1h .. T0-15m: the last one ends at T0
    first = RecordingSession(meter)
    await reader.collect(first, target, [J.BLOCK_LOAD])
    assert stored(hes_sessions, meter_id) == [T0 - timedelta(minutes=45) + n * PERIOD for n in range(4)]
    assert read_to(hes_sessions, meter_id) == T0 - DAY + PERIOD  # the second span's last interval end
    clock.set(T0 + timedelta(hours=4))
    second = RecordingSession(meter)
    await reader.collect(second, target, [J.BLOCK_LOAD])
    assert second.ranges == [(T0 - PERIOD, T0 + timedelta(hours=4))]  # from the newest interval's own stamp


async def test_progress_facts_are_there_for_the_scheduler_after_a_restart(meter_setup, db, bus, clock, hes_sessions):
    meter_id, meter, targets = meter_setup
    target = await targets.get(meter_id)
    await collector(db, bus, clock).collect(RecordingSession(meter), target, [J.BLOCK_LOAD])

    def facts(session: Session) -> list[hes_repo.CollectionFactsRow]:
        return hes_repo.collection_facts(session, [meter_id])

    [row] = await db.run(facts)
    assert row.last_block_end_at is None and row.block_read_to == T0 - SETTLED
    with hes_sessions() as session:
        count = session.execute(select(func.count()).select_from(BlockReading)).scalar_one()
    assert count == 0


async def test_under_group_commit_split_batches_keep_spans_and_progress_right(bus, clock, hes_sessions):
    """Every unit of work of two collections shares its batch with one that fails: each batch is rolled
    back and re-run one unit at a time, and the rows and the progress come out as without the failures."""
    db = GroupCommitDatabase(hes_sessions, offload=False, max_batch=8)
    factory = FakeSessionFactory(clock)
    empty_id, full_id = add_meter(hes_sessions, serial="SIM00000001"), add_meter(hes_sessions, serial="SIM00000002")
    empty, full = factory.add(empty_id), factory.add(full_id)
    full.fill_blocks(T0 - 2 * DAY + PERIOD, 2 * 96)
    targets = TargetDirectory(db)
    reader = collector(db, bus, clock)
    done = asyncio.Event()

    async def failing_units() -> int:
        failures = 0
        while not done.is_set():
            try:
                await db.run(lambda session: session.execute(text("SELECT * FROM no_such_table")))
            except Exception:  # the database refuses it, rolling back whatever shared its transaction
                failures += 1
        return failures

    async def collect(meter_id: int, meter: FakeMeter) -> None:
        target = await targets.get(meter_id)
        report = await reader.collect(RecordingSession(meter), target, [J.BLOCK_LOAD])
        assert report.completed == [J.BLOCK_LOAD]

    poison = asyncio.create_task(failing_units())
    await asyncio.gather(collect(empty_id, empty), collect(full_id, full))
    done.set()
    assert await poison > 0 and db.stats.split_batches > 0
    assert read_to(hes_sessions, empty_id) == T0 - SETTLED
    assert read_to(hes_sessions, full_id) == T0 - 2 * DAY  # the empty day before the meter's birth
    assert stored(hes_sessions, full_id) == sorted(full.blocks) and stored(hes_sessions, empty_id) == []
    await db.close()
