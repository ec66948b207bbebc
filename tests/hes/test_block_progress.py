"""The block-load read progress rule and its storage: settled instants, forward-only marks, group commit."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import func, select

from openprepaid.hes.block_progress import settled_until, span_outcome, stamp_shift, store_block_span, unique_stamps
from openprepaid.hes.collector import store_events_and_outages
from openprepaid.hes.group_commit import GroupCommitDatabase
from openprepaid.store.model import BlockReading
from openprepaid.store.repository import block_marks
from openprepaid.store.repository import hes as hes_repo
from tests.hes.conftest import add_meter
from tests.hes.fakes import T0

PERIOD = timedelta(minutes=15)
TOLERANCE = timedelta(minutes=5)


def block_row(meter_id: int, end_at):  # type: ignore[no-untyped-def]
    return {
        "meter_id": meter_id,
        "interval_end_at": end_at,
        "capture_period_s": 900,
        "import_wh": 10,
        "avg_voltage_v": 230.0,
        "avg_current_a": 1.0,
        "received_at": T0,
    }


def test_rows_stamped_ahead_are_set_aside_and_move_nothing():
    rows = [block_row(1, T0 - PERIOD), block_row(1, T0), block_row(1, T0 + TOLERANCE), block_row(1, T0 + 2 * PERIOD)]
    settled = T0 - PERIOD - TOLERANCE
    outcome = span_outcome(
        1, rows, span_to=T0 + 3 * PERIOD, settled=settled, last_stored=None, read_to=None, ahead_after=T0 + TOLERANCE
    )
    assert [row["interval_end_at"] for row in outcome.rows] == [T0 - PERIOD, T0, T0 + TOLERANCE]  # within tolerance
    assert [row["interval_end_at"] for row in outcome.aside] == [T0 + 2 * PERIOD]
    assert outcome.read_to is None  # the newest kept row is later than the settled instant
    only_ahead = span_outcome(
        1, rows[3:], span_to=T0, settled=settled, last_stored=T0 - PERIOD, read_to=None, ahead_after=T0 + TOLERANCE
    )
    assert only_ahead.rows == [] and only_ahead.read_to is None and len(only_ahead.aside) == 1


def test_a_stamp_recorded_twice_keeps_the_later_entry_and_sets_the_earlier_aside():
    early, again, other = block_row(1, T0), {**block_row(1, T0), "import_wh": 30}, block_row(1, T0 - PERIOD)
    unique, superseded = unique_stamps([early, other, again])
    assert unique == [other, again] and superseded == [early]
    outcome = span_outcome(1, [early, other, again], span_to=T0, settled=T0, last_stored=None, read_to=None)
    assert outcome.rows == [other, again] and outcome.aside == [early]


def test_rereading_keeps_rows_older_than_the_newest_stored():
    rows = [block_row(1, T0 - 3 * PERIOD), block_row(1, T0 - 2 * PERIOD)]
    usual = span_outcome(1, rows, span_to=T0, settled=T0, last_stored=T0 - PERIOD, read_to=None)
    assert usual.rows == []
    reread = span_outcome(1, rows, span_to=T0, settled=T0, last_stored=T0 - PERIOD, read_to=None, rereading=True)
    assert reread.rows == rows and reread.read_to == T0  # read to the span's end, past the newest stored


def test_settled_until_leaves_the_open_interval_and_a_late_clock_to_be_asked_again():
    assert settled_until(T0, 900, TOLERANCE) == T0 - PERIOD - TOLERANCE
    assert settled_until(T0, 1800, TOLERANCE, clock_drift_s=+40) == T0 - 2 * PERIOD - TOLERANCE  # fast: no lag
    behind = settled_until(T0, 900, TOLERANCE, clock_drift_s=-2400)  # measured 40 min behind
    assert behind == T0 - PERIOD - TOLERANCE - timedelta(minutes=40)
    assert stamp_shift(900, "start") == PERIOD and stamp_shift(900, "end") == timedelta(0)


def test_an_empty_span_records_progress_up_to_its_end_or_the_settled_instant():
    settled = T0 - PERIOD - TOLERANCE
    middle = span_outcome(1, [], span_to=T0 - timedelta(days=1), settled=settled, last_stored=None, read_to=None)
    assert middle.rows == [] and middle.read_to == T0 - timedelta(days=1)
    newest = span_outcome(1, [], span_to=T0, settled=settled, last_stored=None, read_to=middle.read_to)
    assert newest.read_to == settled  # the span reached now: only up to what the meter can no longer fill in
    again = span_outcome(1, [], span_to=T0, settled=settled - PERIOD, last_stored=None, read_to=settled)
    assert again.read_to is None  # never backwards


def test_a_span_with_rows_records_progress_only_where_it_says_more_than_the_rows():
    settled = T0 - PERIOD - TOLERANCE
    rows = [block_row(1, T0 - PERIOD * n) for n in (3, 2, 1, 0)]
    current = span_outcome(1, rows, span_to=T0, settled=settled, last_stored=T0 - 3 * PERIOD, read_to=None)
    assert [row["interval_end_at"] for row in current.rows] == [T0 - 2 * PERIOD, T0 - PERIOD, T0]
    assert current.read_to is None  # the newest stored interval is later than the settled instant
    # A day that ended hours before now with rows only in its morning (an outage in the afternoon):
    morning = [block_row(1, T0 - timedelta(days=1, hours=n)) for n in (20, 19)]
    day = span_outcome(1, morning, span_to=T0 - timedelta(days=1), settled=settled, last_stored=None, read_to=None)
    assert len(day.rows) == 2 and day.read_to == T0 - timedelta(days=1)


def test_rows_inside_a_range_read_as_empty_are_kept_and_counted(caplog):
    read_to = T0 - timedelta(hours=1)
    rows = [block_row(7, T0 - timedelta(hours=3)), block_row(7, T0 - timedelta(hours=2)), block_row(7, T0)]
    outcome = span_outcome(
        7, rows, span_to=T0, settled=T0 - PERIOD, last_stored=T0 - timedelta(hours=3), read_to=read_to
    )
    assert [row["interval_end_at"] for row in outcome.rows] == [T0 - timedelta(hours=2), T0]
    assert outcome.refilled == 1 and "answered empty" in caplog.text


def _read_to(sessions, meter_id):  # type: ignore[no-untyped-def]
    with sessions() as session:
        return hes_repo.collection_marks(session, meter_id, ()).block_read_to


def _blocks(sessions, meter_id):  # type: ignore[no-untyped-def]
    with sessions() as session:
        statement = select(func.count()).select_from(BlockReading).where(BlockReading.meter_id == meter_id)
        return session.execute(statement).scalar_one()


def test_the_mark_only_moves_forward_and_is_part_of_the_resume_point(hes_sessions):
    meter_id = add_meter(hes_sessions)
    with hes_sessions.begin() as session:
        assert block_marks.advance_block_read_to(session, meter_id, T0 - timedelta(days=2))
        assert block_marks.advance_block_read_to(session, meter_id, T0 - timedelta(days=1))
        assert not block_marks.advance_block_read_to(session, meter_id, T0 - timedelta(days=3))
        assert not block_marks.advance_block_read_to(session, meter_id, T0 - timedelta(days=1))  # again: a no-op
    assert _read_to(hes_sessions, meter_id) == T0 - timedelta(days=1)
    with hes_sessions() as session:
        marks = hes_repo.collection_marks(session, meter_id, range(7))
        assert marks.block_read_to == T0 - timedelta(days=1) and marks.last_block_end_at is None
        assert marks.block_resume_at == T0 - timedelta(days=1)
        [facts] = hes_repo.collection_facts(session, [meter_id])
        assert facts.block_read_to == T0 - timedelta(days=1)
    with hes_sessions.begin() as session:
        store_block_span(session, meter_id=meter_id, rows=[block_row(meter_id, T0 - PERIOD)], read_to=None)
    with hes_sessions() as session:
        marks = hes_repo.collection_marks(session, meter_id, range(7))
        assert marks.block_resume_at == T0 - PERIOD  # the later of the newest stored interval and the mark


def test_a_span_and_its_progress_commit_together_or_not_at_all(hes_sessions):
    meter_id = add_meter(hes_sessions)

    class SimulatedCrashError(Exception):
        pass

    with pytest.raises(SimulatedCrashError), hes_sessions.begin() as session:
        store_block_span(session, meter_id=meter_id, rows=[block_row(meter_id, T0)], read_to=T0 - PERIOD)
        raise SimulatedCrashError  # the process dies before the commit
    assert _blocks(hes_sessions, meter_id) == 0 and _read_to(hes_sessions, meter_id) is None


async def test_group_commit_re_runs_spans_one_by_one_without_moving_the_mark_wrongly(hes_sessions):
    """A batch with a failing work is rolled back and re-run work by work: the spans' works commit, an
    older span's work that runs after a newer one leaves the mark where the newer one put it."""
    meter_id = add_meter(hes_sessions)
    other = add_meter(hes_sessions, serial="SIM00000002")
    db = GroupCommitDatabase(hes_sessions, offload=False, max_batch=16)
    day_two = [block_row(meter_id, T0 - timedelta(hours=h)) for h in (3, 2, 1)]
    newer = partial(store_block_span, meter_id=meter_id, rows=day_two, read_to=T0 - timedelta(minutes=20))
    older = partial(store_block_span, meter_id=meter_id, rows=[], read_to=T0 - timedelta(days=1))
    bad_event = {"meter_id": other, "log": 2, "occurred_at": T0, "code": 101, "payload": None}  # no source

    async def failing() -> None:
        await db.run(partial(store_events_and_outages, rows=[bad_event], source="log"))

    results = await asyncio.gather(db.run(newer), failing(), db.run(older), return_exceptions=True)
    assert results[0] == 3 and results[2] == 0 and "source" in str(results[1]), results
    assert db.stats.split_batches == 1
    assert _read_to(hes_sessions, meter_id) == T0 - timedelta(minutes=20)
    assert _blocks(hes_sessions, meter_id) == 3
    # The same works again (a retried unit): nothing changes.
    assert await db.run(newer) == 0 and await db.run(older) == 0
    assert _read_to(hes_sessions, meter_id) == T0 - timedelta(minutes=20)
    await db.close()
