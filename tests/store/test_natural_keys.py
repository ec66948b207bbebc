"""Readings and events are keyed by their natural keys: storing them again is a no-op, not an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from openprepaid.store.model import BlockReading, DailyReading, MeterEvent
from openprepaid.store.repository.reading import (
    count_block_intervals,
    last_block_interval_end,
    store_block_readings,
    store_daily_readings,
    store_events,
)
from tests.store.factories import make_meter

T0 = datetime(2026, 11, 1, 18, 30, tzinfo=UTC)  # 00:00 IST on 2 Nov


def _block_rows(meter_id: int, count: int, start: datetime = T0) -> list[dict]:
    return [
        {
            "meter_id": meter_id,
            "interval_end_at": start + timedelta(minutes=15 * (i + 1)),
            "capture_period_s": 900,
            "import_wh": 100 + i,
            "avg_voltage_v": 239.5,
            "received_at": start + timedelta(days=1),
        }
        for i in range(count)
    ]


def test_block_readings_insert_once(db_session):
    meter = make_meter(db_session)
    rows = _block_rows(meter.id, 96)
    assert store_block_readings(db_session, rows) == 96
    assert store_block_readings(db_session, rows) == 0
    # A re-read overlapping the stored range adds only the new intervals.
    assert store_block_readings(db_session, _block_rows(meter.id, 100)) == 4
    total = db_session.execute(select(func.count()).select_from(BlockReading)).scalar_one()
    assert total == 100


def test_a_reread_never_overwrites_the_first_value(db_session):
    meter = make_meter(db_session)
    store_block_readings(db_session, _block_rows(meter.id, 1))
    changed = _block_rows(meter.id, 1)
    changed[0]["import_wh"] = 999_999
    store_block_readings(db_session, changed)
    stored = db_session.execute(select(BlockReading.import_wh)).scalar_one()
    assert stored == 100


def test_last_interval_and_count_for_backfill(db_session):
    meter = make_meter(db_session)
    assert last_block_interval_end(db_session, meter.id) is None
    store_block_readings(db_session, _block_rows(meter.id, 10))
    last = last_block_interval_end(db_session, meter.id)
    assert last == T0 + timedelta(minutes=150)
    assert last.tzinfo is not None
    assert count_block_intervals(db_session, meter.id, T0, T0 + timedelta(hours=1)) == 4


def test_daily_and_events_are_idempotent(db_session):
    meter = make_meter(db_session)
    daily = [{"meter_id": meter.id, "captured_at": T0, "import_wh_total": 12_345, "received_at": T0}]
    assert store_daily_readings(db_session, daily) == 1
    assert store_daily_readings(db_session, daily) == 0
    event = {
        "meter_id": meter.id,
        "log": 0,
        "occurred_at": T0,
        "code": 101,
        "source": "push",
        "payload": {"esw": "85"},
        "received_at": T0,
    }
    assert store_events(db_session, [event]) == 1
    # The same event read later from the log (different source) is the same event.
    assert store_events(db_session, [{**event, "source": "log"}]) == 0
    assert db_session.execute(select(func.count()).select_from(MeterEvent)).scalar_one() == 1
    assert db_session.execute(select(func.count()).select_from(DailyReading)).scalar_one() == 1


def test_naive_datetimes_are_refused(db_session):
    meter = make_meter(db_session)
    rows = _block_rows(meter.id, 1)
    rows[0]["interval_end_at"] = datetime(2026, 11, 2, 0, 15)
    with pytest.raises(Exception, match="naive datetime"):
        store_block_readings(db_session, rows)


def test_times_come_back_as_aware_utc(db_session):
    meter = make_meter(db_session)
    ist = datetime(2026, 11, 2, 0, 15, tzinfo=UTC).astimezone()
    store_block_readings(db_session, [{**_block_rows(meter.id, 1)[0], "interval_end_at": ist}])
    db_session.expire_all()
    stored = db_session.execute(select(BlockReading)).scalar_one()
    assert stored.interval_end_at == ist
    assert stored.interval_end_at.utcoffset() == timedelta(0)
