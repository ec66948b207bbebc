"""The daily true-up and a charging batch of the same meter-day, interleaved on two connections (SQLite and
PostgreSQL): whichever commits second sees the other's work, so each interval's energy is billed once —
as an interval or inside the register difference (docs/ledger.md "Charging")."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from openprepaid.store import migrate
from openprepaid.store.engine import make_engine
from openprepaid.store.model import DailyReading
from openprepaid.store.repository import charge as charge_repo
from openprepaid.wallet import ledger
from openprepaid.wallet.charging import ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.trueup import TrueUpOutcome, TrueUpPolicy, true_up_day
from tests.wallet.test_ledger_world import NOW, day_of_intervals, local, make_metered_consumer, make_world

DAY = local(2026, 11, 3)
WH = 100
INTERVALS = day_of_intervals(DAY, WH)  # 96 intervals: 9.6 kWh, and the register moved by as much
RATE_PAISE_PER_KWH = 300  # the demo tariff's first slab


@pytest.fixture
def world(empty_database_url: str) -> Iterator[tuple]:
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with Session(engine, expire_on_commit=False) as session:
        world = make_world(session)
        consumer, meter = make_metered_consumer(session, world)
        for offset, value in ((0, 500_000), (1, 500_000 + WH * len(INTERVALS))):
            captured = (DAY + timedelta(days=offset)).astimezone(UTC)
            session.add(DailyReading(meter_id=meter.id, captured_at=captured, import_wh_total=value, received_at=NOW))
        session.flush()
        charge_intervals(  # the morning arrived in time
            session, [MeterIntervals(meter.id, 900, INTERVALS[:48])], catalog=world.catalog,
            policy=ChargingPolicy(), now=NOW,
        )  # fmt: skip
        session.commit()
    yield engine, world, consumer, meter
    engine.dispose()


def _charge_afternoon(engine, world, meter, results: dict) -> Callable[[], None]:
    def job() -> None:
        with Session(engine, expire_on_commit=False) as session:
            batch = [MeterIntervals(meter.id, 900, INTERVALS[48:])]
            results["batch"] = charge_intervals(session, batch, catalog=world.catalog, policy=ChargingPolicy(), now=NOW)
            session.commit()

    return job


def _true_up(engine, world, meter, results: dict) -> Callable[[], None]:
    def job() -> None:
        with Session(engine, expire_on_commit=False) as session:
            results["trueup"] = true_up_day(
                session, meter_id=meter.id, local_date=DAY.date(), catalog=world.catalog, policy=TrueUpPolicy(),
                now=NOW,
            )  # fmt: skip
            session.commit()

    return job


class Pause:
    """Stops the thread named ``who`` right after ``function`` returned, until ``go`` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, who: str) -> None:
        self.reached = threading.Event()
        self.go = threading.Event()
        real = getattr(charge_repo, name)

        def paused(*args, **kwargs):
            result = real(*args, **kwargs)
            if threading.current_thread().name == who and not self.reached.is_set():
                self.reached.set()
                assert self.go.wait(60), "never released"
            return result

        monkeypatch.setattr(charge_repo, name, paused)


def _run(first: Callable[[], None], second: Callable[[], None], pause: Pause, errors: list) -> bool:
    """Start ``first`` (it stops at the pause), then ``second``; give ``second`` a moment to get past the
    first one's guard (it must not), release ``first``, wait for both. Returns whether ``second`` was held up."""

    def guarded(job: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                job()
            except BaseException as exc:  # reported by the test
                errors.append(exc)

        return run

    one = threading.Thread(target=guarded(first), name="first")
    two = threading.Thread(target=guarded(second), name="second")
    one.start()
    assert pause.reached.wait(60)
    two.start()
    two.join(timeout=1.0)
    held_up = two.is_alive()
    pause.go.set()
    one.join(timeout=120)
    two.join(timeout=120)
    return held_up


def _billed_once(engine, consumer) -> None:
    """The day's energy is billed exactly once: intervals billed + register difference = register delta."""
    with engine.connect() as connection:
        intervals = connection.execute(text("SELECT sum(billed_energy_wh) FROM charge_take")).scalar_one()
        difference = connection.execute(text("SELECT sum(difference_wh) FROM charge_trueup")).scalar_one()
        slabs = connection.execute(
            text(
                "SELECT sum(p.amount_paise) FROM posting p JOIN ledger_transaction t ON t.id = p.ledger_transaction_id "
                "WHERE t.account_id = :a AND p.component = 'energy.slab1'"
            ),
            {"a": consumer.account.id},
        ).scalar_one()
    assert int(intervals) + int(difference) == WH * len(INTERVALS)
    assert -int(slabs) == WH * len(INTERVALS) * RATE_PAISE_PER_KWH // 1000
    with Session(engine) as session:
        assert ledger.audit(session).ok


def test_batch_reads_first_then_trueup_waits_and_sees_its_intervals(world, monkeypatch):
    engine, world_, consumer, meter = world
    results: dict = {}
    errors: list = []
    pause = Pause(monkeypatch, "seen_meter_days", "first")  # the batch has read the trued-up days
    held_up = _run(
        _charge_afternoon(engine, world_, meter, results), _true_up(engine, world_, meter, results), pause, errors
    )
    assert errors == []
    assert held_up  # the true-up waited for the batch's guard
    assert results["batch"].charged == 48
    assert (results["trueup"].outcome, results["trueup"].intervals_wh) == (TrueUpOutcome.BILLED, 96 * WH)
    assert results["trueup"].difference_wh == 0
    _billed_once(engine, consumer)


def test_trueup_reads_first_then_batch_waits_and_finds_the_day_covered(world, monkeypatch):
    engine, world_, consumer, meter = world
    results: dict = {}
    errors: list = []
    pause = Pause(monkeypatch, "usage_of_meter_day", "first")  # the true-up has read the intervals billed
    held_up = _run(
        _true_up(engine, world_, meter, results), _charge_afternoon(engine, world_, meter, results), pause, errors
    )
    assert errors == []
    assert held_up
    assert results["trueup"].difference_wh == 48 * WH  # the afternoon billed by the register
    assert (results["batch"].charged, results["batch"].covered) == (0, 48)
    _billed_once(engine, consumer)


def test_batch_that_read_no_rows_meets_the_rows_the_trueup_created(world, monkeypatch):
    """A later day with no meter-day rows yet: the batch reads nothing to lock; the true-up creates the rows
    (and, on PostgreSQL, commits first); the batch's insert meets them, it looks again and finds the day covered."""
    engine, world_, _, meter = world
    later = DAY + timedelta(days=3)
    intervals = [(end + timedelta(days=3), wh) for end, wh in INTERVALS]
    with Session(engine) as session:
        for offset, value in ((0, 700_000), (1, 700_000 + WH * len(INTERVALS))):
            captured = (later + timedelta(days=offset)).astimezone(UTC)
            session.add(DailyReading(meter_id=meter.id, captured_at=captured, import_wh_total=value, received_at=NOW))
        session.commit()
    results: dict = {}
    errors: list = []

    def charge_later() -> None:
        with Session(engine, expire_on_commit=False) as session:
            results["batch"] = charge_intervals(
                session, [MeterIntervals(meter.id, 900, intervals)], catalog=world_.catalog, policy=ChargingPolicy(),
                now=NOW,
            )  # fmt: skip
            session.commit()

    def true_up_later() -> None:
        with Session(engine, expire_on_commit=False) as session:
            results["trueup"] = true_up_day(
                session, meter_id=meter.id, local_date=later.date(), catalog=world_.catalog, policy=TrueUpPolicy(),
                now=NOW,
            )  # fmt: skip
            session.commit()

    pause = Pause(monkeypatch, "seen_meter_days", "first")
    _run(charge_later, true_up_later, pause, errors)
    assert errors == []
    trueup, batch = results["trueup"], results["batch"]
    # Either order is possible here (SQLite: the batch's write lock; PostgreSQL: the true-up's rows), but the
    # day's energy is billed once.
    assert trueup.intervals_wh + trueup.difference_wh == WH * len(INTERVALS)
    assert batch.charged * WH == trueup.intervals_wh
    assert batch.charged + batch.covered == len(INTERVALS)
    with Session(engine) as session:
        assert ledger.audit(session).ok
