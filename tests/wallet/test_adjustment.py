"""Operator adjustments: idempotent by reference alone (a retry with a new "now" posts nothing), refused for
another account or amount, bounded, with a reason and an actor; both backends, and a race on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from openprepaid.store import migrate
from openprepaid.store.engine import make_engine
from openprepaid.store.model import AccountStatus
from openprepaid.wallet import ledger
from openprepaid.wallet.adjustment import (
    AdjustmentConflictError,
    InvalidAdjustmentError,
    adjust,
    adjustment_key,
)
from openprepaid.wallet.errors import AccountClosedError, UnknownAccountError
from tests.wallet.test_ledger_world import (
    NOW,
    assert_ledger_invariants,
    make_books,
    make_consumer,
    wallet_balance,
)


def args(consumer, **more):
    return {
        "account_id": consumer.account.id,
        "reason": "meter misread in Oct, ticket 4411",
        "actor": "operator:9",
        "reference": "TICKET-4411",
        "effective_at": NOW,
        "now": NOW,
        **more,
    }


def adjustments(session):
    return session.execute(text("SELECT count(*) FROM ledger_transaction WHERE kind = 'adjustment'")).scalar_one()


def test_a_retry_with_the_same_reference_and_amount_posts_nothing_whatever_its_time(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    first = adjust(db_session, amount_paise=12_345, **args(consumer))
    assert not first.replayed and first.amount_paise == 12_345
    later = NOW + timedelta(minutes=3)  # the CLI retried: a new "now", a new effective time, another actor
    again = adjust(db_session, amount_paise=12_345, **args(consumer, effective_at=later, now=later, actor="cli:b"))
    assert again.replayed
    assert (again.ledger_transaction_id, again.effective_at, again.actor) == (
        first.ledger_transaction_id,
        first.effective_at,
        "operator:9",
    )
    assert wallet_balance(db_session, consumer) == 12_345
    assert adjustments(db_session) == 1
    row = db_session.execute(
        text("SELECT memo, actor, idempotency_key FROM ledger_transaction WHERE id = :i"),
        {"i": first.ledger_transaction_id},
    ).one()
    assert tuple(row) == (
        "meter misread in Oct, ticket 4411",
        "operator:9",
        adjustment_key(books.utility.id, "TICKET-4411"),
    )
    assert_ledger_invariants(db_session)


def test_the_same_reference_with_another_amount_or_account_is_refused(db_session):
    books = make_books(db_session)
    consumer, other = make_consumer(db_session, books), make_consumer(db_session, books)
    adjust(db_session, amount_paise=-5_000, **args(consumer))
    with pytest.raises(AdjustmentConflictError, match="already used for account") as refused:
        adjust(db_session, amount_paise=5_000, **args(consumer))  # the sign is part of the amount
    assert refused.value.existing.amount_paise == -5_000
    with pytest.raises(AdjustmentConflictError):
        adjust(db_session, amount_paise=-5_000, **args(other))
    # References are per utility: the same one in another utility is another adjustment.
    elsewhere = make_consumer(db_session, make_books(db_session))
    assert not adjust(db_session, amount_paise=-5_000, **args(elsewhere)).replayed
    assert (wallet_balance(db_session, consumer), wallet_balance(db_session, other)) == (-5_000, 0)
    assert_ledger_invariants(db_session)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"amount_paise": 0}, InvalidAdjustmentError),
        ({"amount_paise": 10, "reason": " "}, InvalidAdjustmentError),
        ({"amount_paise": 10, "reason": "x" * 201}, InvalidAdjustmentError),
        ({"amount_paise": 10, "actor": ""}, InvalidAdjustmentError),
        ({"amount_paise": 10, "reference": ""}, InvalidAdjustmentError),
        ({"amount_paise": 100_001, "maximum_paise": 100_000}, InvalidAdjustmentError),
        ({"amount_paise": -100_001, "maximum_paise": 100_000}, InvalidAdjustmentError),
        ({"amount_paise": 10, "account_id": 987_654_321}, UnknownAccountError),
    ],
)
def test_bad_adjustments_are_refused_and_post_nothing(db_session, change, error):
    consumer = make_consumer(db_session, make_books(db_session))
    with pytest.raises(error):
        adjust(db_session, **{**args(consumer), **change})
    assert adjustments(db_session) == 0
    assert_ledger_invariants(db_session)


def test_a_closed_account_takes_no_new_adjustment_but_a_retry_is_still_answered(db_session):
    consumer = make_consumer(db_session, make_books(db_session))
    first = adjust(db_session, amount_paise=700, **args(consumer))
    consumer.account.status = AccountStatus.CLOSED
    db_session.flush()
    assert adjust(db_session, amount_paise=700, **args(consumer)).ledger_transaction_id == first.ledger_transaction_id
    with pytest.raises(AccountClosedError):
        adjust(db_session, amount_paise=700, **args(consumer, reference="TICKET-4412"))
    assert_ledger_invariants(db_session)


@pytest.mark.postgres
def test_concurrent_retries_of_one_reference_post_once(postgres_url):
    """Two units of work adjust with the same reference at once (each with its own "now"): one posts, the
    other waits on the key, then reports the first adjustment."""
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            consumer = make_consumer(session, make_books(session))
            session.commit()
        results: list[object] = []
        barrier = threading.Barrier(2)

        def worker(offset: int) -> None:
            with Session(engine) as session:
                barrier.wait()
                moment = NOW + timedelta(seconds=offset)
                try:
                    results.append(
                        adjust(session, amount_paise=2_500, **args(consumer, effective_at=moment, now=moment))
                    )
                    session.commit()
                except Exception as exc:  # the test reports whatever happened
                    results.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(not isinstance(result, Exception) for result in results), results
        assert sorted(result.replayed for result in results) == [False, True]  # type: ignore[attr-defined]
        assert len({result.ledger_transaction_id for result in results}) == 1  # type: ignore[attr-defined]
        with Session(engine, expire_on_commit=False) as session:
            assert adjustments(session) == 1
            assert wallet_balance(session, consumer) == 2_500
            assert ledger.audit(session).ok
    finally:
        engine.dispose()
