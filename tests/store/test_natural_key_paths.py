"""The driver-level insert paths (SQLite multi-row VALUES, PostgreSQL unnest arrays) store exactly what
SQLAlchemy's own insert stores, count only new rows, and leave what they cannot carry to SQLAlchemy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import select

from openprepaid.store.model import BlockReading, MeterEvent
from openprepaid.store.repository.natural_key import insert_ignoring_duplicates
from openprepaid.store.repository.natural_key_postgresql import postgresql_plan
from tests.store.factories import make_meter

T0 = datetime(2026, 11, 1, 18, 30, tzinfo=UTC)
BLOCK = BlockReading.__table__


def _rows(meter_id: int, count: int) -> list[dict]:
    return [
        {
            "meter_id": meter_id,
            "interval_end_at": T0 + timedelta(minutes=15 * (i + 1)),
            "capture_period_s": 900,
            "import_wh": 100 + i,
            "export_wh": i % 3,
            "apparent_vah": 110 + i,
            "avg_voltage_v": None if i % 7 == 0 else 230.0 + i / 10,
            "avg_current_a": None if i % 5 == 0 else i / 4,
            "received_at": T0 + timedelta(days=1),
        }
        for i in range(count)
    ]


def _stored(session, meter_id: int) -> list[tuple]:
    columns = [column for column in BLOCK.c if column.name not in {"meter_id"}]
    statement = select(*columns).where(BLOCK.c.meter_id == meter_id).order_by(BLOCK.c.interval_end_at)
    return [tuple(row) for row in session.execute(statement)]


def test_fast_path_stores_what_the_sqlalchemy_path_stores(db_session):
    fast, general = make_meter(db_session), make_meter(db_session)
    keys = tuple(_rows(fast.id, 1)[0])
    assert postgresql_plan(BLOCK, keys, db_session.get_bind().dialect) is not None  # the array path
    assert insert_ignoring_duplicates(db_session, BLOCK, _rows(fast.id, 250)) == 250
    db_session.execute(BLOCK.insert(), _rows(general.id, 250))  # SQLAlchemy's own insert
    assert _stored(db_session, fast.id) == _stored(db_session, general.id)
    assert _stored(db_session, fast.id)[1][0].tzinfo is not None


def test_only_new_rows_are_counted_and_first_values_kept(db_session):
    meter = make_meter(db_session)
    assert insert_ignoring_duplicates(db_session, BLOCK, _rows(meter.id, 10)) == 10
    again = _rows(meter.id, 15)
    for row in again:
        row["import_wh"] = 9_999
    assert insert_ignoring_duplicates(db_session, BLOCK, again) == 5
    stored = [row[2] for row in _stored(db_session, meter.id)]
    assert stored[:10] == list(range(100, 110))
    assert stored[10:] == [9_999] * 5


def test_a_key_repeated_within_one_call_is_inserted_once(db_session):
    meter = make_meter(db_session)
    rows = _rows(meter.id, 4)
    assert insert_ignoring_duplicates(db_session, BLOCK, [*rows, rows[1], rows[3]]) == 4


def test_many_rows_in_one_call(db_session):
    meters = [make_meter(db_session) for i in range(3)]
    rows = [row for meter in meters for row in _rows(meter.id, 4_000)]
    assert insert_ignoring_duplicates(db_session, BLOCK, rows) == 12_000
    assert insert_ignoring_duplicates(db_session, BLOCK, rows) == 0


def test_rows_leaving_out_optional_columns(db_session):
    meter = make_meter(db_session)
    rows = _rows(meter.id, 3)
    for row in rows:
        del row["avg_voltage_v"], row["export_wh"]  # nullable, and a column with a constant default
    assert insert_ignoring_duplicates(db_session, BLOCK, rows) == 3
    assert [(row[3], row[5]) for row in _stored(db_session, meter.id)] == [(0, None)] * 3


def test_json_columns_take_the_sqlalchemy_path(db_session):
    meter = make_meter(db_session)
    assert postgresql_plan(MeterEvent.__table__, ("meter_id", "payload"), db_session.get_bind().dialect) is None
    event = {
        "meter_id": meter.id,
        "log": 0,
        "occurred_at": T0,
        "code": 101,
        "source": "push",
        "payload": {"esw": [85]},
        "received_at": T0,
    }
    assert insert_ignoring_duplicates(db_session, MeterEvent.__table__, [event, event]) == 1
    assert db_session.execute(select(MeterEvent.payload)).scalar_one() == {"esw": [85]}


def test_values_the_array_text_cannot_carry_go_to_the_driver(db_session):
    meter = make_meter(db_session)
    rows = _rows(meter.id, 4)
    rows[0]["avg_voltage_v"] = float("inf")  # PostgreSQL spells it Infinity
    rows[1]["avg_current_a"] = 1e-300  # repr round-trips exactly
    rows[2]["avg_current_a"] = 0.1 + 0.2
    assert insert_ignoring_duplicates(db_session, BLOCK, rows) == 4
    stored = _stored(db_session, meter.id)
    assert stored[0][5] == float("inf")
    assert stored[1][6] == 1e-300
    assert stored[2][6] == 0.1 + 0.2


def test_a_value_that_could_split_an_array_element_is_never_split(db_session):
    meter = make_meter(db_session)
    rows = _rows(meter.id, 2)
    rows[0]["import_wh"] = "5,6"  # a text where an integer belongs
    if db_session.get_bind().dialect.name == "postgresql":
        with pytest.raises(psycopg.DataError, match="mixed types"):  # refused by the driver, nothing stored
            insert_ignoring_duplicates(db_session, BLOCK, rows)
        return
    assert insert_ignoring_duplicates(db_session, BLOCK, rows) == 2  # SQLite keeps the text whole
    assert [row[2] for row in _stored(db_session, meter.id)] == ["5,6", 101]
