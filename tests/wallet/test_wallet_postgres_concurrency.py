"""Concurrency on the real PostgreSQL server: parallel recharges, charges, reversals and fixed charges on
the same accounts, from several threads and processes, lose nothing and double nothing."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from openprepaid.store import migrate
from openprepaid.store.engine import make_engine, make_session_factory
from openprepaid.store.repository.charge_day import taken_once_and_twice
from openprepaid.wallet import ledger
from openprepaid.wallet.charging import ChargingPolicy, MeterIntervals, charge_intervals
from openprepaid.wallet.fixed_charge import charge_daily_fixed
from openprepaid.wallet.recharge import (
    PaymentNotFoundError,
    RechargePolicy,
    RechargeRequest,
    recharge,
    reverse_recharge,
)
from openprepaid.wallet.unit_of_work import run_unit_of_work
from tests.wallet.test_ledger_world import NOW, day_of_intervals, local, make_metered_consumer, make_world

pytestmark = pytest.mark.postgres


@pytest.fixture
def database(postgres_url):
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url, pool_size=12)
    with Session(engine, expire_on_commit=False) as session:
        world = make_world(session)
        consumers = [make_metered_consumer(session, world) for _ in range(3)]
        session.commit()
    yield engine, world, consumers
    engine.dispose()


def in_parallel(jobs: list[Callable[[], None]]) -> list[BaseException]:
    """Start all jobs at once (a barrier) on their own threads; return what they raised."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return errors


def audit_ok(engine) -> None:
    with Session(engine) as session:
        report = ledger.audit(session)
    assert report.ok, report


def scalar(engine, sql: str, **params):
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def recharge_job(engine, account_id: int, refs: list[tuple[str, int]]) -> Callable[[], None]:
    factory = make_session_factory(engine)

    def job() -> None:
        for ref, amount in refs:
            request = RechargeRequest(account_id, ref, amount, "gateway", NOW, "thread")
            run_unit_of_work(factory, lambda s, r=request: recharge(s, r, policy=RechargePolicy(), now=NOW))

    return job


def test_parallel_recharges_with_duplicate_references(database):
    engine, _, consumers = database
    account_id = consumers[0][0].account.id
    shared = [(f"SHARED-{i}", 1_000 * (i + 1)) for i in range(10)]  # every thread submits these
    jobs = [recharge_job(engine, account_id, [*shared, *((f"OWN-{t}-{i}", 500) for i in range(10))]) for t in range(8)]
    assert in_parallel(jobs) == []
    expected = sum(amount for _, amount in shared) + 8 * 10 * 500
    wallet = consumers[0][0].wallet
    assert -scalar(engine, "SELECT balance_paise FROM ledger_account WHERE id = :i", i=wallet) == expected
    assert scalar(engine, "SELECT count(*) FROM payment") == 10 + 80
    assert scalar(engine, "SELECT count(*) FROM ledger_transaction WHERE kind = 'recharge'") == 90
    audit_ok(engine)


def taken_twice(engine) -> tuple[int, int]:
    """(intervals taken, taken or billed by two batches), from the take masks."""
    with Session(engine) as session:
        return taken_once_and_twice(session, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def test_parallel_overlapping_charges_take_each_interval_once(database):
    engine, world, consumers = database
    meters = [meter for _, meter in consumers]
    days = [day_of_intervals(local(2026, 11, d), lambda i: 50 + i % 7) for d in (3, 4)]
    everything = [iv for day in days for iv in day]
    factory = make_session_factory(engine)

    def charge_job(parts: list[list[tuple]]) -> Callable[[], None]:
        def job() -> None:
            for part in parts:
                batch = [MeterIntervals(m.id, 900, part) for m in meters]
                run_unit_of_work(
                    factory,
                    lambda s, b=batch: charge_intervals(s, b, catalog=world.catalog, policy=ChargingPolicy(), now=NOW),
                )

        return job

    jobs = [
        charge_job([everything]),
        charge_job([everything[i : i + 24] for i in range(0, len(everything), 24)]),
        charge_job([everything[i : i + 50] for i in range(len(everything) - 50, -1, -50)]),
        charge_job([days[1], days[0]]),
    ]
    assert in_parallel(jobs) == []
    assert scalar(engine, "SELECT sum(interval_count) FROM charge_day") == len(everything) * len(meters)
    assert taken_twice(engine) == (len(everything) * len(meters), 0)
    energy = sum(wh for _, wh in everything)
    assert scalar(engine, "SELECT sum(billed_energy_wh) FROM charge_take") == energy * len(meters)
    assert scalar(engine, "SELECT sum(billed_energy_wh) FROM usage_month") == energy * len(meters)
    assert scalar(engine, "SELECT sum(interval_count) FROM usage_day") == len(everything) * len(meters)
    audit_ok(engine)


def test_recharges_reversals_charges_and_fixed_charges_on_one_account(database):
    engine, world, consumers = database
    consumer, meter = consumers[0]
    account_id = consumer.account.id
    factory = make_session_factory(engine)
    early = [(f"EARLY-{i}", 2_000) for i in range(6)]
    recharge_job(engine, account_id, early)()

    def reversals() -> None:
        for ref, _ in early[:3]:
            for _ in range(2):  # the bank notifies twice
                run_unit_of_work(
                    factory,
                    lambda s, r=ref: reverse_recharge(
                        s,
                        utility_id=world.books.utility.id,
                        payment_ref=r,
                        reason="bounced",
                        reversed_at=NOW,
                        actor="bank",
                        now=NOW,
                    ),
                )

    def charges() -> None:
        for day in range(3, 6):
            batch = [MeterIntervals(meter.id, 900, day_of_intervals(local(2026, 11, day), 120))]
            run_unit_of_work(
                factory,
                lambda s, b=batch: charge_intervals(s, b, catalog=world.catalog, policy=ChargingPolicy(), now=NOW),
            )

    def fixed() -> None:
        for day in range(3, 6):
            run_unit_of_work(
                factory,
                lambda s, d=day: charge_daily_fixed(
                    s,
                    utility_id=world.books.utility.id,
                    local_date=local(2026, 11, d).date(),
                    catalog=world.catalog,
                    now=NOW,
                ),
            )

    late = [(f"LATE-{i}", 700) for i in range(8)]
    errors = in_parallel(
        [
            reversals,
            charges,
            fixed,
            recharge_job(engine, account_id, late),
            recharge_job(engine, account_id, late),
            charges,
            fixed,
        ]
    )
    assert [e for e in errors if not isinstance(e, PaymentNotFoundError)] == []
    kinds = dict(
        text_rows(
            engine,
            "SELECT t.kind, sum(p.amount_paise) FROM posting p JOIN ledger_transaction t "
            "ON t.id = p.ledger_transaction_id WHERE p.ledger_account_id = :w GROUP BY t.kind",
            w=consumer.wallet,
        )
    )
    assert -kinds["recharge"] == 6 * 2_000 + 8 * 700
    assert kinds["recharge_reversal"] == 3 * 2_000
    assert scalar(engine, "SELECT count(*) FROM ledger_transaction WHERE kind = 'fixed_charge'") == 3 * 3
    assert scalar(engine, "SELECT sum(interval_count) FROM charge_day") == 3 * 96
    assert taken_twice(engine) == (3 * 96, 0)
    wallet = scalar(engine, "SELECT balance_paise FROM ledger_account WHERE id = :i", i=consumer.wallet)
    assert wallet == sum(kinds.values())
    audit_ok(engine)


def text_rows(engine, sql: str, **params):
    with engine.connect() as connection:
        return connection.execute(text(sql), params).all()


def _process_recharges(url: str, account_id: int, refs: list[tuple[str, int]], start) -> None:
    engine = make_engine(url)
    start.wait()
    try:
        recharge_job(engine, account_id, refs)()
    finally:
        engine.dispose()


def test_parallel_recharges_from_processes(database, postgres_url):
    engine, _, consumers = database
    account_id = consumers[1][0].account.id
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    shared = [(f"P-SHARED-{i}", 300) for i in range(15)]
    processes = [
        context.Process(
            target=_process_recharges, args=(postgres_url, account_id, [*shared, (f"P-OWN-{p}", 1_000)], start)
        )
        for p in range(2)
    ]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(timeout=300)
    assert [process.exitcode for process in processes] == [0, 0]
    wallet = consumers[1][0].wallet
    assert -scalar(engine, "SELECT balance_paise FROM ledger_account WHERE id = :i", i=wallet) == 15 * 300 + 2_000
    assert scalar(engine, "SELECT count(*) FROM payment WHERE account_id = :a", a=account_id) == 17
    audit_ok(engine)
