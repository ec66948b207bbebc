"""Recharge: exactly once per payment reference, policy limits, arrears recovery, reversal.

Runs on SQLite and the real PostgreSQL; the ledger invariants are checked after each scenario.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from openprepaid.store.model import AccountStatus, PaymentStatus
from openprepaid.wallet import ledger
from openprepaid.wallet.account_books import record_opening_arrears, record_security_deposit
from openprepaid.wallet.chart_of_accounts import ConsumerLedger, UtilityLedger
from openprepaid.wallet.errors import AccountClosedError, UnknownAccountError
from openprepaid.wallet.recharge import (
    InvalidRechargeError,
    PaymentNotFoundError,
    PaymentRefConflictError,
    RechargePolicy,
    RechargeRequest,
    arrears_recovery_paise,
    receipt_of,
    recharge,
    reverse_recharge,
)
from tests.wallet.test_ledger_world import NOW, assert_ledger_invariants, make_books, make_consumer, wallet_balance

POLICY = RechargePolicy()


def request(consumer, ref: str, amount: int, **overrides) -> RechargeRequest:
    fields = {
        "account_id": consumer.account.id,
        "payment_ref": ref,
        "amount_paise": amount,
        "channel": "gateway:test",
        "received_at": NOW,
        "actor": "gateway",
    }
    fields.update(overrides)
    return RechargeRequest(**fields)


def arrears_owed(session, consumer) -> int:
    return ledger.balance_paise(session, consumer.arrears)


def count_transactions(session, key_prefix: str) -> int:
    statement = text("SELECT count(*) FROM ledger_transaction WHERE idempotency_key LIKE :p")
    return session.execute(statement, {"p": key_prefix + "%"}).scalar_one()


def test_recharge_credits_the_wallet_and_returns_a_receipt(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    receipt = recharge(db_session, request(consumer, "PAY-1", 50_000), policy=POLICY, now=NOW)
    assert (receipt.amount_paise, receipt.wallet_credit_paise, receipt.arrears_recovered_paise) == (50_000, 50_000, 0)
    assert receipt.wallet_balance_after_paise == 50_000
    assert receipt.status is PaymentStatus.CREDITED and not receipt.replayed
    assert receipt.received_at == NOW
    assert wallet_balance(db_session, consumer) == 50_000
    assert_ledger_invariants(db_session)


def test_retry_of_the_same_payment_credits_nothing_more(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    first = recharge(db_session, request(consumer, "PAY-R", 20_000), policy=POLICY, now=NOW)
    recharge(db_session, request(consumer, "PAY-S", 5_000), policy=POLICY, now=NOW)
    again = recharge(db_session, request(consumer, "PAY-R", 20_000), policy=POLICY, now=NOW + timedelta(hours=1))
    assert again.replayed and again.payment_id == first.payment_id
    assert again.wallet_balance_after_paise == 20_000  # the receipt as first issued
    assert wallet_balance(db_session, consumer) == 25_000
    assert count_transactions(db_session, f"recharge:{books.utility.id}:PAY-R") == 1
    assert_ledger_invariants(db_session)


@pytest.mark.parametrize("other", ["amount", "account"])
def test_reused_reference_with_other_amount_or_account_is_refused(db_session, other):
    books = make_books(db_session)
    consumer, neighbour = make_consumer(db_session, books), make_consumer(db_session, books)
    recharge(db_session, request(consumer, "PAY-X", 10_000), policy=POLICY, now=NOW)
    retry = request(consumer, "PAY-X", 10_001) if other == "amount" else request(neighbour, "PAY-X", 10_000)
    with pytest.raises(PaymentRefConflictError):
        recharge(db_session, retry, policy=POLICY, now=NOW)
    assert wallet_balance(db_session, consumer) == 10_000
    assert wallet_balance(db_session, neighbour) == 0
    assert_ledger_invariants(db_session)


@pytest.mark.parametrize(
    ("amount", "overrides", "message"),
    [
        (99, {}, "below the minimum"),
        (100_000_001, {}, "above the maximum"),
        (10_050, {"policy": RechargePolicy(multiple_of_paise=100)}, "not a multiple"),
        (100.0, {}, "integer paise"),
        (Decimal(100), {}, "integer paise"),
        (1_000, {"payment_ref": ""}, "payment reference"),
        (1_000, {"payment_ref": "R" * 101}, "payment reference"),
        (1_000, {"payment_ref": "bad\nref"}, "payment reference"),
        (1_000, {"received_at": datetime(2026, 1, 1)}, "aware"),
    ],
)
def test_bad_recharges_are_refused_and_leave_no_trace(db_session, amount, overrides, message):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    overrides = dict(overrides)
    policy = overrides.pop("policy", POLICY)
    with pytest.raises(InvalidRechargeError, match=message):
        recharge(
            db_session,
            request(consumer, overrides.pop("payment_ref", "PAY-BAD"), amount, **overrides),
            policy=policy,
            now=NOW,
        )
    assert count_transactions(db_session, f"recharge:{books.utility.id}:") == 0
    assert wallet_balance(db_session, consumer) == 0
    assert_ledger_invariants(db_session)


def test_policy_must_be_consistent():
    with pytest.raises(ValueError, match="inconsistent"):
        RechargePolicy(minimum_paise=0)
    with pytest.raises(ValueError, match="inconsistent"):
        RechargePolicy(minimum_paise=500, maximum_paise=100)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        RechargePolicy(arrears_recovery_percent=Decimal(101))


def test_unknown_and_closed_accounts_are_refused(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    recharge(db_session, request(consumer, "PAY-BEFORE-CLOSE", 1_000), policy=POLICY, now=NOW)
    with pytest.raises(UnknownAccountError):
        recharge(db_session, request(consumer, "PAY-U", 1_000, account_id=999_999_999), policy=POLICY, now=NOW)
    consumer.account.status = AccountStatus.CLOSED
    db_session.flush()
    with pytest.raises(AccountClosedError):
        recharge(db_session, request(consumer, "PAY-C", 1_000), policy=POLICY, now=NOW)
    # A retry of a payment credited before the closure still gets its receipt.
    assert recharge(db_session, request(consumer, "PAY-BEFORE-CLOSE", 1_000), policy=POLICY, now=NOW).replayed


@pytest.mark.parametrize(
    ("amount", "percent", "owed", "expected"),
    [
        (1_005, Decimal(10), 10_000, 101),  # 100.5 paise rounds half-up
        (1_004, Decimal(10), 10_000, 100),  # 100.4 rounds down
        (50_000, Decimal(20), 6_000, 6_000),  # capped at what is owed
        (50_000, Decimal(25), 0, 0),  # nothing owed
        (50_000, Decimal(0), 6_000, 0),  # default: no recovery
        (333, Decimal("12.5"), 10_000, 42),  # 41.625 -> 42
    ],
)
def test_arrears_recovery_amount(amount, percent, owed, expected):
    assert arrears_recovery_paise(amount, percent, owed) == expected


def test_arrears_recovery_takes_its_share_until_the_arrears_are_paid(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    record_opening_arrears(
        db_session, account_id=consumer.account.id, amount_paise=15_000, effective_at=NOW, actor="migration", now=NOW
    )
    policy = RechargePolicy(arrears_recovery_percent=Decimal(20))
    first = recharge(db_session, request(consumer, "PAY-A1", 50_000), policy=policy, now=NOW)
    assert (first.wallet_credit_paise, first.arrears_recovered_paise) == (40_000, 10_000)
    second = recharge(db_session, request(consumer, "PAY-A2", 50_000), policy=policy, now=NOW)
    assert (second.wallet_credit_paise, second.arrears_recovered_paise) == (45_000, 5_000)
    third = recharge(db_session, request(consumer, "PAY-A3", 50_000), policy=policy, now=NOW)
    assert third.arrears_recovered_paise == 0
    assert arrears_owed(db_session, consumer) == 0
    assert wallet_balance(db_session, consumer) == 135_000
    assert third.wallet_balance_after_paise == 135_000
    assert_ledger_invariants(db_session)


def test_reversal_debits_the_wallet_back_and_restores_arrears(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    record_opening_arrears(
        db_session, account_id=consumer.account.id, amount_paise=5_000, effective_at=NOW, actor="migration", now=NOW
    )
    policy = RechargePolicy(arrears_recovery_percent=Decimal(10))
    recharge(db_session, request(consumer, "PAY-B", 30_000), policy=policy, now=NOW)
    assert (wallet_balance(db_session, consumer), arrears_owed(db_session, consumer)) == (27_000, 2_000)
    later = NOW + timedelta(days=2)
    reversed_receipt = reverse_recharge(
        db_session,
        utility_id=books.utility.id,
        payment_ref="PAY-B",
        reason="cheque bounced",
        reversed_at=later,
        actor="operator:7",
        now=later,
    )
    assert reversed_receipt.status is PaymentStatus.REVERSED and reversed_receipt.reversed_at == later
    assert (wallet_balance(db_session, consumer), arrears_owed(db_session, consumer)) == (0, 5_000)
    again = reverse_recharge(
        db_session,
        utility_id=books.utility.id,
        payment_ref="PAY-B",
        reason="retry",
        reversed_at=later,
        actor="operator:7",
        now=later,
    )
    assert again.replayed and again.reversal_ledger_transaction_id == reversed_receipt.reversal_ledger_transaction_id
    # The gateway retrying the original payment does not credit it again.
    retry = recharge(db_session, request(consumer, "PAY-B", 30_000), policy=policy, now=later)
    assert retry.replayed and retry.status is PaymentStatus.REVERSED
    assert wallet_balance(db_session, consumer) == 0
    assert receipt_of(db_session, utility_id=books.utility.id, payment_ref="PAY-B").status is PaymentStatus.REVERSED
    assert_ledger_invariants(db_session)


def test_reversal_after_spending_leaves_the_wallet_negative(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    recharge(db_session, request(consumer, "PAY-SPENT", 10_000), policy=POLICY, now=NOW)
    spend = ledger.LedgerEntry(
        idempotency_key="spend-1",
        kind=ledger.LedgerTransactionKind.ADJUSTMENT,
        effective_at=NOW,
        account_id=consumer.account.id,
        legs=(ledger.Leg(consumer.wallet, 8_000), ledger.Leg(books.ledgers[UtilityLedger.ADJUSTMENTS], -8_000)),
    )
    ledger.post(db_session, spend, now=NOW)
    reverse_recharge(
        db_session,
        utility_id=books.utility.id,
        payment_ref="PAY-SPENT",
        reason="chargeback",
        reversed_at=NOW,
        actor="gateway",
        now=NOW,
    )
    assert wallet_balance(db_session, consumer) == -8_000
    assert_ledger_invariants(db_session)


def test_reversal_of_an_unknown_payment_is_refused(db_session):
    books = make_books(db_session)
    with pytest.raises(PaymentNotFoundError):
        reverse_recharge(
            db_session, utility_id=books.utility.id, payment_ref="NOPE", reason="x", reversed_at=NOW, actor="x", now=NOW
        )


def test_security_deposit_is_held_apart_from_the_wallet_and_recorded_once(db_session):
    books = make_books(db_session)
    consumer = make_consumer(db_session, books)
    for _ in range(2):
        record_security_deposit(
            db_session,
            account_id=consumer.account.id,
            payment_ref="DEP-1",
            amount_paise=200_000,
            received_at=NOW,
            actor="console",
            now=NOW,
        )
    assert ledger.balance_paise(db_session, consumer.ledgers[ConsumerLedger.SECURITY_DEPOSIT]) == -200_000
    assert wallet_balance(db_session, consumer) == 0
    assert_ledger_invariants(db_session)
