"""Insert-or-ignore: SQLite's driver path and SQLAlchemy's path store the same rows and count the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from openprepaid.store.model import BlockReading, MeterEvent
from openprepaid.store.repository.reading import store_block_readings, store_events
from tests.store.factories import make_meter

T0 = datetime(2026, 11, 1, 18, 30, 0, 250_000, tzinfo=UTC)


def _rows(meter_id: int, count: int) -> list[dict]:
    return [
        {
            "meter_id": meter_id,
            "interval_end_at": T0 + timedelta(minutes=15 * i),
            "capture_period_s": 900,
            "import_wh": i,
            "avg_voltage_v": 230.1 + i,
            "avg_current_a": None,
            "received_at": T0 + timedelta(days=1),
        }
        for i in range(count)
    ]


def _stored(session, meter_id: int) -> list[tuple]:
    statement = select(BlockReading).where(BlockReading.meter_id == meter_id).order_by(BlockReading.interval_end_at)
    return [
        (r.interval_end_at, r.import_wh, r.export_wh, r.apparent_vah, r.avg_voltage_v, r.avg_current_a, r.received_at)
        for r in session.execute(statement).scalars()
    ]


def test_uniform_rows_and_mixed_rows_store_alike(db_session):
    fast, general = make_meter(db_session), make_meter(db_session)
    uniform = _rows(fast.id, 250)  # two full 100-row statements and a rest
    mixed = _rows(general.id, 250)
    mixed[-1] = {**mixed[-1], "export_wh": 0}  # keys differ between rows: SQLAlchemy's path everywhere
    assert store_block_readings(db_session, uniform) == 250
    assert store_block_readings(db_session, mixed) == 250
    assert store_block_readings(db_session, _rows(fast.id, 260)) == 10  # duplicates skipped and not counted
    db_session.expire_all()
    fast_rows, general_rows = _stored(db_session, fast.id), _stored(db_session, general.id)
    assert fast_rows[:250] == general_rows
    assert fast_rows[0][0] == T0 and fast_rows[0][0].tzinfo is not None and fast_rows[0][2:4] == (0, 0)


def test_pending_orm_objects_are_flushed_before_the_driver_insert(db_session):
    meter = make_meter(db_session)
    db_session.add(
        MeterEvent(meter_id=meter.id, log=0, occurred_at=T0, code=101, source="push", payload={}, received_at=T0)
    )
    row = {"meter_id": meter.id, "log": 0, "occurred_at": T0, "code": 101, "source": "log", "payload": {}}
    assert store_events(db_session, [{**row, "received_at": T0}]) == 0
