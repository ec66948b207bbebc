"""HES fixtures: a real database (SQLite file and PostgreSQL) that services commit to, emptied per test.

The HES services run their own units of work (they commit), so they cannot use ``db_session``'s
rolled-back transaction; they get a session factory on the session-wide migrated database instead,
and every table is emptied before and after each test.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from openprepaid.bus.in_process import InProcessBus
from openprepaid.hes.database import Database
from openprepaid.store.engine import make_session_factory
from openprepaid.store.model import Base, CommMode, Meter, MeterConnection, MeterStatus, MeterType, Utility
from tests.hes.fakes import T0, FakeClock


def empty_all_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))


@pytest.fixture
def hes_sessions(migrated_engine: Engine) -> Iterator[sessionmaker[Session]]:
    empty_all_tables(migrated_engine)
    try:
        yield make_session_factory(migrated_engine)
    finally:
        empty_all_tables(migrated_engine)


@pytest.fixture
def db(hes_sessions: sessionmaker[Session]) -> Database:
    return Database(hes_sessions)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def rng() -> random.Random:
    return random.Random(7)


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    bus = InProcessBus()
    yield bus
    await bus.close()


class Recorder:
    """Subscribes to a subject pattern and keeps what arrives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, object]]] = []

    async def __call__(self, message) -> None:  # type: ignore[no-untyped-def]
        self.messages.append((message.subject, message.json()))


@pytest.fixture
async def outcomes(bus: InProcessBus) -> Recorder:
    recorder = Recorder()
    await bus.subscribe("op.>", recorder, group="test")
    return recorder


def add_meter(
    sessions: sessionmaker[Session],
    *,
    serial: str = "SIM00000001",
    has_relay: bool = True,
    type_code: str | None = None,
    utility_code: str = "U1",
    status: MeterStatus = MeterStatus.INSTALLED,
    comm_mode: CommMode = CommMode.DIAL,
    capture_period_s: int = 900,
    first_seen_at: datetime | None = None,
    last_seen_at: datetime | None = None,
) -> int:
    with sessions.begin() as session:
        utility = session.query(Utility).filter_by(code=utility_code).one_or_none()
        if utility is None:
            utility = Utility(code=utility_code, name="Test", created_at=datetime(2026, 1, 1, tzinfo=UTC))
            session.add(utility)
            session.flush()
        code = type_code or ("1P-WC" if has_relay else "CT")
        meter_type = session.query(MeterType).filter_by(code=code).one_or_none()
        if meter_type is None:
            meter_type = MeterType(
                code=code,
                manufacturer="Test",
                model=code,
                phases=1,
                connection=MeterConnection.WHOLE_CURRENT if has_relay else MeterConnection.CT,
                has_relay=has_relay,
                capture_period_s=capture_period_s,
                object_profile={},
            )
            session.add(meter_type)
            session.flush()
        number = int(serial[-8:]) if serial[-8:].isdigit() else abs(hash(serial)) % 10**8
        meter = Meter(
            utility_id=utility.id,
            meter_type_id=meter_type.id,
            serial=serial,
            manufacturer_code="OPP",
            system_title=b"OPP" + number.to_bytes(5, "big"),
            comm_mode=comm_mode,
            host="127.0.0.1",
            port=4059,
            status=status,
            created_at=T0,
            first_seen_at=first_seen_at,
            last_seen_at=last_seen_at,
        )
        session.add(meter)
        session.flush()
        return meter.id
