"""The double-entry ledger: balanced, append-only, idempotent by key; the audit catches corruption.

Runs on SQLite and the real PostgreSQL (``db_session``); the invariants are checked after each scenario.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from openprepaid.wallet import ledger
from openprepaid.wallet.chart_of_accounts import UtilityLedger
from openprepaid.wallet.ledger import LedgerEntry, LedgerTransactionKind, Leg, Outcome
from tests.wallet.test_ledger_world import NOW, assert_ledger_invariants, make_books, make_consumer, wallet_balance


def recharge_entry(key: str, books, consumer, amount: int, **overrides) -> LedgerEntry:
    fields = {
        "idempotency_key": key,
        "kind": LedgerTransactionKind.RECHARGE,
        "effective_at": NOW,
        "account_id": consumer.account.id,
        "legs": (
            Leg(books.ledgers[UtilityLedger.PAYMENT_CLEARING], amount, "payment"),
            Leg(consumer.wallet, -amount, "wallet"),
        ),
    }
    fields.update(overrides)
    return LedgerEntry(**fields)


def test_posting_moves_both_balances_and_keeps_the_invariants(db_session):
    books, consumer = make_books(db_session), None
    consumer = make_consumer(db_session, books)
    posted = ledger.post(db_session, recharge_entry("t1", books, consumer, 50_000), now=NOW)
    assert posted.outcome is Outcome.CREATED
    assert wallet_balance(db_session, consumer) == 50_000
    assert ledger.balance_paise(db_session, books.ledgers[UtilityLedger.PAYMENT_CLEARING]) == 50_000
    assert_ledger_invariants(db_session)


def test_retry_with_same_content_is_success_without_new_money(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    first = ledger.post(db_session, recharge_entry("t-retry", books, consumer, 10_000), now=NOW)
    # A retry may come later, from another actor, with another memo: still the same transaction.
    again = ledger.post(
        db_session,
        recharge_entry("t-retry", books, consumer, 10_000, actor="gateway", memo="retry"),
        now=NOW + timedelta(minutes=5),
    )
    assert again == ledger.Posted(first.ledger_transaction_id, Outcome.EXISTS)
    assert wallet_balance(db_session, consumer) == 10_000
    assert_ledger_invariants(db_session)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 10_001},
        {"effective_at": NOW + timedelta(seconds=1)},
        {"kind": LedgerTransactionKind.ADJUSTMENT},
        {"value_date": date(2026, 11, 24)},
    ],
)
def test_reused_key_with_other_content_is_refused(db_session, change):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    ledger.post(db_session, recharge_entry("t-conflict", books, consumer, 10_000), now=NOW)
    change = dict(change)
    amount = change.pop("amount", 10_000)
    with pytest.raises(ledger.IdempotencyConflictError):
        ledger.post(db_session, recharge_entry("t-conflict", books, consumer, amount, **change), now=NOW)
    assert wallet_balance(db_session, consumer) == 10_000
    assert_ledger_invariants(db_session)


def test_unbalanced_transaction_is_refused_before_anything_is_written(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    entry = recharge_entry(
        "t-unbalanced",
        books,
        consumer,
        100,
        legs=(
            Leg(books.ledgers[UtilityLedger.PAYMENT_CLEARING], 100),
            Leg(consumer.wallet, -99),
        ),
    )
    with pytest.raises(ledger.UnbalancedLedgerTransactionError, match="sum to 1 paise"):
        ledger.post(db_session, entry, now=NOW)
    count = db_session.execute(text("SELECT count(*) FROM ledger_transaction WHERE idempotency_key = 't-unbalanced'"))
    assert count.scalar_one() == 0
    assert wallet_balance(db_session, consumer) == 0
    assert_ledger_invariants(db_session)


@pytest.mark.parametrize(
    "legs",
    [
        pytest.param(lambda c, w: (Leg(c, 100),), id="one-leg"),
        pytest.param(lambda c, w: (Leg(c, 0), Leg(w, 0)), id="zero-legs"),
        pytest.param(lambda c, w: (Leg(c, 1.5), Leg(w, -1.5)), id="float-amount"),  # type: ignore[arg-type]
        pytest.param(lambda c, w: (Leg(c, True), Leg(w, -1)), id="bool-amount"),  # type: ignore[arg-type]
        pytest.param(lambda c, w: (Leg(c, 10**16), Leg(w, -(10**16))), id="absurd-amount"),
    ],
)
def test_malformed_transactions_are_refused(db_session, legs):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    entry = recharge_entry(
        "t-bad", books, consumer, 1, legs=legs(books.ledgers[UtilityLedger.PAYMENT_CLEARING], consumer.wallet)
    )
    with pytest.raises(ledger.InvalidLedgerTransactionError):
        ledger.post(db_session, entry, now=NOW)
    assert_ledger_invariants(db_session)


def test_naive_time_and_bad_key_are_refused(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    with pytest.raises(ledger.InvalidLedgerTransactionError, match="aware"):
        ledger.post(
            db_session, recharge_entry("t-naive", books, consumer, 1, effective_at=datetime(2026, 1, 1)), now=NOW
        )
    with pytest.raises(ledger.InvalidLedgerTransactionError, match="idempotency key"):
        ledger.post(db_session, recharge_entry("", books, consumer, 1), now=NOW)
    with pytest.raises(ledger.InvalidLedgerTransactionError, match="idempotency key"):
        ledger.post(db_session, recharge_entry("k" * 201, books, consumer, 1), now=NOW)


def test_unknown_ledger_account_is_refused(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    entry = recharge_entry(
        "t-unknown",
        books,
        consumer,
        100,
        legs=(
            Leg(books.ledgers[UtilityLedger.PAYMENT_CLEARING], 100),
            Leg(999_999_999, -100),
        ),
    )
    with pytest.raises(ledger.UnknownLedgerAccountError):
        ledger.post(db_session, entry, now=NOW)
    with pytest.raises(ledger.UnknownLedgerAccountError):
        ledger.balance_paise(db_session, 999_999_999)
    assert_ledger_invariants(db_session)


def test_legs_in_two_utilities_books_are_refused(db_session):
    books, other = make_books(db_session), make_books(db_session)
    consumer = make_consumer(db_session, books)
    entry = recharge_entry(
        "t-two-books",
        books,
        consumer,
        100,
        legs=(
            Leg(other.ledgers[UtilityLedger.PAYMENT_CLEARING], 100),
            Leg(consumer.wallet, -100),
        ),
    )
    with pytest.raises(ledger.InvalidLedgerTransactionError, match="books"):
        ledger.post(db_session, entry, now=NOW)


def test_reversal_negates_once(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    original = ledger.post(db_session, recharge_entry("t-orig", books, consumer, 7_500), now=NOW)
    later = NOW + timedelta(hours=1)
    reversal = ledger.reverse(
        db_session,
        original.ledger_transaction_id,
        idempotency_key="rev-1",
        effective_at=later,
        now=later,
        actor="operator:1",
        memo="bounced",
    )
    assert reversal.outcome is Outcome.CREATED
    assert wallet_balance(db_session, consumer) == 0
    retry = ledger.reverse(
        db_session,
        original.ledger_transaction_id,
        idempotency_key="rev-1",
        effective_at=later,
        now=later,
        actor="operator:1",
    )
    assert retry == ledger.Posted(reversal.ledger_transaction_id, Outcome.EXISTS)
    with pytest.raises(ledger.AlreadyReversedError):
        ledger.reverse(
            db_session,
            original.ledger_transaction_id,
            idempotency_key="rev-2",
            effective_at=later,
            now=later,
            actor="operator:2",
        )
    with pytest.raises(ledger.InvalidLedgerTransactionError, match="itself a reversal"):
        ledger.reverse(
            db_session,
            reversal.ledger_transaction_id,
            idempotency_key="rev-3",
            effective_at=later,
            now=later,
            actor="operator:2",
        )
    with pytest.raises(ledger.LedgerTransactionNotFoundError):
        ledger.reverse(db_session, 999_999_999, idempotency_key="rev-4", effective_at=later, now=later, actor="x")
    assert wallet_balance(db_session, consumer) == 0
    assert_ledger_invariants(db_session)


def test_a_second_reversal_posted_directly_is_stopped_by_the_unique_reverses_id(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    original = ledger.post(db_session, recharge_entry("t-orig2", books, consumer, 500), now=NOW)
    legs = (Leg(books.ledgers[UtilityLedger.PAYMENT_CLEARING], -500), Leg(consumer.wallet, 500))
    entry = recharge_entry("rev-a", books, consumer, 0, legs=legs, reverses_id=original.ledger_transaction_id)
    ledger.post(db_session, entry, now=NOW)
    with pytest.raises(ledger.AlreadyReversedError):
        ledger.post(
            db_session,
            recharge_entry("rev-b", books, consumer, 0, legs=legs, reverses_id=original.ledger_transaction_id),
            now=NOW,
        )
    assert wallet_balance(db_session, consumer) == 0
    assert_ledger_invariants(db_session)


def test_batch_gives_one_result_per_entry(db_session):
    books = make_books(db_session)
    a, b = make_consumer(db_session, books), make_consumer(db_session, books)
    ledger.post(db_session, recharge_entry("b-old", books, a, 100), now=NOW)
    entries = [
        recharge_entry("b-1", books, a, 1_000),
        recharge_entry("b-2", books, b, 2_000),
        recharge_entry("b-1", books, a, 1_000),  # repeated in the batch, same content
        recharge_entry("b-2", books, b, 2_001),  # repeated in the batch, other content
        recharge_entry("b-old", books, a, 100),  # posted before
        recharge_entry("b-old", books, a, 101),  # posted before, other content
        recharge_entry("b-bad", books, a, 1, legs=(Leg(a.wallet, 1), Leg(b.wallet, -2))),
        recharge_entry("b-unknown", books, a, 1, legs=(Leg(a.wallet, 1), Leg(888_888_888, -1))),
    ]
    results = ledger.post_batch(db_session, entries, now=NOW)
    assert [type(result).__name__ for result in results] == [
        "Posted",
        "Posted",
        "Posted",
        "IdempotencyConflictError",
        "Posted",
        "IdempotencyConflictError",
        "UnbalancedLedgerTransactionError",
        "UnknownLedgerAccountError",
    ]
    assert [result.outcome for result in results if isinstance(result, ledger.Posted)] == [
        Outcome.CREATED,
        Outcome.CREATED,
        Outcome.EXISTS,
        Outcome.EXISTS,
    ]
    assert results[0].ledger_transaction_id == results[2].ledger_transaction_id
    assert wallet_balance(db_session, a) == 1_100
    assert wallet_balance(db_session, b) == 2_000
    assert_ledger_invariants(db_session)


def test_audit_finds_a_tampered_balance_and_an_unbalanced_transaction(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    posted = ledger.post(db_session, recharge_entry("t-audit", books, consumer, 1_000), now=NOW)
    assert ledger.audit(db_session).ok
    db_session.execute(
        text("UPDATE ledger_account SET balance_paise = balance_paise - 1 WHERE id = :id"), {"id": consumer.wallet}
    )
    report = ledger.audit(db_session)
    assert not report.ok
    assert report.balance_mismatches == [(consumer.wallet, -1_001, -1_000)]
    db_session.execute(
        text("UPDATE ledger_account SET balance_paise = balance_paise + 1 WHERE id = :id"), {"id": consumer.wallet}
    )
    db_session.execute(
        text("UPDATE posting SET amount_paise = 999 WHERE ledger_transaction_id = :id AND line_no = 1"),
        {"id": posted.ledger_transaction_id},
    )
    report = ledger.audit(db_session)
    assert (posted.ledger_transaction_id, -1) in report.unbalanced
    assert report.postings_total_paise == -1


def test_audit_finds_orphan_postings(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    ledger.post(db_session, recharge_entry("t-orphan", books, consumer, 1_000), now=NOW)
    assert ledger.audit(db_session).orphan_postings == []
    db_session.execute(
        text(
            "INSERT INTO posting (ledger_transaction_id, line_no, ledger_account_id, amount_paise, component) "
            "VALUES (999999999, 1, :a, 5, ''), (999999999, 2, :a, -5, '')"
        ),
        {"a": consumer.wallet},
    )
    report = ledger.audit(db_session)
    assert report.orphan_postings == [(999999999, 1), (999999999, 2)]
    assert not report.ok
