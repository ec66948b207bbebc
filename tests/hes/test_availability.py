"""Data availability per meter per local day; non-communicating and never-communicated meters."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from openprepaid.hes.availability import (
    daily_availability,
    day_bounds,
    expected_intervals,
    never_communicated,
    non_communicating,
    summarize,
)
from openprepaid.store.model import BlockReading, DailyReading, MeterStatus
from tests.store.factories import make_meter, make_utility

IST = ZoneInfo("Asia/Kolkata")
DAY = date(2026, 11, 23)
PERIOD = timedelta(minutes=15)


def add_blocks(session, meter_id, first_end, count):
    for index in range(count):
        session.add(
            BlockReading(
                meter_id=meter_id,
                interval_end_at=first_end + PERIOD * index,
                capture_period_s=900,
                import_wh=10,
                received_at=first_end,
            )
        )
    session.flush()


def test_availability_per_meter_and_day(db_session):
    utility = make_utility(db_session)
    start, end = day_bounds(DAY, IST)
    full, partial, removed = (make_meter(db_session, utility) for _ in range(3))
    removed.status = MeterStatus.REMOVED
    add_blocks(db_session, full.id, start + PERIOD, 96)
    add_blocks(db_session, full.id, start, 1)  # ends at 00:00: belongs to the day before
    add_blocks(db_session, full.id, end + PERIOD, 3)  # the next day
    add_blocks(db_session, partial.id, start + PERIOD, 90)
    db_session.add(DailyReading(meter_id=full.id, captured_at=end, import_wh_total=5, received_at=end))
    db_session.add(DailyReading(meter_id=partial.id, captured_at=start, import_wh_total=5, received_at=start))
    db_session.flush()

    rows = {row.meter_id: row for row in daily_availability(db_session, DAY, IST, utility_id=utility.id)}
    assert set(rows) == {full.id, partial.id}
    assert (rows[full.id].stored_intervals, rows[full.id].expected_intervals) == (96, 96)
    assert rows[full.id].complete and rows[full.id].ratio == 1.0
    assert rows[partial.id].stored_intervals == 90 and not rows[partial.id].daily_snapshot
    assert rows[partial.id].ratio == pytest.approx(90 / 96)
    summary = summarize(DAY, list(rows.values()))
    assert (summary.meters, summary.complete_meters, summary.daily_snapshots) == (2, 1, 1)
    assert summary.ratio == pytest.approx(186 / 192)


def test_expected_intervals_follow_the_local_day():
    assert expected_intervals(DAY, IST, 900) == 96
    assert expected_intervals(DAY, IST, 1800) == 48
    new_york = ZoneInfo("America/New_York")
    assert expected_intervals(date(2026, 3, 8), new_york, 900) == 92  # 23-hour day
    assert expected_intervals(date(2026, 11, 1), new_york, 900) == 100  # 25-hour day
    start, _ = day_bounds(DAY, IST)
    assert start == datetime(2026, 11, 22, 18, 30, tzinfo=start.tzinfo)


def test_silent_and_never_communicated_meters(db_session):
    utility = make_utility(db_session)
    now = datetime(2026, 11, 24, 6, 0, tzinfo=ZoneInfo("UTC"))
    recent, silent, never, removed = (make_meter(db_session, utility) for _ in range(4))
    recent.last_seen_at = now - timedelta(hours=23)
    silent.last_seen_at = now - timedelta(hours=30)
    removed.last_seen_at = now - timedelta(days=9)
    removed.status = MeterStatus.REMOVED
    db_session.flush()
    [report] = non_communicating(db_session, now, utility_id=utility.id)
    assert report.meter_id == silent.id and report.silent_for == timedelta(hours=30)
    assert len(non_communicating(db_session, now, silent_after=timedelta(hours=12), utility_id=utility.id)) == 2
    assert [m.meter_id for m in never_communicated(db_session, utility_id=utility.id)] == [never.id]
    with pytest.raises(ValueError, match="positive"):
        non_communicating(db_session, now, silent_after=timedelta(0))
