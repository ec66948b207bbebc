"""Migration 0010 on a populated database: the meter gains its relay and read-progress columns (empty),
the command table admits ``meter_read``; the downgrade drops ``meter_read`` commands and the columns and
keeps every other command and meter."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openprepaid.store import migrate
from openprepaid.store.engine import make_engine
from tests.store.factories import make_meter

INSERT_COMMAND = (
    "INSERT INTO command (meter_id, kind, params, state, priority, actor, reason, decision, correlation_id, "
    "attempts, last_error, created_at) VALUES (:meter, :kind, '{}', 'queued', 3, 'operator:test', 'test', '{}', "
    ":corr, 0, '', '2026-11-24 10:00:00+00:00')"
)


def _meter_columns(url: str) -> set[str]:
    engine = make_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            names = {row[1] for row in connection.execute(text("PRAGMA table_info(meter)"))}
        else:
            names = set(
                connection.execute(
                    text("SELECT column_name FROM information_schema.columns WHERE table_name = 'meter'")
                ).scalars()
            )
    engine.dispose()
    return names


def _insert_command(url: str, meter_id: int, kind: str, correlation: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(INSERT_COMMAND), {"meter": meter_id, "kind": kind, "corr": correlation})
    finally:
        engine.dispose()


def test_populated_database_down_and_up_across_0010(empty_database_url):
    url = empty_database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        meter_id = make_meter(session).id
        session.commit()
    engine.dispose()
    _insert_command(url, meter_id, "relay_disconnect", "c1")
    _insert_command(url, meter_id, "meter_read", "c2")

    migrate.downgrade(url, "0009")
    assert "relay_connected" not in _meter_columns(url)
    with pytest.raises(IntegrityError):  # 0009's CHECK constraint does not know meter_read
        _insert_command(url, meter_id, "meter_read", "c3")

    migrate.upgrade(url)
    assert {"relay_connected", "relay_control_state", "relay_read_at", "block_load_read_to"} <= _meter_columns(url)
    _insert_command(url, meter_id, "meter_read", "c4")
    with pytest.raises(IntegrityError):
        _insert_command(url, meter_id, "no_such_kind", "c5")
    engine = make_engine(url)
    with engine.connect() as connection:
        kinds = connection.execute(text("SELECT correlation_id, kind FROM command ORDER BY correlation_id")).all()
        relay = connection.execute(text("SELECT relay_connected, block_load_read_to FROM meter")).one()
    engine.dispose()
    assert [tuple(row) for row in kinds] == [("c1", "relay_disconnect"), ("c4", "meter_read")]
    assert tuple(relay) == (None, None)
