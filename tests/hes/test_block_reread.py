"""A block-load range asked for again (``openprepaid meters reread``): read first, gaps filled, cleared.

On both backends (the ``hes_sessions`` fixture): the pending range on the meter row (migration 0011),
merged when asked twice, cleared only if unchanged; the collector reads it before the usual resume,
stores the rows that were missing, changes none already stored, and clears it in the last span's unit
of work (a link dropped before that leaves it pending).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from openprepaid.hes.collection_policy import CollectionJob
from openprepaid.hes.collector import Collector
from openprepaid.hes.retry import NetworkError
from openprepaid.hes.targets import TargetDirectory
from openprepaid.store.model import BlockReading, Meter
from openprepaid.store.repository import block_marks
from openprepaid.store.repository import hes as hes_repo
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0, FakeSession, FakeSessionFactory

J = CollectionJob
PERIOD = timedelta(minutes=15)
HOUR = timedelta(hours=1)


def pending(sessions, meter_id: int) -> tuple[datetime | None, datetime | None, datetime | None]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        row = session.execute(
            select(Meter.block_load_reread_from, Meter.block_load_reread_to, Meter.block_load_read_to).where(
                Meter.id == meter_id
            )
        ).one()
        return row[0], row[1], row[2]


def stored(sessions, meter_id: int) -> dict[datetime, int]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        statement = select(BlockReading.interval_end_at, BlockReading.import_wh).where(
            BlockReading.meter_id == meter_id
        )
        return dict(session.execute(statement).all())  # type: ignore[arg-type]


def test_request_merges_moves_the_read_progress_back_and_clears_only_what_was_read(hes_sessions):
    meter_id = add_meter(hes_sessions)
    with hes_sessions.begin() as session:
        session.execute(update(Meter).where(Meter.id == meter_id).values(block_load_read_to=T0))
        first = block_marks.request_reread(session, meter_id, T0 - 10 * HOUR, T0 - 8 * HOUR)
    assert first == block_marks.RereadRange(T0 - 10 * HOUR, T0 - 8 * HOUR)
    assert pending(hes_sessions, meter_id) == (T0 - 10 * HOUR, T0 - 8 * HOUR, T0 - 10 * HOUR)
    with hes_sessions.begin() as session:  # the same again: nothing changes
        assert block_marks.request_reread(session, meter_id, T0 - 10 * HOUR, T0 - 8 * HOUR) == first
        widened = block_marks.request_reread(session, meter_id, T0 - 9 * HOUR, T0 - 2 * HOUR)
    assert widened == block_marks.RereadRange(T0 - 10 * HOUR, T0 - 2 * HOUR)
    with hes_sessions.begin() as session:
        assert not block_marks.clear_reread(session, meter_id, first)  # another range was asked meanwhile
        assert block_marks.clear_reread(session, meter_id, widened)
        assert hes_repo.collection_marks(session, meter_id, ()).block_reread_from is None
    with hes_sessions.begin() as session:  # up to the collection: open-ended, and it stays open-ended
        block_marks.request_reread(session, meter_id, T0 - 3 * HOUR, None)
        assert block_marks.request_reread(session, meter_id, T0 - 5 * HOUR, T0 - 4 * HOUR).to_at is None
        marks = hes_repo.collection_marks(session, meter_id, ())
        assert (marks.block_reread_from, marks.block_reread_to) == (T0 - 5 * HOUR, None)
        assert block_marks.clear_reread(session, meter_id, block_marks.RereadRange(T0 - 5 * HOUR, None))


@pytest.fixture
def reread_setup(db, bus, clock, hes_sessions):  # type: ignore[no-untyped-def]
    meter_id = add_meter(hes_sessions, serial="SIM00000088")
    meter = FakeSessionFactory(clock).add(meter_id, serial="SIM00000088")
    collector = Collector(db, bus, clock, max_backfill=timedelta(days=3))
    return meter_id, meter, collector, TargetDirectory(db)


async def test_collection_reads_the_range_first_fills_gaps_and_clears_it(reread_setup, hes_sessions):
    meter_id, meter, collector, targets = reread_setup
    target = await targets.get(meter_id)
    meter.fill_blocks(T0 - 12 * HOUR + PERIOD, 48)  # the meter holds 12 h up to T0
    # Stored: all of it, but four intervals from T0-10h were lost (e.g. a database restore), and one
    # interval stored with a value the meter does not hold (it stays: a re-read fills gaps only).
    rows = {at: 10 * (12 + n % 5) for n, at in enumerate(sorted(meter.blocks))}
    gap = [T0 - 10 * HOUR + PERIOD * n for n in range(4)]
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
                for at, wh in rows.items()
                if at not in gap
            ],
        )
        session.execute(
            update(BlockReading)
            .where(BlockReading.meter_id == meter_id, BlockReading.interval_end_at == T0 - 6 * HOUR)
            .values(import_wh=999)
        )
        block_marks.request_reread(session, meter_id, T0 - 11 * HOUR, T0 - 9 * HOUR)
    # A dropped link before the range is read leaves it pending.
    meter.fail_next.append(NetworkError("link dropped"))
    report = await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD])
    assert J.BLOCK_LOAD in report.failed and pending(hes_sessions, meter_id)[0] == T0 - 11 * HOUR

    report = await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD])
    assert report.completed == [J.BLOCK_LOAD] and report.stored == {"block_load": 4}
    after = stored(hes_sessions, meter_id)
    assert all(after[at] == rows[at] for at in gap)
    assert after[T0 - 6 * HOUR] == 999 and len(after) == 48  # nothing stored twice, nothing overwritten
    assert pending(hes_sessions, meter_id)[:2] == (None, None)
    # Nothing pending any more: the next collection reads only from the resume point.
    calls = meter.calls.count("read_block_load")
    await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD])
    assert meter.calls.count("read_block_load") == calls + 1


async def test_a_range_older_than_the_backfill_limit_is_read_from_the_limit(reread_setup, hes_sessions, clock):
    meter_id, meter, collector, targets = reread_setup
    target = await targets.get(meter_id)
    meter.fill_blocks(T0 - 4 * 24 * HOUR, 8)  # older than the collector's 3-day limit: not read
    meter.fill_blocks(T0 - 2 * HOUR, 4)
    with hes_sessions.begin() as session:
        block_marks.request_reread(session, meter_id, T0 - 5 * 24 * HOUR, None)
    report = await collector.collect(FakeSession(meter), target, [J.BLOCK_LOAD])
    assert report.stored == {"block_load": 4} and min(stored(hes_sessions, meter_id)) == T0 - 2 * HOUR
    assert pending(hes_sessions, meter_id)[:2] == (None, None)
